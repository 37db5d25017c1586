"""``python -m byok.localaws --port N``: the local AWS in the foreground (``byok local-aws``)."""

from __future__ import annotations

import argparse
import sys

from byok.localaws.server import serve_until_signalled


def main(argv: list[str] | None = None) -> int:
    """Parse ``--port`` and serve until SIGINT/SIGTERM; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m byok.localaws",
        description="Serve the local AWS on 127.0.0.1; prints the endpoint URL first.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    args = parser.parse_args(argv)
    return serve_until_signalled(args.port)


if __name__ == "__main__":
    sys.exit(main())
