#!/usr/bin/env python3
"""API load test (issues 8, 18): 4 KiB PUTs and GETs through the REST API, driven by ``wrk``,
beside the framework's own ceiling and a plain-file baseline measured in the same run.

Processes (all started and stopped here): the project's local AWS; the server
(``bench/_api_server.py``: one uvicorn serving the framework ceiling ``/null``, the plain-file
baseline ``/plain`` and the byok API); ``wrk`` (``scripts/ensure-wrk.sh`` installs it), which
is C and not the bottleneck. Each of the three targets gets a PUT phase (fresh names) and a
GET phase (random acknowledged names, every body checked byte for byte) with the same
connections. Afterwards **every** acknowledged PUT is read back: a missing or different
document is a lost one.

The server socket sets ``TCP_NODELAY`` (``byok.api.server.tcp_listener``). A figure that the
baseline and byok share (e.g. ~40 ms p50 for both) means the harness, not the code, is
measured: compare with the ceiling row.

Optional rows: ``--database postgresql://...`` runs byok on PostgreSQL; ``--workers N`` also
measures ``byok serve --workers N`` on the same store.

Merges ``api_get_ratio_vs_plain``, ``api_put_ratio_vs_plain`` (goal >= 0.5),
``api_get_p99_ms`` (goal <= 20), ``api_framework_ceiling_req_s``, ``api_errors``,
``api_lost_documents`` (0) and the raw rates into ``bench/results.json``.
Usage: ``python bench/api.py [--duration 15] [--connections 8]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _api_server import TENANT, body_of, serve
from _children import LOCAL_AWS, running, stop_child, without_aws_env
from _results import merge

ROOT = Path(__file__).resolve().parent
SCRIPT = ROOT / "wrk" / "documents.lua"
ENSURE_WRK = ROOT.parent / "scripts" / "ensure-wrk.sh"
FILLER_BYTES = 4096 - 64
TARGETS = (("framework ceiling (no I/O)", "/null"), ("plain files (fsync)", "/plain"))
BYOK_PREFIX = f"/v1/tenants/{TENANT}/documents"


class Load:
    """Runs ``wrk`` phases against one server and reads acknowledged documents back."""

    def __init__(self, url: str, token: str, work: Path, args: argparse.Namespace) -> None:
        self.url, self.token, self.work, self.args = url, token, work, args
        self.wrk = subprocess.run([str(ENSURE_WRK)], capture_output=True, text=True,
                                  check=True).stdout.strip()  # fmt: skip
        self.filler = (work / "filler").read_bytes()

    def phase(self, mode: str, prefix: str, folder: str, seconds: float) -> dict[str, Any]:
        """One wrk run (``put`` or ``get``); its figures (JSON line of documents.lua)."""
        directory = self.work / folder
        directory.mkdir(exist_ok=True)
        (directory / "filler").write_bytes(self.filler)
        n = self.args.connections
        command = [self.wrk, f"-t{n}", f"-c{n}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
                   "-s", str(SCRIPT), self.url, "--", mode, prefix, str(directory),
                   folder]  # fmt: skip
        env = os.environ | {"BYOK_BENCH_TOKEN": self.token}  # never on a command line
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                              timeout=seconds + 120)  # fmt: skip
        lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
        result: dict[str, Any] = json.loads(lines[-1])
        result["requests_per_s"] = result["requests"] / result["seconds"]
        result["errors"] = result["socket_errors"] + result["http_errors"] + result["bad_bodies"]
        return result

    def acknowledged(self, folder: str) -> list[str]:
        """Every name a PUT phase in ``folder`` got a 200 for."""
        names: list[str] = []
        for path in sorted((self.work / folder).glob("acked-*.txt")):
            names += path.read_text().split()
        return names

    def lost(self, prefix: str, folder: str) -> tuple[int, int]:
        """Read every acknowledged document of ``folder`` back: (how many, how many lost)."""
        import httpx

        names = self.acknowledged(folder)
        headers = {"Authorization": f"Bearer {self.token}"}

        def check(part: list[str]) -> int:
            missing = 0
            with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
                for name in part:
                    got = client.get(f"{prefix}/{name}")
                    missing += got.status_code != 200 or got.content != body_of(name, self.filler)
            return missing

        parts = [names[i :: self.args.connections] for i in range(self.args.connections)]
        with ThreadPoolExecutor(self.args.connections) as pool:
            return len(names), sum(pool.map(check, parts))


def _measure(load: Load, label: str, prefix: str, args: argparse.Namespace) -> dict[str, Any]:
    folder = label.split()[0]
    load.phase("put", prefix, f"warm-{folder}", args.warmup)  # pools, caches, TK
    put = load.phase("put", prefix, folder, args.duration)
    load.phase("get", prefix, folder, args.warmup)
    get = load.phase("get", prefix, folder, args.duration)
    documents, lost = load.lost(prefix, folder) if prefix != "/null" else (put["requests"], 0)
    return {"label": label, "put": put, "get": get, "documents": documents, "lost": lost}


def _workers(load: Load, server: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """``byok serve --workers N`` on the same store, measured like the byok row."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = without_aws_env() | server["env"]
    command = [str(Path(sys.executable).with_name("byok")), "serve", "--port", str(port),
               "--workers", str(args.workers), "--no-monitor"]  # fmt: skip
    child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        many = Load(url, load.token, load.work, args)
        return _measure(many, f"byok-{args.workers}-workers API", BYOK_PREFIX, args)
    finally:
        stop_child(child)


