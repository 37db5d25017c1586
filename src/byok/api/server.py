"""Run the API with uvicorn on embedded defaults (what ``byok serve`` calls).

Settings come from the environment (:class:`byok.settings.Settings`); with nothing
configured that is an SQLite file and a blob folder under ``.byok/``. The key monitor runs
in the server (one process sweeps at a time: it holds the ``key-monitor`` lease).
"""

from __future__ import annotations

import uvicorn

from byok.api.app import DEFAULT_MAX_BODY_BYTES, create_app
from byok.service.monitor import KeyMonitor
from byok.service.runtime import open_vendor
from byok.settings import Settings

__all__ = ["serve"]


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    settings: Settings | None = None,
    monitor: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    log_level: str = "info",
) -> None:
    """Serve the API until interrupted (SIGINT/SIGTERM stop it gracefully).

    Args:
        host: address to bind (loopback by default; put TLS termination in front).
        port: TCP port.
        settings: vendor settings (default: from the environment).
        monitor: run the key monitor in this process.
        max_body_bytes: largest document upload.
        log_level: uvicorn's log level (access logs never contain tokens: they are headers).

    Raises:
        InvalidInput: a malformed setting (named).
        StorageError: the database cannot be opened or migrated.
    """
    vendor = open_vendor(settings, actor="api")
    app = create_app(
        vendor,
        monitor=KeyMonitor(vendor) if monitor else None,
        max_body_bytes=max_body_bytes,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        vendor.store.close()
