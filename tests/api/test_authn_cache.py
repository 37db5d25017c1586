"""The grant cache: served from memory, dropped by the cluster signal, never re-filled by
a look-up that raced a revocation, and short-lived when no signal listener runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import anyio

from byok.api.authn import Authenticator, Unauthenticated
from byok.store.signals import Signal, SignalKind
from byok.store.tokens import Role, TokenGrant

TOKEN = "byok_0123456789abcdef_secret"
GRANT = TokenGrant("0123456789abcdef", Role.WRITER, "acme")


@dataclass
class Tokens:
    """A token table in memory that counts look-ups (and can hold one mid-way)."""

    revoked: bool = False
    reads: int = 0
    hold: threading.Event | None = None
    reading: threading.Event = field(default_factory=threading.Event)

    def authenticate(self, token: str) -> TokenGrant | None:
        self.reads += 1
        self.reading.set()
        if self.hold is not None:
            self.hold.wait(5)
        return None if self.revoked or token != TOKEN else GRANT


class Bus:
    running = True

    def __init__(self) -> None:
        self.callbacks: list[Any] = []

    def subscribe(self, callback: Any, *, kinds: Any = None) -> None:
        self.callbacks.append(callback)

    def start(self) -> None:
        """Nothing to start."""

    def send(self, kind: SignalKind, tenant: str | None, subject: str | None) -> None:
        signal = Signal(1, str(kind), tenant, subject, "other-node", None)  # type: ignore[arg-type]
        for callback in self.callbacks:
            callback(signal)


def _authenticate(authenticator: Authenticator) -> TokenGrant | None:
    async def run() -> TokenGrant | None:
        try:
            return await authenticator.authenticate(f"Bearer {TOKEN}")
        except Unauthenticated:
            return None

    return anyio.run(run)


def test_grants_come_from_memory_until_the_signal_drops_them() -> None:
    tokens, bus = Tokens(), Bus()
    authenticator = Authenticator(tokens)  # type: ignore[arg-type]
    authenticator.listen(bus)  # type: ignore[arg-type]
    assert [_authenticate(authenticator) for _ in range(5)] == [GRANT] * 5
    assert tokens.reads == 1
    tokens.revoked = True
    bus.send(SignalKind.TOKEN_REVOKED, "acme", GRANT.token_id)
    assert _authenticate(authenticator) is None
    tokens.revoked = False
    assert _authenticate(authenticator) == GRANT
    bus.send(SignalKind.TENANT_OFFBOARDED, "acme", None)  # every grant of the tenant
    assert _authenticate(authenticator) == GRANT and tokens.reads == 4


def test_a_look_up_racing_a_revocation_is_not_cached() -> None:
    tokens, bus = Tokens(hold=threading.Event()), Bus()
    authenticator = Authenticator(tokens)  # type: ignore[arg-type]
    authenticator.listen(bus)  # type: ignore[arg-type]
    result: list[TokenGrant | None] = []
    reader = threading.Thread(target=lambda: result.append(_authenticate(authenticator)))
    reader.start()
    assert tokens.reading.wait(5)
    bus.send(SignalKind.TOKEN_REVOKED, "acme", GRANT.token_id)  # while the row is being read
    assert tokens.hold is not None
    tokens.hold.set()
    reader.join(5)
    assert result == [GRANT]  # that request read the row before the revocation committed
    tokens.revoked, tokens.hold = True, None
    assert _authenticate(authenticator) is None  # ... but its stale grant was not kept


def test_without_a_running_listener_grants_expire_quickly() -> None:
    now = [0.0]
    tokens, bus = Tokens(), Bus()
    bus.running = False
    authenticator = Authenticator(tokens, fallback_ttl_s=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    authenticator.listen(bus)  # type: ignore[arg-type]
    assert _authenticate(authenticator) == GRANT
    now[0] = 0.5
    assert _authenticate(authenticator) == GRANT and tokens.reads == 1
    now[0] = 1.6
    tokens.revoked = True
    assert _authenticate(authenticator) is None and tokens.reads == 2


def test_a_wrong_secret_for_a_cached_id_is_not_a_cache_hit() -> None:
    tokens = Tokens()
    authenticator = Authenticator(tokens)  # type: ignore[arg-type]
    assert _authenticate(authenticator) == GRANT

    async def wrong() -> None:
        await authenticator.authenticate("Bearer byok_0123456789abcdef_guess")

    try:
        anyio.run(wrong)
    except Unauthenticated:
        pass
    else:
        raise AssertionError("a guessed secret was accepted")
    assert tokens.reads == 2  # went to the table, which refused it
