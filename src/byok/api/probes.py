"""Liveness and readiness that never queue behind tenant traffic.

``/healthz`` is an async handler that touches nothing: if the event loop answers, the
process serves. ``/readyz`` must ask the database, which blocks; :class:`Readiness` asks it
on a thread limiter of its own (never the one tenant requests run on), at most once per
``max_age_s`` whatever the probe rate, and gives up after ``timeout_s`` (unready: a
database that slow is not one to send traffic to).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import anyio.to_thread
from sqlalchemy import text

from byok.api.limits import LoopLimiter
from byok.errors import ByokError
from byok.store.database import Store

__all__ = ["Readiness", "ReadinessResult"]


@dataclass(frozen=True)
class ReadinessResult:
    """One database check: ``ok`` and, when not, why."""

    ok: bool
    detail: str
    checked_at: float


class Readiness:
    """The cached outcome of ``SELECT 1`` on the metadata database.

    Args:
        store: the metadata store.
        max_age_s: a result younger than this is reused.
        timeout_s: a check slower than this counts as unready.
    """

    def __init__(self, store: Store, *, max_age_s: float = 1.0, timeout_s: float = 2.0) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self._serial = LoopLimiter(1)  # one check in flight; other probes wait for it
        self._threads = LoopLimiter(2)  # the check's own threads (a hung one is abandoned)
        self._last: ReadinessResult | None = None

    async def check(self) -> ReadinessResult:
        """The database's readiness, from cache or asked now (one check at a time).

        Returns:
            The result (never raises for a database failure: that is ``ok=False``).
        """
        last = self._last
        if last is not None and time.monotonic() - last.checked_at < self.max_age_s:
            return last
        async with self._serial.get():
            last = self._last
            if last is not None and time.monotonic() - last.checked_at < self.max_age_s:
                return last
            with anyio.move_on_after(self.timeout_s) as scope:
                result = await anyio.to_thread.run_sync(
                    self._select_one, abandon_on_cancel=True, limiter=self._threads.get()
                )
            if scope.cancelled_caught:
                result = ReadinessResult(False, f"no answer within {self.timeout_s:g} s",
                                         time.monotonic())  # fmt: skip
            self._last = result
            return result

    def _select_one(self) -> ReadinessResult:
        try:
            with self.store.read() as session:
                session.execute(text("SELECT 1"))
        except ByokError as exc:
            return ReadinessResult(False, exc.message, time.monotonic())
        return ReadinessResult(True, "ok", time.monotonic())
