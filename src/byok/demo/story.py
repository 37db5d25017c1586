"""``byok demo``: the whole BYOK story on embedded defaults, narrated and checked.

Everything runs on this machine: the project's local AWS on loopback (two AWS accounts: the
vendor's and the customer's), SQLite and a blob folder in a temporary directory. Every step
states what it expects; the demo exits 1 the moment reality differs.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.demo.narration import DemoFailed, Narrator
from byok.errors import CustomerAccessError
from byok.localaws.server import LocalAwsServer
from byok.localaws.testing import LocalAws
from byok.service.bootstrap import VENDOR_KMS_ACTIONS, ensure_vendor_role
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store

__all__ = ["run_demo"]

VENDOR_ACCOUNT = "111111111111"
CUSTOMER_ACCOUNT = "222222222222"
BOUND_S = 2.0
CLIENT_ROLE = "byok-client-role"


@dataclass
class Stage:
    """What the demo has built so far."""

    aws: LocalAws
    vendor: Vendor
    vendor_role_arn: str
    key_arn: str = ""
    role_arn: str = ""
    external_id: str = ""


def run_demo(narrator: Narrator | None = None) -> int:
    """Run the demo. Returns the process exit code (0: every expectation held)."""
    say = narrator or Narrator()
    with tempfile.TemporaryDirectory(prefix="byok-demo-") as home, LocalAwsServer() as server:
        say.console.print(
            f"[bold]byok demo[/] — local AWS at {server.endpoint_url}, data in {home}"
        )
        try:
            stage = _vendor_setup(say, LocalAws(server.endpoint_url), Path(home))
            for step in (_customer_setup, _onboard, _documents, _activity, _revoke, _restore,
                         _audit):  # fmt: skip
                step(say, stage)
        except DemoFailed as failed:
            say.console.print(f"[bold red]DEMO FAILED:[/] {failed}")
            return 1
        stage.vendor.store.close()
    say.console.print(f"[bold green]Demo complete[/] in {say.elapsed():.1f}s.")
    return 0


def _vendor_setup(say: Narrator, aws: LocalAws, home: Path) -> Stage:
    with say.step("create the document-storage-role customers will trust", "vendor"):
        root = StaticCredentials(f"ROOT{VENDOR_ACCOUNT}", "local")
        factory = ClientFactory(AwsSettings(endpoint_url=aws.endpoint_url, base_credentials=root))
        role = ensure_vendor_role(
            factory, role_name="document-storage-role",
            service_principal_arn=f"arn:aws:iam::{VENDOR_ACCOUNT}:root",
        )  # fmt: skip
        say.ok(f"{role.arn} ({'created' if role.created else 'unchanged'})")
        settings = Settings(home=home, vendor_account=VENDOR_ACCOUNT, revocation_bound_s=BOUND_S)
        vendor = Vendor(
            settings, store=Store.open(f"sqlite:///{home / 'byok.db'}"),
            blobs=FilesystemBlobStore(home / "blobs"),
            factory=ClientFactory(AwsSettings(
                endpoint_url=aws.endpoint_url, base_credentials=root, max_attempts=2,
                document_storage_role_arn=role.arn,
            )),
        )  # fmt: skip
        say.say(f"revocation bound (tenant-key cache TTL): {BOUND_S:g}s")
        tenant = vendor.create_tenant("acme", name="Acme Corp")
        say.ok(f"tenant acme created; External ID issued: {tenant.external_id}")
        return Stage(aws, vendor, role.arn, external_id=tenant.external_id)


def _customer_setup(say: Narrator, stage: Stage) -> None:
    with say.step("create a KMS key and a client role for the vendor (Option B)", "customer"):
        kms = stage.aws.client("kms", CUSTOMER_ACCOUNT)
        iam = stage.aws.client("iam", CUSTOMER_ACCOUNT)
        key = kms.create_key(Description="Acme documents at the vendor", KeyUsage="ENCRYPT_DECRYPT")
        stage.key_arn = key["KeyMetadata"]["Arn"]
        kms.enable_key_rotation(KeyId=stage.key_arn)
        trust = _trust_policy(stage.vendor_role_arn, stage.external_id)
        role = iam.create_role(RoleName=CLIENT_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        stage.role_arn = role["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=CLIENT_ROLE, PolicyName="byok-kms",
            PolicyDocument=json.dumps(_statements(
                {"Effect": "Allow", "Action": list(VENDOR_KMS_ACTIONS), "Resource": stage.key_arn}
            )),
        )  # fmt: skip
        kms.put_key_policy(KeyId=stage.key_arn, PolicyName="default",
                           Policy=json.dumps(_key_policy(stage.role_arn)))  # fmt: skip
        say.show_json("client role trust policy", trust)
        say.ok(f"key {stage.key_arn}")
        say.ok(f"client role {stage.role_arn}")


def _onboard(say: Narrator, stage: Stage) -> None:
    with say.step("submit the customer's configuration, verify it, activate", "vendor"):
        stage.vendor.submit_config(
            "acme", mode="assume-role", key_arn=stage.key_arn,
            client_role_arn=stage.role_arn, external_id=stage.external_id,
        )  # fmt: skip
        report = stage.vendor.verify("acme")
        say.table("verification", ["check", "result", "evidence"],
                  [[c.name, c.status, c.evidence] for c in report.checks])  # fmt: skip
        say.expect(report.passed, "every check passed (incl. External ID required)")
        say.expect(str(stage.vendor.activate("acme").state) == "ACTIVE", "tenant acme is ACTIVE")


def _documents(say: Narrator, stage: Stage) -> None:
    with say.step("store and read documents (envelope-encrypted)", "vendor"):
        vendor = stage.vendor
        before = vendor.factory.counts()
        bodies = {f"contracts/{i:03}.txt": os.urandom(4096) for i in range(50)}
        bodies["reports/annual.pdf"] = os.urandom(5 * 1024 * 1024)
        for name, body in bodies.items():
            vendor.put_document("acme", name, io.BytesIO(body))
        same = all(vendor.get_document("acme", n).read_all() == b for n, b in bodies.items())
        say.expect(same, f"{len(bodies)} documents (4 KiB to 5 MiB) read back byte-exact")
        calls = _delta(before, vendor.factory.counts())
        say.say(f"AWS calls for {2 * len(bodies)} document operations: {calls}")
        say.expect(calls.get("kms:GenerateDataKey", 0) <= 1, "at most one kms:GenerateDataKey")


def _activity(say: Narrator, stage: Stage) -> None:
    with say.step("see what the vendor did with the key (CloudTrail)", "customer"):
        events = stage.aws.lookup_events(CUSTOMER_ACCOUNT, resource_name=stage.key_arn)
        rows = [[e["eventName"], e["userIdentity"].get("arn", "?"), e.get("errorCode") or "ok"]
                for e in events[:8]]  # fmt: skip
        say.table(f"latest of {len(events)} events on the key", ["event", "caller", "result"], rows)
        say.expect(bool(events), "every vendor call on the key is in the customer's trail")


def _revoke(say: Narrator, stage: Stage) -> None:
    with say.step("remove the vendor from the client role's trust policy", "customer"):
        iam = stage.aws.client("iam", CUSTOMER_ACCOUNT)
        deny_all = _statements({"Effect": "Deny", "Principal": {"AWS": "*"},
                                "Action": "sts:AssumeRole"})  # fmt: skip
        iam.update_assume_role_policy(RoleName=CLIENT_ROLE, PolicyDocument=json.dumps(deny_all))
        started = time.monotonic()
    with say.step(f"keep reading: refused within the {BOUND_S:g}s bound", "vendor"):
        delay, error = _wait_refused(lambda: stage.vendor.get_document("acme", "contracts/000.txt"))
        measured = time.monotonic() - started
        say.ok(f"refused after {delay:.2f}s ({measured:.2f}s since the customer's change)")
        say.say(f"[yellow]{type(error).__name__}[/]: {error}")
        say.expect(delay <= BOUND_S + 1.0, f"refusal within the bound (+1s slack): {delay:.2f}s")
        state = stage.vendor.tenants.get("acme")
        say.expect(str(state.state) == "KEY_UNAVAILABLE", "tenant acme is KEY_UNAVAILABLE")
        say.expect_refused("a new write", lambda: stage.vendor.put_document("acme", "x", b"x"),
                           CustomerAccessError)  # fmt: skip


def _restore(say: Narrator, stage: Stage) -> None:
    with say.step("restore the trust relationship", "customer"):
        iam = stage.aws.client("iam", CUSTOMER_ACCOUNT)
        trust = _trust_policy(stage.vendor_role_arn, stage.external_id)
        iam.update_assume_role_policy(RoleName=CLIENT_ROLE, PolicyDocument=json.dumps(trust))
    with say.step("recovers with no operator action", "vendor"):
        body = stage.vendor.get_document("acme", "reports/annual.pdf").read_all()
        say.expect(len(body) == 5 * 1024 * 1024, "documents read again")
        say.expect(str(stage.vendor.tenants.get("acme").state) == "ACTIVE", "tenant acme ACTIVE")


def _audit(say: Narrator, stage: Stage) -> None:
    with say.step("verify the tamper-evident audit chain", "vendor"):
        result = stage.vendor.audit.verify()
        say.expect(result.ok, f"{result.events} events chained, head {result.head_hash[:16]}…")


def _wait_refused(call: Callable[[], Any]) -> tuple[float, CustomerAccessError]:
    start = time.monotonic()
    while time.monotonic() - start < BOUND_S + 10:
        try:
            call().read_all()
        except CustomerAccessError as error:
            return time.monotonic() - start, error
        time.sleep(0.05)
    raise DemoFailed("access was never refused after revocation")


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(after.items()) if v - before.get(k, 0)}


def _statements(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _trust_policy(vendor_role_arn: str, external_id: str) -> dict[str, Any]:
    return _statements({
        "Sid": "AllowVendorDocumentStorage", "Effect": "Allow",
        "Principal": {"AWS": vendor_role_arn}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
    })  # fmt: skip


def _key_policy(client_role_arn: str) -> dict[str, Any]:
    return _statements(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{CUSTOMER_ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow the byok client role", "Effect": "Allow",
         "Principal": {"AWS": client_role_arn},
         "Action": list(VENDOR_KMS_ACTIONS), "Resource": "*"},
    )  # fmt: skip
