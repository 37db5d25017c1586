"""API tokens: bearer secrets scoped to one tenant and one role, stored only as hashes.

A token is ``byok_<token id>_<secret>``: the token id (public; it names the token in lists,
revocation and audit) and 32 random bytes (256 bits, URL-safe base64). The database keeps
the SHA-256 of the whole token, never the token: a stolen database grants nothing. A
high-entropy random secret needs no slow password hash; SHA-256 is one-way for it.

Authentication looks the row up by the token id, then compares hashes with
:func:`hmac.compare_digest`, so the time taken never depends on how much of a guessed
secret was right (the database index is only ever searched by the public id).

Roles (:class:`Role`):

==============  ========  ===================================================================
role            scope     may
==============  ========  ===================================================================
operator        vendor    create and list tenants, read tenant state, key monitor, metrics,
                          mint tokens
tenant-admin    1 tenant  key configuration, verification, activation, audit export,
                          documents, mint writer/reader tokens of its tenant
writer          1 tenant  put, delete, get, head, list documents
reader          1 tenant  get, head, list documents
==============  ========  ===================================================================
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from byok.core.tenant_config import validate_tenant_id
from byok.errors import InvalidInput, NotFound, StateError
from byok.store.database import Store
from byok.store.schema import Base, TenantRow, TenantState, UtcDateTime
from byok.store.signals import SignalKind

__all__ = [
    "TOKEN_PREFIX",
    "ApiTokenRow",
    "MintedToken",
    "Role",
    "TokenGrant",
    "TokenRepository",
    "hash_token",
    "mint_token",
    "revoke_tenant_tokens",
    "token_id_of",
]

TOKEN_PREFIX = "byok_"  # noqa: S105 - the public prefix, not a secret
TOKEN_ID = String(32)
TOKEN_HASH = String(64)
_SECRET_BYTES = 32
_LABEL_MAX = 256


class Role(enum.StrEnum):
    """What a token may do (see the module docstring's table)."""

    OPERATOR = "operator"
    TENANT_ADMIN = "tenant-admin"
    WRITER = "writer"
    READER = "reader"


_ROLES_SQL = "role IN ('operator', 'tenant-admin', 'writer', 'reader')"


class ApiTokenRow(Base):
    """One API token: its public id, the SHA-256 of the token, tenant and role."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(_ROLES_SQL, name="role"),
        # A vendor-wide operator token has no tenant; every other role has exactly one.
        CheckConstraint(
            "(role = 'operator' AND tenant_id IS NULL) "
            "OR (role <> 'operator' AND tenant_id IS NOT NULL)",
            name="scope",
        ),
    )

    id: Mapped[str] = mapped_column(TOKEN_ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(TOKEN_HASH, unique=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(_LABEL_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class TokenGrant:
    """What an authenticated token may do: its id, role and tenant (None: vendor-wide)."""

    token_id: str
    role: Role
    tenant: str | None
    label: str = ""
    created_at: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True)
class MintedToken:
    """A new token. ``token`` is shown once and stored nowhere (only its hash is)."""

    grant: TokenGrant
    token: str = field(repr=False)


def hash_token(token: str) -> str:
    """Return the SHA-256 (hex) of ``token`` as stored in the database."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id_of(token: str) -> str | None:
    """The public token id of a well-formed token, else None (nothing is authenticated)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    token_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not secret or not 1 <= len(token_id) <= 32 or not token_id.isalnum():
        return None
    return token_id


def _grant(row: ApiTokenRow) -> TokenGrant:
    return TokenGrant(
        row.id, Role(row.role), row.tenant_id, row.label, row.created_at, row.revoked_at is not None
    )


class TokenRepository:
    """Mint, authenticate, list and revoke API tokens.

    Args:
        store: the metadata store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def mint(self, role: Role | str, *, tenant: str | None = None, label: str = "") -> MintedToken:
        """Create a token for ``role`` (scoped to ``tenant`` unless operator).

        Returns:
            The :class:`MintedToken`; its ``token`` is not stored and cannot be shown again.

        Raises:
            InvalidInput: an unknown role, a tenant given for an operator token or missing for
                any other role, a malformed tenant id or an over-long label.
            NotFound: no such tenant.
            StateError: the tenant is offboarded.
        """
        chosen = _role(role)
        _check_scope(chosen, tenant)
        if len(label) > _LABEL_MAX:
            raise InvalidInput("label", f"must be at most {_LABEL_MAX} characters")
        token_id = secrets.token_hex(8)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
        now = self.store.clock()
        with self.store.write() as session:
            row = None if tenant is None else session.get(TenantRow, tenant)
            if tenant is not None and row is None:
                raise NotFound("no such tenant", tenant=tenant, operation="token:create")
            if row is not None and row.state == TenantState.OFFBOARDED:
                raise StateError("the tenant is offboarded: it gets no new tokens",
                                 tenant=tenant, operation="token:create")  # fmt: skip
            session.add(ApiTokenRow(
                id=token_id, token_hash=hash_token(token), tenant_id=tenant, role=chosen,
                label=label, created_at=now, revoked_at=None,
            ))  # fmt: skip
        return MintedToken(TokenGrant(token_id, chosen, tenant, label, now), token)

    def authenticate(self, token: str) -> TokenGrant | None:
        """Return the grant of a valid, unrevoked ``token``; None for anything else.

        Raises:
            StorageError: the database cannot be read.
        """
        token_id = token_id_of(token)
        if token_id is None:
            return None
        with self.store.read() as session:
            row = session.get(ApiTokenRow, token_id)
        presented = hash_token(token)
        stored = row.token_hash if row is not None else hash_token("")
        if not hmac.compare_digest(presented, stored) or row is None:
            return None
        if row.revoked_at is not None:
            return None
        return _grant(row)

    def revoke(self, token_id: str, *, tenant: str | None = None) -> TokenGrant:
        """Revoke a token (idempotent). With ``tenant``, only a token of that tenant.

        The revocation and its ``token-revoked`` cluster signal commit together, so every
        server process stops accepting the token as soon as the signal reaches it.

        Returns:
            The token's grant, marked revoked.

        Raises:
            NotFound: no such token (for that tenant).
        """
        with self.store.write() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None or (tenant is not None and row.tenant_id != tenant):
                raise NotFound("no such token", tenant=tenant, operation="token:revoke")
            if row.revoked_at is None:
                row.revoked_at = self.store.clock()
                # Same transaction: every server process drops its cached grant on commit.
                self.store.signals.publish(session, SignalKind.TOKEN_REVOKED,
                                           tenant=row.tenant_id, subject=row.id)  # fmt: skip
            return _grant(row)

    def list(self, *, tenant: str | None = None) -> Sequence[TokenGrant]:
        """Every token (or one tenant's), oldest first; never the secrets."""
        query = select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id)
        if tenant is not None:
            query = query.where(ApiTokenRow.tenant_id == tenant)
        with self.store.read() as session:
            return [_grant(row) for row in session.scalars(query)]


