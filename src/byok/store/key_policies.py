"""Per-tenant key policies: outage grace, push-revocation secret, key-loss policy; event ids.

==================  ==================================================================
table               holds
==================  ==================================================================
tenant_policies     one row per tenant that set anything (absent: every default):
                    ``outage_grace_s`` (0 = fail closed), the SHA-256 of the tenant's
                    key-event secret, the key-loss webhook and its signing secret,
                    notification interval, ``keep`` or ``shred`` after ``shred_after_s``,
                    the key-loss progress (since when, last notified), the tenant's
                    ``scope_rules`` (document-name prefix → scope) and ``period_unit``,
                    and the uses its key policy ``refused`` (scope, period or reason)
key_events          (tenant, event id) of every accepted key event: a replayed event id
                    is recognised and causes nothing
==================  ==================================================================

The key-event secret is a high-entropy random string (like an API token), so only its hash
is stored: a stolen database cannot forge events. The webhook signing secret must be kept
(byok signs with it); it protects only notifications, never keys.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, PrimaryKeyConstraint, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from byok.core.context import DEFAULT_SCOPE, PERIOD_UNITS
from byok.core.key_use import check_scope
from byok.errors import Conflict, InvalidInput
from byok.store.database import Store
from byok.store.schema import TENANT_ID, Base, UtcDateTime

__all__ = [
    "KeyEventRow",
    "KeyLossAction",
    "KeyPolicyRepository",
    "TenantPolicy",
    "TenantPolicyRow",
]

_SECRET_BYTES = 32
_URL_MAX = 2048
_WEBHOOK_SCHEMES = ("https://", "http://127.0.0.1:", "http://localhost:")


class KeyLossAction(enum.StrEnum):
    """What happens to a tenant's wrapped keys once its key stayed unavailable long enough."""

    KEEP = "keep"  # default: the customer can restore access and every document returns
    SHRED = "shred"  # crypto-shred: the wrapped TKs are destroyed; documents are gone


class TenantPolicyRow(Base):
    """A tenant's key policies (see the module docstring)."""

    __tablename__ = "tenant_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    outage_grace_s: Mapped[float] = mapped_column(Float, default=0.0)
    event_secret_hash: Mapped[str | None] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(String(_URL_MAX))
    webhook_secret: Mapped[str | None] = mapped_column(String(64))
    notify_every_s: Mapped[float | None] = mapped_column(Float)
    on_key_loss: Mapped[str] = mapped_column(String(8), default=KeyLossAction.KEEP)
    shred_after_s: Mapped[float | None] = mapped_column(Float)
    unavailable_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    scope_rules: Mapped[list[list[str]] | None] = mapped_column(JSON, nullable=True)
    period_unit: Mapped[str | None] = mapped_column(String(8), nullable=True)
    refused: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class KeyEventRow(Base):
    """An accepted key event (idempotency: the same id never acts twice)."""

    __tablename__ = "key_events"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "event_id"),)

    tenant_id: Mapped[str] = mapped_column(TENANT_ID)
    event_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


