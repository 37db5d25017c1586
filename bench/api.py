#!/usr/bin/env python3
"""API load test (issue 8): mixed 4 KiB puts and gets through the REST API on loopback,
against a baseline measured in the same run.

Three processes (all started and stopped by this script):

1. the project's local AWS (``python -m byok.localaws``);
2. the server (``bench/api.py serve``): one uvicorn on 127.0.0.1 serving the byok API over
   embedded SQLite + filesystem blobs, onboarded with one Option A tenant, and, on the same
   server stack, the **baseline**: a minimal FastAPI endpoint ``/plain/{name}`` that writes
   the same bytes as plain files (temporary file, fsync, rename, like the blob store) and
   reads them back;
3. the load generator (``bench/api.py load``), a second process: ``--concurrency`` threads
   each doing 50 % puts of fresh 4 KiB documents and 50 % gets of documents it wrote
   (checking every byte), for ``--duration`` seconds. Afterwards it reads back **every**
   document it put: a missing or different one is a lost document.

Prints throughput and p50/p99 latency for both, their ratio, errors and lost documents, and
merges ``api_4kib_requests_per_s``, ``api_ratio_vs_plain``, ``api_p99_ms``, ``api_errors``,
``api_lost_documents`` into ``bench/results.json``. Target: ratio >= 0.5, zero errors, zero
lost documents. Usage: ``python bench/api.py [--duration 120] [--baseline-duration 30]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio.to_thread
from _results import merge
from fastapi import FastAPI, Request, Response

SIZE = 4096
TENANT = "bench"
_START_TIMEOUT_S = 120.0


# -- server process --------------------------------------------------------------------------


def _onboard(endpoint: str, home: Path) -> tuple[Any, str]:
    """A vendor over the local AWS with one ACTIVE tenant; its writer token."""
    from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
    from byok.localaws.testing import LocalAws
    from byok.service.bootstrap import VENDOR_KMS_ACTIONS, ensure_vendor_role
    from byok.service.vendor import Vendor
    from byok.settings import Settings
    from byok.store.blobs import FilesystemBlobStore
    from byok.store.database import Store
    from byok.store.tokens import mint_token

    aws = LocalAws(endpoint)
    vendor_account, customer_account = aws.new_account(), aws.new_account()
    root = StaticCredentials(f"ROOT{vendor_account}", "local")
    role = ensure_vendor_role(
        ClientFactory(AwsSettings(endpoint_url=endpoint, base_credentials=root)),
        role_name="document-storage-role",
        service_principal_arn=f"arn:aws:iam::{vendor_account}:root",
    )
    kms = aws.client("kms", customer_account)
    key_arn = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{customer_account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": role.arn},
         "Action": list(VENDOR_KMS_ACTIONS), "Resource": "*"}]}  # fmt: skip
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    factory = ClientFactory(AwsSettings(endpoint_url=endpoint, base_credentials=root,
                                        document_storage_role_arn=role.arn))  # fmt: skip
    settings = Settings(home=home, vendor_account=vendor_account)
    vendor = Vendor(settings, store=Store.open(f"sqlite:///{home / 'byok.db'}"),
                    blobs=FilesystemBlobStore(home / "blobs"), factory=factory)  # fmt: skip
    vendor.create_tenant(TENANT)
    vendor.submit_config(TENANT, mode="direct", key_arn=key_arn)
    report = vendor.verify(TENANT)
    if not report.passed:
        raise SystemExit(f"bench tenant did not verify: {report.to_dict()}")
    vendor.activate(TENANT)
    return vendor, mint_token(vendor.store, "writer", tenant=TENANT, label="bench").token


def _baseline_app(root: Path) -> Any:
    """The minimal plain-file endpoints on the same FastAPI/uvicorn stack."""
    app = FastAPI()
    root.mkdir(parents=True, exist_ok=True)

    def write(path: Path, data: bytes) -> None:
        temporary = path.with_name(f".tmp-{os.urandom(8).hex()}")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        descriptor = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _path(name: str) -> Path:
        return root / hashlib.sha256(name.encode()).hexdigest()

    @app.put("/plain/{name:path}")
    async def put(name: str, request: Request) -> dict[str, Any]:
        data = await request.body()
        await anyio.to_thread.run_sync(write, _path(name), data)
        return {"name": name, "size": len(data)}

    @app.get("/plain/{name:path}")
    def get(name: str) -> Response:
        try:
            return Response(_path(name).read_bytes(), media_type="application/octet-stream")
        except FileNotFoundError:
            return Response(status_code=404)

    return app


def serve(args: argparse.Namespace) -> int:
    """Onboard, then serve byok and the baseline until terminated; print the address first."""
    import uvicorn

    from byok.api import create_app

    home = Path(args.home)
    vendor, token = _onboard(args.aws, home)
    app = _baseline_app(home / "plain")
    app.mount("/", create_app(vendor))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    print(json.dumps({"url": f"http://127.0.0.1:{port}", "token": token}), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


# -- load process ----------------------------------------------------------------------------


class _Worker(threading.Thread):
    def __init__(self, index: int, args: argparse.Namespace, stop_at: float) -> None:
        super().__init__(daemon=True)
        self.index, self.args, self.stop_at = index, args, stop_at
        self.put: dict[str, str] = {}  # name -> sha256 of the body
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.rng = random.Random(index)

    def run(self) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self.args.token}"}
        with httpx.Client(base_url=self.args.url, headers=headers, timeout=30) as client:
            while time.monotonic() < self.stop_at:
                if not self.put or self.rng.random() < 0.5:
                    self._put(client)
                else:
                    self._get(client, self.rng.choice(list(self.put)))

    def _timed(self, send: Any) -> Any:
        started = time.perf_counter()
        try:
            return send()
        finally:
            self.latencies.append(time.perf_counter() - started)

    def _put(self, client: Any) -> None:
        name = f"w{self.index}/{len(self.put):07d}"
        body = os.urandom(SIZE)
        response = self._timed(lambda: client.put(f"{self.args.prefix}/{name}", content=body))
        if response.status_code == 200:
            self.put[name] = hashlib.sha256(body).hexdigest()
        else:
            self.errors.append(f"put {response.status_code} {response.text[:200]}")

    def _get(self, client: Any, name: str) -> None:
        response = self._timed(lambda: client.get(f"{self.args.prefix}/{name}"))
        if response.status_code != 200:
            self.errors.append(f"get {response.status_code} {response.text[:200]}")
        elif hashlib.sha256(response.content).hexdigest() != self.put[name]:
            self.errors.append("get returned different bytes")


def _lost(args: argparse.Namespace, workers: list[_Worker]) -> int:
    import httpx

    lost = 0
    headers = {"Authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=30) as client:
        for worker in workers:
            for name, digest in worker.put.items():
                response = client.get(f"{args.prefix}/{name}")
                ok = response.status_code == 200
                lost += not (ok and hashlib.sha256(response.content).hexdigest() == digest)
    return lost


def load(args: argparse.Namespace) -> int:
    """Run the mixed load, then read everything back; print one JSON line of figures."""
    started = time.monotonic()
    workers = [_Worker(i, args, started + args.duration) for i in range(args.concurrency)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    latencies = sorted(x for w in workers for x in w.latencies)
    errors = [e for w in workers for e in w.errors]
    print(json.dumps({
        "requests": len(latencies), "seconds": elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "errors": len(errors), "error_samples": errors[:5],
        "documents": sum(len(w.put) for w in workers), "lost": _lost(args, workers),
    }), flush=True)  # fmt: skip
    return 0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


# -- orchestration ---------------------------------------------------------------------------


def _start(command: list[str], *, env: dict[str, str] | None = None) -> tuple[Any, str]:
    """Start a child that prints one line when ready; return it and that line."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the child's stderr until it exits
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log,
                             stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    assert child.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        ready = selector.select(_START_TIMEOUT_S)
    line = child.stdout.readline().decode().strip() if ready else ""
    if not line:
        child.kill()
        child.wait()
        log.seek(0)
        raise SystemExit(f"{command[1:3]} did not start: {log.read().decode()[-3000:]}")
    return child, line


