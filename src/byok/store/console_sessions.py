"""Web-console sessions: a random cookie secret exchanged once for an API token.

Signing in to the console (``byok.console``) presents a tenant-admin or operator token once;
byok stores a **session** row and sets a cookie holding only the session's random secret. The
row keeps the SHA-256 of that secret (a stolen database opens no session) and the id of the
token that signed in, never the token. Every request resolves the cookie again here, joined
with the token's row: revoking the token, signing out or the session's expiry end it at once,
on every server that shares the database.

Security notes:

* The secret is 32 random bytes (256 bits); a plain SHA-256 is one-way for it.
* A session is looked up by its hash only (the hash is the primary key), so no time
  difference depends on how much of a guessed secret was right.
* Sign-out deletes the row: a copied cookie is useless afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from byok.store.database import Store
from byok.store.schema import Base, UtcDateTime
from byok.store.tokens import ApiTokenRow, Role, TokenGrant

__all__ = ["ConsoleSessionRow", "ConsoleSessions", "OpenedSession"]

_SECRET_BYTES = 32
_SECRET_MAX = 128


class ConsoleSessionRow(Base):
    """One console session: the hash of its cookie secret, the token behind it, its expiry."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


@dataclass(frozen=True)
class OpenedSession:
    """A new session; ``secret`` goes in the cookie and is stored nowhere else."""

    grant: TokenGrant
    secret: str = ""

    def __repr__(self) -> str:
        return f"OpenedSession(grant={self.grant!r})"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class ConsoleSessions:
    """Open, resolve and close console sessions.

    Args:
        store: the metadata store.
        lifetime: how long a session lasts from sign-in (absolute; no renewal).
    """

    def __init__(self, store: Store, *, lifetime: timedelta = timedelta(hours=8)) -> None:
        self.store = store
        self.lifetime = lifetime

    def open(self, grant: TokenGrant) -> OpenedSession:
        """Start a session for an authenticated ``grant``; expired sessions are swept too.

        Returns:
            The :class:`OpenedSession` (put ``secret`` in the cookie).

        Raises:
            StorageError: the session could not be stored.
        """
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        now = self.store.clock()
        with self.store.write() as session:
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= now))
            session.add(ConsoleSessionRow(
                id=_digest(secret), token_id=grant.token_id, created_at=now,
                expires_at=now + self.lifetime,
            ))  # fmt: skip
        return OpenedSession(grant, secret)

    def resolve(self, secret: str | None) -> TokenGrant | None:
        """The grant of a live session: unexpired, and its token not revoked.

        Returns:
            The token's :class:`TokenGrant`, or None for anything else (no cookie, unknown,
            expired, revoked).

        Raises:
            StorageError: the database cannot be read.
        """
        if not secret or len(secret) > _SECRET_MAX:
            return None
        query = (
            select(ApiTokenRow, ConsoleSessionRow.expires_at)
            .join(ConsoleSessionRow, ConsoleSessionRow.token_id == ApiTokenRow.id)
            .where(ConsoleSessionRow.id == _digest(secret))
        )
        with self.store.read() as session:
            found = session.execute(query).one_or_none()
        if found is None:
            return None
        row, expires_at = found
        if row.revoked_at is not None or expires_at <= self.store.clock():
            return None
        return TokenGrant(row.id, Role(row.role), row.tenant_id, row.label, row.created_at)

    def close(self, secret: str | None) -> None:
        """End the session (idempotent): its cookie opens nothing afterwards."""
        if not secret or len(secret) > _SECRET_MAX:
            return
        with self.store.write() as session:
            session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.id == _digest(secret))
            )
