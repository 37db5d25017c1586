"""One cluster node: ``byok serve``'s own app over the environment's settings, on a free port.

Run as ``python cluster_node.py [--no-listener]``; prints ``{"url": ...}`` once listening, then
serves until SIGTERM (or SIGKILL in the crash tests). ``--no-listener`` keeps the cluster
signal listener off: the node hears no push and no purge (the bound must still hold).
"""

from __future__ import annotations

import json
import sys

import uvicorn

from byok.api.app import create_app
from byok.api.server import server_config, tcp_listener
from byok.service.monitor import KeyMonitor
from byok.service.runtime import open_vendor


def main() -> None:
    vendor = open_vendor(actor="api")
    if "--no-listener" in sys.argv:
        vendor.store.signals.start = lambda: None  # type: ignore[method-assign]
    app = create_app(vendor, monitor=KeyMonitor(vendor) if "--monitor" in sys.argv else None)
    sock = tcp_listener()
    sock.listen(1024)
    print(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}"}), flush=True)
    config = server_config(app, log_level="warning", lifespan="on", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        vendor.store.close()


if __name__ == "__main__":
    main()
