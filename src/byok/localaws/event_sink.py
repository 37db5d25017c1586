"""A tiny HTTP receiver of key events for tests and the demo (the vendor's receiver stand-in).

:class:`EventSink` listens on loopback, accepts ``POST``ed JSON events (the EventBridge shape of
:mod:`byok.localaws.events`), keeps them in arrival order, and lets a test wait for one::

    with EventSink() as sink:
        aws.add_event_target(sink.url, account=customer)
        ...
        event = sink.wait_for("DisableKey")

``fail_next(n)`` makes the next ``n`` deliveries answer HTTP 503 (to test retries).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["EventSink"]

_MAX_BODY = 1024 * 1024


class EventSink:
    """Collects events POSTed to :attr:`url` (see the module docstring)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._failures = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
                body = self.rfile.read(length)
                status = sink._accept(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to deliver events."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/events"

    def start(self) -> EventSink:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EventSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` deliveries with HTTP 503."""
        with self._changed:
            self._failures = count

    def wait_for(
        self,
        event_name: str | Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first received event whose ``detail.eventName`` is ``event_name`` (or that the
        predicate accepts), waiting up to ``timeout`` seconds.

        Raises:
            TimeoutError: naming what was received instead.
        """
        wanted = _by_name(event_name) if isinstance(event_name, str) else event_name
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((e for e in self.events if wanted(e)), None), timeout
            )
            if found is None:
                names = [e.get("detail", {}).get("eventName") for e in self.events]
                raise TimeoutError(f"no such event within {timeout}s; received {names}")
            return found

    def _accept(self, body: bytes) -> int:
        with self._changed:
            if self._failures > 0:
                self._failures -= 1
                return 503
            try:
                event = json.loads(body)
            except ValueError:
                return 400
            if not isinstance(event, dict):
                return 400
            self.events.append(event)
            self._changed.notify_all()
        return 200


def _by_name(name: str) -> Callable[[dict[str, Any]], bool]:
    def wanted(event: dict[str, Any]) -> bool:
        return bool(event.get("detail", {}).get("eventName") == name)

    return wanted
