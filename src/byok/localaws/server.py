"""Serving the local AWS: moto's server app behind the fidelity layer, on loopback.

:class:`LocalAwsServer` runs it in a background thread of the current process (demo,
benchmarks); :func:`serve_until_signalled` runs it in the foreground until SIGINT/SIGTERM
(``byok local-aws``, ``python -m byok.localaws``, and the pytest plugin's subprocess).
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, TextIO

from byok.localaws.fidelity import FidelityLayer

__all__ = ["HOST", "LocalAwsServer", "build_app", "serve_until_signalled"]

HOST = "127.0.0.1"


def build_app(*, seed: int = 0) -> FidelityLayer:
    """moto 5.2.5's server application wrapped in the fidelity layer.

    Returns:
        The WSGI application (a :class:`FidelityLayer`).

    Raises:
        ImportError: if moto[server] is not installed (``pip install 'byok[local]'``).
    """
    import moto.core.responses as moto_responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    dispatcher = DomainDispatcherApplication(create_backend_app)
    # Speed (benchmarks send thousands of calls), same behaviour: moto resolves the backend of
    # a host name by scanning its package directory on disk, and a response class's method
    # names with inspect, on every request. Both answers are fixed, so cache them.
    dispatcher.get_backend_for_host = functools.lru_cache(maxsize=1024)(  # type: ignore[method-assign]
        dispatcher.get_backend_for_host
    )
    names_of = moto_responses.method_names_from_class  # type: ignore[attr-defined]
    if not hasattr(names_of, "cache_info"):
        moto_responses.method_names_from_class = functools.lru_cache(maxsize=1024)(names_of)  # type: ignore[attr-defined]
    return FidelityLayer(dispatcher, seed=seed)


def _handler_class() -> type[Any]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        """moto's request handler without per-request logging (benchmarks send thousands)."""

        def log(self, type: str, message: str, *args: Any) -> None:
            return None

    return QuietHandler


class LocalAwsServer:
    """The local AWS on ``127.0.0.1:port`` in a background thread (``port=0``: a free port).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, port: int = 0, *, seed: int = 0) -> None:
        self._port = port
        self._seed = seed
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: FidelityLayer | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``.

        Raises:
            RuntimeError: if the server is not started.
        """
        if self._server is None:
            raise RuntimeError("the local AWS is not started")
        return f"http://{HOST}:{self._server.server_port}"

    def start(self) -> LocalAwsServer:
        """Bind the port and serve in a daemon thread; return self once accepting.

        Raises:
            OSError: if the port cannot be bound.
        """
        from werkzeug.serving import make_server

        if self._server is not None:
            return self
        self.app = build_app(seed=self._seed)
        self._server = make_server(
            HOST, self._port, self.app, threaded=True, request_handler=_handler_class()
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="byok-local-aws", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._server.server_close()
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalAwsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_until_signalled(port: int, out: TextIO = sys.stdout, *, as_json: bool = False) -> int:
    """Serve in the foreground until SIGINT or SIGTERM.

    The first line written to ``out`` is the endpoint URL (flushed at once; with ``as_json``
    the JSON object ``{"endpoint_url": URL}``), so a parent
    process can read it to find a ``port=0`` server. Anything moto prints afterwards goes to
    stderr, so a parent that reads only that line can never block the server on a full pipe.

    Returns:
        The process exit status (0).

    Raises:
        OSError: if the port cannot be bound.
    """
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalAwsServer(port) as server:
            url = server.endpoint_url
            out.write((json.dumps({"endpoint_url": url}) if as_json else url) + "\n")
            out.flush()
            with contextlib.redirect_stdout(sys.stderr):
                stop.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
