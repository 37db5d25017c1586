"""The cluster signal's records: the ``signals`` table, the kinds and the delivered signal.

Data only; publishing and listening are :mod:`byok.store.signals` (which re-exports these).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from byok.store.schema import BIG_ID, TENANT_ID, Base, UtcDateTime

__all__ = ["Signal", "SignalKind", "SignalRow", "signal_of"]


class SignalKind(enum.StrEnum):
    """What changed (``subject`` says which one, when the kind needs it)."""

    TOKEN_REVOKED = "token-revoked"  # noqa: S105 - a kind name; subject: the token id
    TENANT_KEYS_PURGED = "tenant-keys-purged"  # drop every cached TK of the tenant
    TENANT_STATE = "tenant-state"  # subject: the new state
    TENANT_OFFBOARDED = "tenant-offboarded"


class SignalRow(Base):
    """One published signal (append-only; pruned after :data:`byok.store.signals.RETENTION`)."""

    __tablename__ = "signals"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str | None] = mapped_column(TENANT_ID, nullable=True)
    subject: Mapped[str | None] = mapped_column(String(256), nullable=True)
    origin: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True, slots=True)
class Signal:
    """A delivered signal: ``origin`` is the publishing node (its ``SignalBus.node``)."""

    id: int
    kind: str
    tenant: str | None
    subject: str | None
    origin: str
    created_at: datetime


def signal_of(row: SignalRow) -> Signal:
    """The :class:`Signal` a stored row delivers."""
    return Signal(
        id=row.id,
        kind=row.kind,
        tenant=row.tenant,
        subject=row.subject,
        origin=row.origin,
        created_at=row.created_at,
    )
