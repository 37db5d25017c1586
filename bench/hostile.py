"""Hostile-client benchmark: does one tenant's slow-upload flood stall another tenant?

``byok serve``'s real configuration (``byok.api.server.server_config``: head deadline,
keep-alive, connection cap; ``ServingLimits`` defaults: 15 s body read timeout, 8 uploads
per token, 32 per tenant) runs in a subprocess over an SQLite store, filesystem blobs and
the local AWS, with two ACTIVE tenants: ``victim`` and ``attacker``.

Both phases alternate ``--rounds`` times (so load drift on a shared machine hits both alike)
and their samples are pooled:

1. **Undisturbed**: ``--clients`` threads GET the victim's 4 KiB document over kept-alive
   connections for ``--duration`` seconds while a prober GETs ``/healthz`` every 20 ms.
2. **Under attack**: the same, while ``--attackers`` (200) connections of one attacker
   writer token each send ``PUT`` with ``Content-Length: 1000000`` and then one body byte
   every second (never finishing, never idle long enough for the body timeout). A refused
   or closed attacker connection is opened again ``--reopen-s`` later (default 1 s, the
   429's ``Retry-After``; 0.2 makes a reconnect flood of it), so 200 are always trying.
   The attacker runs in a process of its own at ``nice 10``: its client-side CPU would be on
   other machines in a real attack, and must not be counted as the server's slowness.

Figures merged into ``bench/results.json``: ``hostile_other_tenant_p99_ms`` and
``hostile_healthz_p99_ms`` under attack (goal <= 100 each), ``hostile_throughput_ratio``
(victim GETs/s under attack / undisturbed, goal >= 0.8), the undisturbed p99s beside them
(the baseline measured in the same run), and how the attackers were answered.

Usage: ``python bench/hostile.py [--duration 10] [--clients 4] [--attackers 200]``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _children import LOCAL_AWS, running, without_aws_env
from _results import merge

DOCUMENT = b"v" * 4096


# -- the server (a subprocess) --------------------------------------------------------------


def serve(endpoint: str, home: Path) -> int:
    """Onboard two tenants, print one JSON line (url, tokens), serve until terminated."""
    import uvicorn

    from byok.api import create_app
    from byok.api.server import server_config, tcp_listener

    vendor, tokens = _onboard(endpoint, home)
    sock = tcp_listener()
    sock.listen(2048)
    line = {"url": f"http://127.0.0.1:{sock.getsockname()[1]}", "tokens": tokens}
    print(json.dumps(line), flush=True)
    app = create_app(vendor, console=False)
    uvicorn.Server(server_config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
    return 0


def _onboard(endpoint: str, home: Path) -> tuple[Any, dict[str, str]]:
    from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
    from byok.localaws.testing import LocalAws
    from byok.service.bootstrap import VENDOR_KMS_ACTIONS, ensure_vendor_role
    from byok.service.vendor import Vendor
    from byok.settings import Settings
    from byok.store.blobs import FilesystemBlobStore
    from byok.store.database import Store
    from byok.store.tokens import mint_token

    aws = LocalAws(endpoint)
    vendor_account = aws.new_account()
    root = StaticCredentials(f"ROOT{vendor_account}", "local")
    role = ensure_vendor_role(
        ClientFactory(AwsSettings(endpoint_url=endpoint, base_credentials=root)),
        role_name="document-storage-role",
        service_principal_arn=f"arn:aws:iam::{vendor_account}:root",
    )
    factory = ClientFactory(AwsSettings(endpoint_url=endpoint, base_credentials=root,
                                        document_storage_role_arn=role.arn))  # fmt: skip
    url = f"sqlite:///{home / 'byok.db'}"
    settings = Settings(home=home, vendor_account=vendor_account, database_url=url)
    vendor = Vendor(settings, store=Store.open(url),
                    blobs=FilesystemBlobStore(home / "blobs"), factory=factory)  # fmt: skip
    tokens = {}
    for tenant in ("victim", "attacker"):
        customer = aws.new_account()
        kms = aws.client("kms", customer)
        key_arn = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{customer}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": role.arn},
             "Action": list(VENDOR_KMS_ACTIONS), "Resource": "*",
             # bound to the tenant (docs/SECURITY.md); DescribeKey has no context
             "Condition": {"StringEqualsIfExists": {"kms:EncryptionContext:byok:tenant": tenant}}},
        ]}  # fmt: skip
        kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
        vendor.create_tenant(tenant)
        vendor.submit_config(tenant, mode="direct", key_arn=key_arn)
        if not vendor.verify(tenant).passed:
            raise SystemExit(f"tenant {tenant} did not verify")
        vendor.activate(tenant)
        tokens[tenant] = mint_token(vendor.store, "writer", tenant=tenant, label="bench").token
    return vendor, tokens


# -- the clients -----------------------------------------------------------------------------


class Victim:
    """``clients`` threads GETting one 4 KiB document; a prober timing ``/healthz``."""

    def __init__(self, url: str, token: str, clients: int) -> None:
        self.host, self.port = url.removeprefix("http://").split(":")
        self.token, self.clients = token, clients

    def put_document(self) -> None:
        connection = self._connection()
        connection.request("PUT", "/v1/tenants/victim/documents/bench.bin", body=DOCUMENT,
                           headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"victim PUT failed: {response.status}")

    def run(self, seconds: float) -> dict[str, Any]:
        """Load for ``seconds``; return GET latencies, GETs/s, /healthz latencies, errors."""
        stop = threading.Event()
        gets: list[list[float]] = [[] for _ in range(self.clients)]
        probes: list[float] = []
        errors = Counter[str]()
        threads = [threading.Thread(target=self._get_loop, args=(stop, gets[i], errors))
                   for i in range(self.clients)]  # fmt: skip
        threads.append(threading.Thread(target=self._probe_loop, args=(stop, probes, errors)))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        latencies = [x for part in gets for x in part]
        return {"get_ms": latencies, "seconds": elapsed, "healthz_ms": probes,
                "errors": dict(errors)}  # fmt: skip

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, int(self.port), timeout=30)

    def _get_loop(self, stop: threading.Event, out: list[float], errors: Counter[str]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        connection = self._connection()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("GET", "/v1/tenants/victim/documents/bench.bin", headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors[type(exc).__name__] += 1
                connection.close()
                connection = self._connection()
                continue
            if response.status != 200 or body != DOCUMENT:
                errors[f"GET {response.status}"] += 1
                continue
            out.append((time.perf_counter() - started) * 1000)
        connection.close()

    def _probe_loop(self, stop: threading.Event, out: list[float], errors: Counter[str]) -> None:
        connection = self._connection()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors[f"healthz {type(exc).__name__}"] += 1
                connection.close()
                connection = self._connection()
                continue
            out.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                errors[f"healthz {response.status}"] += 1
            time.sleep(0.02)
        connection.close()


class Attack:
    """``count`` slow uploads of one token, each trickling a byte a second, reopened when the
    server closes them (half a second later)."""

    def __init__(self, url: str, token: str, count: int, reopen_s: float) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.reopen_s = reopen_s
        self.address = (host, int(port))
        self.token, self.count = token, count
        self.answers = Counter[int]()
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Attack:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _open(self, selector: selectors.BaseSelector, n: int) -> None:
        sock = socket.create_connection(self.address, timeout=5)
        head = (
            f"PUT /v1/tenants/attacker/documents/slow-{n} HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Length: 1000000\r\n\r\nabc"
        )
        sock.sendall(head.encode())
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, data=n)
        self.opened += 1

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        reopen: list[tuple[float, int]] = []
        for n in range(self.count):
            self._open(selector, n)
        last_trickle = time.monotonic()
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if data.startswith(b"HTTP/1.1 "):
                    self.answers[int(data[9:12])] += 1
                selector.unregister(sock)
                sock.close()
                reopen.append((time.monotonic() + self.reopen_s, key.data))
            now = time.monotonic()
            for when, n in [r for r in reopen if r[0] <= now]:
                reopen.remove((when, n))
                self._open(selector, n)
            if now - last_trickle >= 1.0:
                last_trickle = now
                for key in list(selector.get_map().values()):
                    with contextlib.suppress(OSError):
                        key.fileobj.send(b"x")  # type: ignore[union-attr]
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()


@contextlib.contextmanager
def _attacking(url: str, token: str, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Run :class:`Attack` in a process of its own (it must not share the victim's GIL);
    after the block, the dict holds its ``answers`` and ``opened`` counts."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(
        target=_attack_process, args=(url, token, args.attackers, args.reopen_s, child)
    )
    process.start()
    outcome: dict[str, Any] = {}
    try:
        yield outcome
    finally:
        parent.send("stop")
        if parent.poll(30):
            outcome.update(parent.recv())
        process.join(30)
    outcome.setdefault("answers", {})
    outcome.setdefault("opened", 0)


def _attack_process(url: str, token: str, count: int, reopen_s: float, pipe: Any) -> None:
    # The attacker's own CPU (connecting, sending) would be on other machines in a real
    # attack; on this one it competes with the server, so it yields first (nice 10).
    os.nice(10)
    with Attack(url, token, count, reopen_s) as attack:
        pipe.recv()
    pipe.send({"answers": dict(attack.answers), "opened": attack.opened})


# -- the run ---------------------------------------------------------------------------------


def _empty() -> dict[str, Any]:
    return {"get_ms": [], "healthz_ms": [], "gets": 0, "seconds": 0.0, "errors": {}}


def _add(total: dict[str, Any], phase: dict[str, Any]) -> None:
    total["get_ms"] += phase["get_ms"]
    total["healthz_ms"] += phase["healthz_ms"]
    total["gets"] += len(phase["get_ms"])
    total["seconds"] += phase["seconds"]
    for name, count in phase["errors"].items():
        total["errors"][name] = total["errors"].get(name, 0) + count


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the local AWS and the server, run both phases, stop everything.

    Returns:
        The figures.
    """
    with tempfile.TemporaryDirectory(prefix="byok-bench-hostile-") as home, \
            running([sys.executable, *LOCAL_AWS], env=without_aws_env()) as endpoint:  # fmt: skip
        command = [sys.executable, __file__, "serve", "--aws", endpoint, "--home", home]
        with running(command, env=without_aws_env()) as line:
            info = json.loads(line)
            victim = Victim(info["url"], info["tokens"]["victim"], args.clients)
            victim.put_document()
            victim.run(args.warmup)
            calm, hostile = _empty(), _empty()
            answers: Counter[int] = Counter()
            opened = 0
            for _ in range(args.rounds):  # alternating, so load drift hits both alike
                _add(calm, victim.run(args.duration))
                attacker = info["tokens"]["attacker"]
                with _attacking(info["url"], attacker, args) as outcome:
                    time.sleep(2.0)  # every attacker connected and answered or held
                    _add(hostile, victim.run(args.duration))
                answers.update(outcome["answers"])
                opened += outcome["opened"]
    return {
        "hostile_other_tenant_p99_ms": _p99(hostile["get_ms"]),
        "hostile_healthz_p99_ms": _p99(hostile["healthz_ms"]),
        "hostile_throughput_ratio": hostile["gets"] / calm["gets"],
        "hostile_baseline_other_tenant_p99_ms": _p99(calm["get_ms"]),
        "hostile_baseline_healthz_p99_ms": _p99(calm["healthz_ms"]),
        "hostile_baseline_gets_per_s": calm["gets"] / calm["seconds"],
        "hostile_gets_per_s": hostile["gets"] / hostile["seconds"],
        "hostile_victim_errors": sum(calm["errors"].values()) + sum(hostile["errors"].values()),
        "hostile_attacker_connections": opened,
        "hostile_attacker_429": answers.get(429, 0),
        "hostile_attacker_408": answers.get(408, 0),
    }


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the table."""
    print(f"{args.attackers} slow uploads of one token vs {args.clients} clients of another "
          f"tenant, 4 KiB GETs, {args.rounds} x {args.duration:g} s per phase")  # fmt: skip
    print(f"{'phase':<14}{'GET/s':>9}{'GET p99 ms':>12}{'healthz p99 ms':>16}")
    print(f"{'undisturbed':<14}{figures['hostile_baseline_gets_per_s']:>9.0f}"
          f"{figures['hostile_baseline_other_tenant_p99_ms']:>12.1f}"
          f"{figures['hostile_baseline_healthz_p99_ms']:>16.1f}")  # fmt: skip
    print(f"{'under attack':<14}{figures['hostile_gets_per_s']:>9.0f}"
          f"{figures['hostile_other_tenant_p99_ms']:>12.1f}"
          f"{figures['hostile_healthz_p99_ms']:>16.1f}")  # fmt: skip
    print(f"throughput ratio {figures['hostile_throughput_ratio']:.2f} (goal >= 0.8); p99 goals "
          f"<= 100 ms; victim errors {figures['hostile_victim_errors']}; attacker connections "
          f"{figures['hostile_attacker_connections']}, answered 429: "
          f"{figures['hostile_attacker_429']}, 408: {figures['hostile_attacker_408']}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen part; return the exit status (1: a goal
    was missed or the victim saw an error)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternating calm/attack rounds")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--attackers", type=int, default=200)
    parser.add_argument(
        "--reopen-s",
        type=float,
        default=1.0,
        help="an attacker reopens a closed connection after this (Retry-After)",
    )
    parser.add_argument("--no-merge", action="store_true", help="do not touch results.json")
    parser.add_argument("--aws", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part == "serve":
        return serve(args.aws, Path(args.home))
    figures = run(args)
    report(figures, args)
    if not args.no_merge:
        merge(figures)
    missed = (
        figures["hostile_other_tenant_p99_ms"] > 100
        or figures["hostile_healthz_p99_ms"] > 100
        or figures["hostile_throughput_ratio"] < 0.8
        or figures["hostile_victim_errors"]
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
