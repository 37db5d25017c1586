"""Named, expiring leases: with several service processes, one holder runs a periodic job.

The key monitor (DESIGN.md, "Revocation") takes the lease ``key-monitor`` before each sweep
and renews it; if the holder dies, the lease expires and another process takes over. A row
in the store works the same on SQLite and PostgreSQL (an advisory lock would need a
connection held open for the holder's whole life).
"""

from __future__ import annotations

from datetime import timedelta

from byok.errors import Conflict, InvalidInput
from byok.store.database import Store
from byok.store.schema import LeaseRow

__all__ = ["LeaseRepository"]


class LeaseRepository:
    """Leases in a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def try_acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until now + ``ttl``.

        Returns:
            True when ``holder`` now holds it; False when another holder's lease is unexpired.

        Raises:
            InvalidInput: a non-positive ``ttl`` or empty name / holder.
            StorageError: the database failed.
        """
        if ttl <= timedelta(0) or not name or not holder:
            raise InvalidInput("ttl", "leases need a name, a holder and a positive ttl")
        now = self.store.clock()
        try:
            with self.store.write() as session:
                row = session.get(LeaseRow, name, with_for_update=True)
                if row is None:
                    session.add(LeaseRow(name=name, holder=holder, expires_at=now + ttl))
                    return True
                if row.holder != holder and row.expires_at > now:
                    return False
                row.holder, row.expires_at = holder, now + ttl
                return True
        except Conflict:
            return False  # another process created the row at the same moment

    def release(self, name: str, holder: str) -> None:
        """Give up the lease if ``holder`` holds it (expire it now)."""
        with self.store.write() as session:
            row = session.get(LeaseRow, name, with_for_update=True)
            if row is not None and row.holder == holder:
                row.expires_at = self.store.clock()

    def holder(self, name: str) -> str | None:
        """Return who holds an unexpired lease ``name``, or None."""
        with self.store.read() as session:
            row = session.get(LeaseRow, name)
            if row is None or row.expires_at <= self.store.clock():
                return None
            return row.holder
