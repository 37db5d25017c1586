"""A byok cluster for tests and ``bench/cluster.py``: N ``byok serve`` processes sharing one
PostgreSQL database and one S3 bucket of the local AWS, tenants onboarded per the guide.

Everything goes over real HTTP and real processes: the nodes are separate Python processes
(``cluster_node.py``) on their own loopback ports; the customer acts with boto3 against the
local AWS; key events come from the local AWS's event delivery (docs/local-aws.md#key-events)
with the tenant's key-event secret as an API-key header, as an EventBridge connection sends it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.localaws.testing import LocalAws
from byok.service.bootstrap import VENDOR_KMS_ACTIONS, ensure_vendor_role
from byok.service.key_events import SECRET_HEADER
from byok.service.runtime import blob_store
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.database import Store
from byok.store.tokens import mint_token

__all__ = ["Cluster", "Node", "TenantHandle", "request"]

NODE = Path(__file__).with_name("cluster_node.py")
REGION = "us-east-1"


def request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, Any] | bytes]:
    """One HTTP request: (status, the parsed JSON or the raw bytes); 4xx/5xx never raise."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return int(answer.status), _decoded(answer.read(), answer.headers)
    except urllib.error.HTTPError as exc:
        return int(exc.code), _decoded(exc.read(), exc.headers)


def _decoded(data: bytes, headers: Any) -> dict[str, Any] | bytes:
    if "json" in str(headers.get("content-type", "")):
        parsed: dict[str, Any] = json.loads(data or b"{}")
        return parsed
    return data


@dataclass
class Node:
    """One ``byok serve`` process."""

    name: str
    process: subprocess.Popen[str]
    url: str

    def kill(self) -> None:
        """SIGKILL (a crash: no shutdown code runs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class TenantHandle:
    """An onboarded tenant: its customer account, key and tokens."""

    tenant: str
    account: str
    key_arn: str
    writer: str
    reader: str
    admin: str
    event_secret: str
    policy: str = ""

    def kms(self, aws: LocalAws) -> Any:
        return aws.client("kms", self.account)


@dataclass
class Cluster:
    """The shared parts (vendor account, database, bucket) and the nodes."""

    aws: LocalAws
    database_url: str
    bound_s: float
    home: Path
    vendor: Vendor = field(init=False)
    env: dict[str, str] = field(init=False)
    vendor_role_arn: str = field(init=False)
    nodes: list[Node] = field(default_factory=list)
    operator: str = field(init=False)

    def __post_init__(self) -> None:
        account = self.aws.new_account()
        root = StaticCredentials(f"ROOT{account}", "local")
        role = ensure_vendor_role(
            ClientFactory(AwsSettings(endpoint_url=self.aws.endpoint_url, base_credentials=root)),
            role_name="document-storage-role",
            service_principal_arn=f"arn:aws:iam::{account}:root",
        )
        self.vendor_role_arn = role.arn
        bucket = f"byok-cluster-{secrets.token_hex(5)}"
        self.aws.client("s3", account).create_bucket(Bucket=bucket)
        self.env = {
            "BYOK_HOME": str(self.home), "BYOK_DATABASE_URL": self.database_url,
            "BYOK_AWS_ENDPOINT_URL": self.aws.endpoint_url, "BYOK_VENDOR_ACCOUNT": account,
            "BYOK_BLOB_URL": f"s3://{bucket}/docs",
            "BYOK_REVOCATION_BOUND_SECONDS": str(self.bound_s),
        }  # fmt: skip
        settings = Settings.from_env(self.env)
        factory = ClientFactory(AwsSettings(
            endpoint_url=self.aws.endpoint_url, base_credentials=root,
            document_storage_role_arn=role.arn))  # fmt: skip
        self.vendor = Vendor(settings, store=Store.open(self.database_url),
                             blobs=blob_store(settings, factory), factory=factory)  # fmt: skip
        self.operator = mint_token(self.vendor.store, "operator", label="cluster").token

    def start(self, count: int, *, no_listener: tuple[int, ...] = ()) -> list[Node]:
        """Start ``count`` more nodes (indices in ``no_listener`` run without the listener)."""
        env = {**os.environ, **self.env, "PYTHONPATH": os.pathsep.join(sys.path)}
        started = []
        for index in range(len(self.nodes), len(self.nodes) + count):
            flags = ["--no-listener"] if index in no_listener else []
            process = subprocess.Popen(
                [sys.executable, str(NODE), *flags], stdout=subprocess.PIPE, text=True, env=env
            )
            started.append(Node(f"node{index}", process, ""))
        for node in started:  # they boot in parallel; read each one's URL
            assert node.process.stdout is not None
            line = node.process.stdout.readline()
            if not line:
                raise RuntimeError(f"{node.name} did not start")
            node.url = json.loads(line)["url"]
        self.nodes += started
        return started

    def onboard(self, tenant: str) -> TenantHandle:
        """Option A per the guide: a customer account, a CMK whose policy allows the vendor."""
        account = self.aws.new_account()
        kms = self.aws.client("kms", account)
        key_arn = str(kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"])
        policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": self.vendor_role_arn},
             "Action": list(VENDOR_KMS_ACTIONS), "Resource": "*",
             # bound to the tenant (docs/SECURITY.md); DescribeKey has no context
             "Condition": {"StringEqualsIfExists": {"kms:EncryptionContext:byok:tenant": tenant}}},
        ]})  # fmt: skip
        kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=policy)
        vendor = self.vendor
        vendor.create_tenant(tenant)
        vendor.submit_config(tenant, mode="direct", key_arn=key_arn)
        if not vendor.verify(tenant).passed:
            raise RuntimeError(f"{tenant} did not verify")
        vendor.activate(tenant)
        store = vendor.store
        return TenantHandle(
            tenant, account, key_arn,
            writer=mint_token(store, "writer", tenant=tenant).token,
            reader=mint_token(store, "reader", tenant=tenant).token,
            admin=mint_token(store, "tenant-admin", tenant=tenant).token,
            event_secret=vendor.policies.new_event_secret(tenant), policy=policy,
        )  # fmt: skip

    def forward_events(self, handle: TenantHandle, node: Node) -> str:
        """The customer's forwarding rule: the account's key events to ``node``'s receiver."""
        return self.aws.add_event_target(
            f"{node.url}/v1/key-events/{handle.tenant}", account=handle.account,
            headers={SECRET_HEADER: handle.event_secret},
        )  # fmt: skip

    def put(self, node: Node, handle: TenantHandle, name: str, data: bytes) -> int:
        url = f"{node.url}/v1/tenants/{handle.tenant}/documents/{name}"
        return request("PUT", url, token=handle.writer, body=data,
                       headers={"Content-Type": "application/octet-stream"})[0]  # fmt: skip

    def get(self, node: Node, handle: TenantHandle, name: str) -> tuple[int, Any]:
        url = f"{node.url}/v1/tenants/{handle.tenant}/documents/{name}"
        return request("GET", url, token=handle.reader)

    def wait_serving(self, handle: TenantHandle, name: str, timeout: float = 30.0) -> None:
        """Until every node serves ``name`` of ``handle`` (after a recovery)."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while self.get(node, handle, name)[0] != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{node.name} does not serve {handle.tenant} again")
                time.sleep(0.05)

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        self.vendor.store.close()
