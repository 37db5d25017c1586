"""``byok serve --workers N``: N uvicorn worker processes accepting on one listening socket.

One Python process runs the event loop and every request's Python code under one GIL, so
one ``byok serve`` process uses about one core, whatever the machine has. Workers are
separate processes (their own GIL), each with its own vendor, caches and group commit
(:mod:`byok.store.group_commit`), sharing the metadata database and the blob store.

Per-process caches stay correct across workers through the cluster signal
(:mod:`byok.store.signals`, started with the app): a revoked token (``api.authn``), a tenant's
new state or purged keys (``service.cluster``) reach every worker at once, exactly as they
reach other machines; the revocation bound never depends on it (the caches' TTLs still hold).
The key monitor runs in every worker but sweeps in one at a time (its lease).

uvicorn starts the workers with ``spawn``, so each builds its app from the environment
(:func:`app_from_environment`); the listening socket comes from
:func:`byok.api.server.tcp_listener` (``TCP_NODELAY``; uvicorn's own multi-worker socket
lacks it, issue 18).
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["app_from_environment", "serve_workers"]

_OPTIONS = "BYOK_SERVE_WORKER_OPTIONS"
_STARTUP_S = 60


def app_from_environment() -> Any:
    """Build one worker's application (the uvicorn factory ``byok.api.workers:...``).

    Returns:
        The FastAPI application over a vendor opened from the environment's settings.

    Raises:
        InvalidInput: a malformed setting (named).
        StorageError: the database cannot be opened.
    """
    from byok.api.app import create_app
    from byok.service.monitor import KeyMonitor
    from byok.service.runtime import open_vendor

    options = json.loads(os.environ.get(_OPTIONS, "{}"))
    vendor = open_vendor(actor="api")
    monitor = KeyMonitor(vendor) if options.get("monitor", True) else None
    extra = {"max_body_bytes": options["max_body_bytes"]} if "max_body_bytes" in options else {}
    return create_app(vendor, monitor=monitor, **extra)


def serve_workers(
    host: str,
    port: int,
    workers: int,
    *,
    monitor: bool,
    max_body_bytes: int | None,
    log_level: str,
) -> None:
    """Serve with ``workers`` processes until interrupted (what ``byok serve --workers``
    runs). Raises OSError when the address cannot be bound."""
    from uvicorn.supervisors import Multiprocess

    from byok.api.server import server_config, tcp_listener

    options: dict[str, Any] = {"monitor": monitor}
    if max_body_bytes is not None:
        options["max_body_bytes"] = max_body_bytes
    os.environ[_OPTIONS] = json.dumps(options)  # read by each spawned worker
    config = server_config(
        "byok.api.workers:app_from_environment", host=host, port=port, log_level=log_level,
        factory=True, workers=workers,
    )  # fmt: skip
    # A worker imports and opens everything before it answers the supervisor's first ping;
    # on a loaded machine that takes longer than uvicorn's 5 s default (it would be killed).
    config.timeout_worker_healthcheck = _STARTUP_S
    sock = tcp_listener(host, port)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