def _stop(child: Any) -> None:
    child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _phase(
    server: dict[str, str], prefix: str, duration: float, concurrency: int
) -> dict[str, Any]:
    command = [sys.executable, __file__, "load", "--url", server["url"], "--prefix", prefix,
               "--duration", str(duration), "--concurrency", str(concurrency)]  # fmt: skip
    # The token goes through the environment, never the command line (visible in ps).
    env = os.environ | {"BYOK_BENCH_TOKEN": server["token"]}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env,
                          timeout=duration + 600)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"load generator failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start local AWS and the server, run baseline then byok load, stop everything.

    Returns:
        The figures merged into bench/results.json (plus the raw phases).
    """
    with tempfile.TemporaryDirectory(prefix="byok-bench-api-") as home:
        aws, endpoint = _start([sys.executable, "-m", "byok.localaws", "--port", "0"])
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            server_child, line = _start([sys.executable, __file__, "serve", "--aws", endpoint,
                                         "--home", home], env=env)  # fmt: skip
            try:
                server = json.loads(line)
                _phase(server, "/plain", 1.0, args.concurrency)  # warm-up
                plain = _phase(server, "/plain", args.baseline_duration, args.concurrency)
                prefix = f"/v1/tenants/{TENANT}/documents"
                _phase(server, prefix, 1.0, args.concurrency)  # warm-up (TK cache, pools)
                byok = _phase(server, prefix, args.duration, args.concurrency)
            finally:
                _stop(server_child)
        finally:
            _stop(aws)
    return {"plain": plain, "byok": byok}


def report(phases: dict[str, Any]) -> dict[str, float | int]:
    """Print the table; return the figures for bench/results.json."""
    plain, byok = phases["plain"], phases["byok"]
    print(f"{'4 KiB mixed put/get':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
          f"{'errors':>8}{'lost':>6}{'docs':>8}{'seconds':>9}")  # fmt: skip
    for label, row in (("baseline (plain files)", plain), ("byok API", byok)):
        print(f"{label:<24}{row['requests_per_s']:>10.1f}{row['p50_ms']:>10.2f}"
              f"{row['p99_ms']:>10.2f}{row['errors']:>8}{row['lost']:>6}"
              f"{row['documents']:>8}{row['seconds']:>9.1f}")  # fmt: skip
    ratio = byok["requests_per_s"] / plain["requests_per_s"]
    print(f"ratio byok/baseline throughput: {ratio:.3f} (target >= 0.5)")
    for row in (plain, byok):
        for sample in row["error_samples"]:
            print(f"  error: {sample}")
    return {
        "api_4kib_requests_per_s": byok["requests_per_s"],
        "api_ratio_vs_plain": ratio,
        "api_p99_ms": byok["p99_ms"],
        "api_errors": byok["errors"] + plain["errors"],
        "api_lost_documents": byok["lost"] + plain["lost"],
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen part; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", default="bench", choices=["bench", "serve", "load"])
    parser.add_argument("--duration", type=float, default=120.0, help="byok load seconds")
    parser.add_argument("--baseline-duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-merge", action="store_true", help="do not touch results.json")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--aws", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part == "serve":
        return serve(args)
    if args.part == "load":
        args.token = os.environ["BYOK_BENCH_TOKEN"]
        return load(args)
    figures = report(run(args))
    if not args.no_merge:
        merge(figures)
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["api_errors"] == 0 and figures["api_lost_documents"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