def _wait_ready(url: str, seconds: float = 60.0) -> None:
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"byok serve at {url} did not start")


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start local AWS and the server, run every target's phases, stop everything.

    Returns:
        One row per target: PUT and GET figures, documents read back, lost documents.
    """
    with tempfile.TemporaryDirectory(prefix="byok-bench-api-") as home:
        work = Path(home) / "load"
        work.mkdir()
        (work / "filler").write_bytes(os.urandom(FILLER_BYTES))
        with running([sys.executable, *LOCAL_AWS]) as endpoint:
            command = [sys.executable, __file__, "serve", "--aws", endpoint,
                       "--home", home, "--filler", str(work / "filler")]  # fmt: skip
            if args.database:
                command += ["--database", args.database]
            with running(command, env=without_aws_env()) as line:
                server = json.loads(line)
                load = Load(server["url"], server["token"], work, args)
                rows = [_measure(load, label, prefix, args) for label, prefix in TARGETS]
                rows.append(_measure(load, "byok API", BYOK_PREFIX, args))
                if args.workers > 1:
                    rows.append(_workers(load, server, args))
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, float | int]:
    """Print the table; return the figures for bench/results.json."""
    print(
        f"4 KiB documents, wrk {args.connections} connections, {args.duration:g} s per phase"
        f"{', byok on ' + args.database.split(':')[0] if args.database else ''}"
    )
    print(f"{'target':<30}{'op':>4}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'errors':>8}{'docs':>8}{'lost':>6}")  # fmt: skip
    for row in rows:
        for op in ("put", "get"):
            r = row[op]
            print(f"{row['label']:<30}{op.upper():>4}{r['requests_per_s']:>9.0f}"
                  f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.1f}{r['errors']:>8}"
                  f"{row['documents'] if op == 'put' else '':>8}"
                  f"{row['lost'] if op == 'put' else '':>6}")  # fmt: skip
    ceiling, plain, byok = rows[0], rows[1], rows[2]
    figures: dict[str, float | int] = {
        "api_framework_ceiling_req_s": ceiling["get"]["requests_per_s"],
        "api_framework_ceiling_put_req_s": ceiling["put"]["requests_per_s"],
        "api_plain_get_req_s": plain["get"]["requests_per_s"],
        "api_plain_put_req_s": plain["put"]["requests_per_s"],
        "api_get_req_s": byok["get"]["requests_per_s"],
        "api_put_req_s": byok["put"]["requests_per_s"],
        "api_get_ratio_vs_plain": byok["get"]["requests_per_s"] / plain["get"]["requests_per_s"],
        "api_put_ratio_vs_plain": byok["put"]["requests_per_s"] / plain["put"]["requests_per_s"],
        "api_get_p99_ms": byok["get"]["p99_ms"],
        "api_put_p99_ms": byok["put"]["p99_ms"],
        "api_errors": sum(row[op]["errors"] for row in rows for op in ("put", "get")),
        "api_lost_documents": sum(row["lost"] for row in rows),
    }
    if len(rows) > 3:
        figures["api_workers_get_req_s"] = rows[3]["get"]["requests_per_s"]
        figures["api_workers_put_req_s"] = rows[3]["put"]["requests_per_s"]
    for row in rows:
        for op in ("put", "get"):
            if row[op].get("statuses"):
                print(f"  {row['label']} {op.upper()} errors: {row[op]['statuses']}")
    print(f"byok/plain: GET {figures['api_get_ratio_vs_plain']:.2f}, PUT "
          f"{figures['api_put_ratio_vs_plain']:.2f} (goal >= 0.5); byok GET p99 "
          f"{figures['api_get_p99_ms']:.1f} ms (goal <= 20); errors {figures['api_errors']}, "
          f"lost {figures['api_lost_documents']} (goal 0)")  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen part; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--duration", type=int, default=15, help="seconds per phase")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each phase")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database", help="byok's store URL (default: an SQLite file)")
    parser.add_argument("--workers", type=int, default=0, help="also run byok serve --workers")
    parser.add_argument("--no-merge", action="store_true", help="do not touch results.json")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--aws", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--filler", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part == "serve":
        return serve(args.aws, Path(args.home), Path(args.filler), args.database)
    figures = report(run(args), args)
    if not args.no_merge and not args.database:
        merge(figures)
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["api_errors"] == 0 and figures["api_lost_documents"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
