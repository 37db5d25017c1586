"""A second process for the signal tests: listens on the bus and prints what it receives.

Usage: ``signals_child.py <database url>``. Prints ``ready <node>`` once listening, then one
JSON line per signal (id, kind, tenant, subject, origin, received at: ``time.time()``). Each
stdin line ``<kind> <subject>`` makes it publish that signal (tenant ``acme``); it exits when
its stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from byok.store.database import Store
from byok.store.signals import Signal


def main() -> None:
    store = Store.open(sys.argv[1], migrate=False)
    out = threading.Lock()

    def on_signal(signal: Signal) -> None:
        line = json.dumps(
            {
                "id": signal.id,
                "kind": signal.kind,
                "tenant": signal.tenant,
                "subject": signal.subject,
                "origin": signal.origin,
                "received": time.time(),
            }
        )
        with out:
            print(line, flush=True)

    store.signals.subscribe(on_signal)
    store.signals.start()
    print(f"ready {store.signals.node}", flush=True)
    for command in sys.stdin:
        kind, subject = command.split()
        with store.write() as session:
            store.signals.publish(session, kind, tenant="acme", subject=subject)
    store.close()


if __name__ == "__main__":
    main()