def revoke_tenant_tokens(session: Session, store: Store, tenant: str) -> int:
    """Revoke every live token of ``tenant`` in the caller's transaction (offboarding).

    One ``tenant-offboarded`` signal (published by the caller's change) makes every process
    drop the tenant's cached grants; each revoked token also gets its own ``token-revoked``.

    Returns:
        How many tokens were revoked.
    """
    now = store.clock()
    revoked = 0
    for row in session.scalars(
        select(ApiTokenRow).where(ApiTokenRow.tenant_id == tenant, ApiTokenRow.revoked_at.is_(None))
    ):
        row.revoked_at = now
        store.signals.publish(session, SignalKind.TOKEN_REVOKED, tenant=tenant, subject=row.id)
        revoked += 1
    return revoked


def mint_token(
    store: Store, role: Role | str, *, tenant: str | None = None, label: str = ""
) -> MintedToken:
    """Mint one token (what ``byok token create`` calls). See :meth:`TokenRepository.mint`.

    Returns:
        The :class:`MintedToken` (print ``.token`` once).

    Raises:
        InvalidInput, NotFound: as :meth:`TokenRepository.mint`.
    """
    return TokenRepository(store).mint(role, tenant=tenant, label=label)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(
            "role", f"{role!r:.40} is not a role", fix=f"Use one of {allowed}."
        ) from None


def _check_scope(role: Role, tenant: str | None) -> None:
    if role == Role.OPERATOR and tenant is not None:
        raise InvalidInput("tenant", "an operator token is vendor-wide: give no tenant")
    if role != Role.OPERATOR:
        if tenant is None:
            raise InvalidInput("tenant", f"a {role} token needs a tenant")
        validate_tenant_id(tenant)