@dataclass(frozen=True)
class TenantPolicy:
    """A tenant's key policies; defaults when the tenant set nothing."""

    tenant: str
    outage_grace_s: float = 0.0
    event_secret_hash: str | None = field(default=None, repr=False)
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    notify_every_s: float | None = None
    on_key_loss: KeyLossAction = KeyLossAction.KEEP
    shred_after_s: float | None = None
    unavailable_since: datetime | None = None
    last_notified_at: datetime | None = None
    #: ``(prefix, scope)`` pairs: a document belongs to the scope of its longest matching
    #: prefix, else to ``default`` (docs/SECURITY.md#customer-levers).
    scope_rules: tuple[tuple[str, str], ...] = ()
    #: How the tenant's keys are cut in time: ``month``, ``day`` or ``hour`` (UTC).
    period_unit: str = "month"
    #: Uses the customer's key policy refused: ``{"dimension", "value", "since"}`` each.
    refused: tuple[dict[str, str], ...] = ()

    def scope_for(self, name: str) -> str:
        """The scope of the document ``name``: its longest matching prefix's, else default."""
        best, scope = -1, DEFAULT_SCOPE
        for prefix, rule_scope in self.scope_rules:
            if len(prefix) > best and name.startswith(prefix):
                best, scope = len(prefix), rule_scope
        return scope

    def event_secret_matches(self, secret: str) -> bool:
        """Whether ``secret`` is the tenant's key-event secret (constant time)."""
        if self.event_secret_hash is None:
            return False
        digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, self.event_secret_hash)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view without secrets (only whether they are set)."""
        return {
            "tenant": self.tenant,
            "outage_grace_s": self.outage_grace_s,
            "push_revocation": self.event_secret_hash is not None,
            "webhook_url": self.webhook_url,
            "notify_every_s": self.notify_every_s,
            "on_key_loss": str(self.on_key_loss),
            "shred_after_s": self.shred_after_s,
            "unavailable_since": self.unavailable_since,
            "last_notified_at": self.last_notified_at,
            "scope_rules": [{"prefix": p, "scope": s} for p, s in self.scope_rules],
            "period_unit": self.period_unit,
            "refused": [dict(entry) for entry in self.refused],
        }


_FIELDS = (
    "outage_grace_s", "event_secret_hash", "webhook_url", "webhook_secret", "notify_every_s",
    "on_key_loss", "shred_after_s", "unavailable_since", "last_notified_at", "scope_rules",
    "period_unit", "refused",
)  # fmt: skip
_MAX_SCOPE_RULES = 64


class KeyPolicyRepository:
    """Reads and writes :class:`TenantPolicy` rows and accepted key-event ids.

    Args:
        store: the metadata store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, tenant: str) -> TenantPolicy:
        """The tenant's policy (every default when it set nothing)."""
        with self.store.read() as session:
            row = session.get(TenantPolicyRow, tenant)
            return _policy(tenant, row)

    def update(self, tenant: str, **changes: Any) -> TenantPolicy:
        """Change some fields (names of :class:`TenantPolicy`); returns the new policy.

        Raises:
            InvalidInput: an unknown field or a bad value.
            Conflict: no such tenant (foreign key).
        """
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise InvalidInput(sorted(unknown)[0], "is not a tenant policy field")
        policy = replace(self.get(tenant), **changes)
        _check(policy)
        with self.store.write() as session:
            row = session.get(TenantPolicyRow, tenant, with_for_update=True)
            if row is None:
                row = TenantPolicyRow(tenant_id=tenant)
                session.add(row)
            for name in _FIELDS:
                setattr(row, name, _to_row(name, getattr(policy, name)))
            row.updated_at = self.store.clock()
        return policy

    def add_refused(self, tenant: str, entries: list[dict[str, str]]) -> bool:
        """Append refused uses not listed yet (by dimension and value), under the row's lock
        (concurrent refusals on several nodes all land).

        Returns:
            True when something was added.

        Raises:
            Conflict: no such tenant (foreign key).
        """
        with self.store.write() as session:
            row = session.get(TenantPolicyRow, tenant, with_for_update=True)
            if row is None:
                row = TenantPolicyRow(tenant_id=tenant, outage_grace_s=0.0,
                                      on_key_loss=KeyLossAction.KEEP)  # fmt: skip
                session.add(row)
            listed = list(row.refused or [])
            known = {(e["dimension"], e["value"]) for e in listed}
            new = [e for e in entries if (e["dimension"], e["value"]) not in known]
            if new:
                row.refused = [*listed, *new]
                row.updated_at = self.store.clock()
        return bool(new)

    def new_event_secret(self, tenant: str) -> str:
        """Make (or replace) the tenant's key-event secret; return it (shown once)."""
        secret = "byokev_" + secrets.token_urlsafe(_SECRET_BYTES)
        self.update(tenant, event_secret_hash=hashlib.sha256(secret.encode()).hexdigest())
        return secret

    def accept_event(self, tenant: str, event_id: str) -> bool:
        """Record ``event_id`` for ``tenant``; False when it was accepted before (a replay)."""
        try:
            with self.store.write() as session:
                if session.get(KeyEventRow, (tenant, event_id)) is not None:
                    return False
                session.add(
                    KeyEventRow(tenant_id=tenant, event_id=event_id, received_at=self.store.clock())
                )
        except Conflict:  # a concurrent delivery of the same event won
            return False
        return True

    def prune_events(self, before: datetime) -> int:
        """Forget event ids received before ``before`` (outside every replay window)."""
        with self.store.write() as session:
            result = session.execute(delete(KeyEventRow).where(KeyEventRow.received_at < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def with_webhook_or_loss(self) -> list[TenantPolicy]:
        """Policies that have a key-loss webhook, a shred period or a loss in progress."""
        statement = select(TenantPolicyRow).where(
            (TenantPolicyRow.webhook_url.is_not(None))
            | (TenantPolicyRow.shred_after_s.is_not(None))
            | (TenantPolicyRow.unavailable_since.is_not(None))
        )
        with self.store.read() as session:
            return [_policy(row.tenant_id, row) for row in session.scalars(statement)]


def _policy(tenant: str, row: TenantPolicyRow | None) -> TenantPolicy:
    if row is None:
        return TenantPolicy(tenant)
    values = {name: getattr(row, name) for name in _FIELDS}
    values["on_key_loss"] = KeyLossAction(values["on_key_loss"])
    values["scope_rules"] = tuple(tuple(rule) for rule in values["scope_rules"] or ())
    values["period_unit"] = values["period_unit"] or "month"
    values["refused"] = tuple(dict(entry) for entry in values["refused"] or ())
    return TenantPolicy(tenant, **values)


def _to_row(name: str, value: Any) -> Any:
    if name == "scope_rules":
        return [list(rule) for rule in value] or None
    if name == "refused":
        return [dict(entry) for entry in value] or None
    if name == "period_unit":
        return None if value == "month" else value
    return value


def _check(policy: TenantPolicy) -> None:
    if not 0 <= policy.outage_grace_s <= 3600:
        raise InvalidInput("outage_grace_s", "must be 0 to 3600 seconds (and at most the bound)")
    if policy.notify_every_s is not None and policy.notify_every_s < 60:
        raise InvalidInput("notify_every_s", "must be at least 60 seconds")
    if policy.shred_after_s is not None and policy.shred_after_s < 3600:
        raise InvalidInput("shred_after_s", "must be at least 3600 seconds (one hour)")
    if policy.webhook_url is not None and not policy.webhook_url.startswith(_WEBHOOK_SCHEMES):
        raise InvalidInput("webhook_url", "must be an https:// URL (http:// only on loopback)")
    if policy.on_key_loss == KeyLossAction.SHRED and policy.shred_after_s is None:
        raise InvalidInput("shred_after_s", "is required when on_key_loss is shred")
    if policy.period_unit not in PERIOD_UNITS:
        raise InvalidInput("period_unit", f"must be one of {', '.join(PERIOD_UNITS)}")
    if len(policy.scope_rules) > _MAX_SCOPE_RULES:
        raise InvalidInput("scope_rules", f"at most {_MAX_SCOPE_RULES} rules")
    prefixes = [prefix for prefix, _ in policy.scope_rules]
    if len(set(prefixes)) != len(prefixes):
        raise InvalidInput("scope_rules", "names a prefix twice", fix="Give each prefix once.")
    for prefix, scope in policy.scope_rules:
        if not isinstance(prefix, str) or not 1 <= len(prefix) <= 1024:
            raise InvalidInput("scope_rules", "a prefix must be 1-1,024 characters")
        check_scope(scope, "scope_rules")
