"""The server side of ``bench/api.py``: one uvicorn serving three things on one stack.

* ``/null/{name}``: the framework's own ceiling: the same FastAPI/uvicorn stack answering
  PUT (body read, then dropped) and GET (the expected bytes, from memory) with no I/O;
* ``/plain/{name}``: the baseline: the same bytes as plain files (temporary file, fsync,
  rename, directory fsync, like the blob store) and read back;
* ``/v1/...``: the byok API over its store (SQLite file by default, PostgreSQL with
  ``--database``) and filesystem blobs, onboarded with one Option A tenant.

The socket comes from :func:`byok.api.server.tcp_listener` (``TCP_NODELAY`` on accepted
connections); without it every figure would be the delayed-ACK timer (issue 18).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response

__all__ = ["TENANT", "body_of", "onboard", "serve"]

TENANT = "bench"


def body_of(name: str, filler: bytes) -> bytes:
    """The bytes the load puts under ``name`` (as ``bench/wrk/documents.lua`` builds them)."""
    return f"{name:<64}"[:64].encode() + filler


def onboard(endpoint: str, home: Path, database: str | None) -> tuple[Any, str, dict[str, str]]:
    """A vendor over the local AWS with one ACTIVE tenant.

    Returns:
        The vendor, a writer token of the tenant, and the ``BYOK_*`` environment with which
        ``byok serve`` opens the same vendor.
    """
    from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
    from byok.core.policy.templates import CustomerSetup, VendorIdentity, vendor_key_statements
    from byok.localaws.testing import LocalAws
    from byok.service.bootstrap import ensure_vendor_role
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
        # The statements `byok customer policy` prints: bound to the tenant (docs/SECURITY.md).
        *vendor_key_statements(VendorIdentity(vendor_account),
                               CustomerSetup(TENANT, "direct", customer_account))]}  # fmt: skip
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    factory = ClientFactory(AwsSettings(endpoint_url=endpoint, base_credentials=root,
                                        document_storage_role_arn=role.arn))  # fmt: skip
    url = database or f"sqlite:///{home / 'byok.db'}"
    settings = Settings(home=home, vendor_account=vendor_account, database_url=url)
    vendor = Vendor(settings, store=Store.open(url),
                    blobs=FilesystemBlobStore(home / "blobs"), factory=factory)  # fmt: skip
    vendor.create_tenant(TENANT)
    vendor.submit_config(TENANT, mode="direct", key_arn=key_arn)
    report = vendor.verify(TENANT)
    if not report.passed:
        raise SystemExit(f"bench tenant did not verify: {report.to_dict()}")
    vendor.activate(TENANT)
    token = mint_token(vendor.store, "writer", tenant=TENANT, label="bench").token
    env = {"BYOK_HOME": str(home), "BYOK_DATABASE_URL": url, "BYOK_AWS_ENDPOINT_URL": endpoint,
           "BYOK_VENDOR_ACCOUNT": vendor_account,
           "BYOK_BLOB_DIR": str(home / "blobs")}  # fmt: skip
    return vendor, token, env


def _write_durably(path: Path, data: bytes) -> None:
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


def baseline_app(root: Path, filler: bytes, byok_app: FastAPI) -> FastAPI:
    """The framework ceiling (``/null``) and the plain-file baseline (``/plain``); its
    lifespan runs byok's (signal listener, as under ``byok serve``), which a mount skips."""
    app = FastAPI(lifespan=lambda _: byok_app.router.lifespan_context(byok_app))
    root.mkdir(parents=True, exist_ok=True)

    def _path(name: str) -> Path:
        return root / hashlib.sha256(name.encode()).hexdigest()

    @app.put("/null/{name:path}")
    async def null_put(name: str, request: Request) -> dict[str, Any]:
        data = await request.body()
        return {"name": name, "size": len(data)}

    @app.get("/null/{name:path}")
    async def null_get(name: str) -> Response:
        return Response(body_of(name, filler), media_type="application/octet-stream")

    @app.put("/plain/{name:path}")
    async def put(name: str, request: Request) -> dict[str, Any]:
        data = await request.body()
        await anyio.to_thread.run_sync(_write_durably, _path(name), data)
        return {"name": name, "size": len(data)}

    @app.get("/plain/{name:path}")
    def get(name: str) -> Response:
        try:
            return Response(_path(name).read_bytes(), media_type="application/octet-stream")
        except FileNotFoundError:
            return Response(status_code=404)

    return app


def serve(aws: str, home: Path, filler_path: Path, database: str | None) -> int:
    """Onboard, print one JSON line (url, token, environment), serve until terminated."""
    import uvicorn

    from byok.api import create_app
    from byok.api.limits import ServingLimits
    from byok.api.server import server_config, tcp_listener

    vendor, token, env = onboard(aws, home, database)
    # One token drives all the load connections; the default bound of 8 concurrent uploads
    # per token can refuse (429) a connection's next PUT when it arrives before the previous
    # response's slot is released, which is an admission policy, not throughput: raised.
    byok_app = create_app(vendor, limits=ServingLimits(uploads_per_token=64))
    app = baseline_app(home / "plain", filler_path.read_bytes(), byok_app)
    app.mount("/", byok_app)
    sock = tcp_listener()
    sock.listen(2048)  # connections made before uvicorn runs wait in the backlog
    port = sock.getsockname()[1]
    line = {"url": f"http://127.0.0.1:{port}", "token": token, "env": env}
    print(json.dumps(line), flush=True)
    # byok serve's own configuration (guarded protocol, limits) for all three targets.
    config = server_config(app, log_level="warning", lifespan="on", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
