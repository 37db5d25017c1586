"""``byok demo``: the whole BYOK story on embedded defaults, narrated and checked.

Everything runs on this machine: the project's local AWS on loopback (the vendor's account and
two customers' accounts), SQLite and a blob folder in a temporary directory. Every step states
what it expects; the demo exits 1 the moment reality differs.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from byok.api.app import create_app
from byok.api.server import BackgroundServer
from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.core.policy.templates import CustomerSetup, VendorIdentity
from byok.demo.attack import refused_attack
from byok.demo.cluster import push_revocation
from byok.demo.console import serve_console
from byok.demo.customer import Customer
from byok.demo.levers import refuse_one_scope
from byok.demo.narration import DemoFailed, Narrator
from byok.errors import CustomerAccessError
from byok.localaws.server import LocalAwsServer
from byok.portable.decrypt import decrypt_export
from byok.service.bootstrap import ensure_vendor_role
from byok.service.export import export_tenant
from byok.service.lifecycle import migrate_tenant
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store
from byok.store.tokens import TokenRepository

__all__ = ["run_demo"]

VENDOR_ACCOUNT = "111111111111"
ACME_ACCOUNT = "222222222222"
GLOBEX_ACCOUNT = "333333333333"
NEW_ACCOUNT = "444444444444"  # the customer of the tenant a newcomer onboards (--serve)
BOUND_S = 2.0
ROLE = "document-storage-role"


@dataclass
class Stage:
    """What the demo has built so far."""

    endpoint_url: str
    home: Path
    vendor: Vendor
    identity: VendorIdentity
    api_url: str = ""
    documents: dict[str, bytes] = field(default_factory=dict)


def run_demo(narrator: Narrator | None = None, *, serve_port: int | None = None) -> int:
    """Run the demo. Returns the process exit code (0: every expectation held).

    With ``serve_port``, the web console then serves the demo's data on that port until
    interrupted (``byok demo --serve``, :mod:`byok.demo.console`).
    """
    say = narrator or Narrator()
    logging.getLogger("byok").setLevel(logging.ERROR)  # the demo narrates refusals itself
    with tempfile.TemporaryDirectory(prefix="byok-demo-") as home, LocalAwsServer() as server:
        say.console.print(f"[bold]byok demo[/]: local AWS at {server.endpoint_url}, data in {home}")
        try:
            stage = _vendor_setup(say, server.endpoint_url, Path(home))
            with BackgroundServer(create_app(stage.vendor)) as api:
                stage.api_url = api.url
                say.say(f"vendor REST API serving at {api.url} (`byok serve`)")
                acme = _option_b(say, stage)
                globex_key = _option_a(say, stage)
                refused_attack(say, stage.vendor, stage.api_url, globex_key)
                push_revocation(say, stage, "globex", GLOBEX_ACCOUNT)
                _migrate(say, stage, acme)
                _export(say, stage)
                _audit(say, stage)
            if serve_port is not None:
                serve_console(say, stage.vendor, endpoint_url=server.endpoint_url,
                              customer_account=NEW_ACCOUNT, port=serve_port)  # fmt: skip
            stage.vendor.store.close()
        except DemoFailed as failed:
            say.console.print(f"[bold red]DEMO FAILED:[/] {failed}")
            return 1
    say.console.print(f"[bold green]Demo complete[/] in {say.elapsed():.1f}s.")
    return 0


def _vendor_setup(say: Narrator, endpoint_url: str, home: Path) -> Stage:
    with say.step("create the document-storage-role customers will trust", "vendor"):
        root = StaticCredentials(f"ROOT{VENDOR_ACCOUNT}", "local")
        factory = ClientFactory(AwsSettings(endpoint_url=endpoint_url, base_credentials=root))
        role = ensure_vendor_role(
            factory, role_name=ROLE, service_principal_arn=f"arn:aws:iam::{VENDOR_ACCOUNT}:root"
        )
        say.ok(f"{role.arn} ({'created' if role.created else 'unchanged'})")
        settings = Settings(home=home, vendor_account=VENDOR_ACCOUNT, revocation_bound_s=BOUND_S)
        vendor = Vendor(
            settings, store=Store.open(f"sqlite:///{home / 'byok.db'}"),
            blobs=FilesystemBlobStore(home / "blobs"),
            factory=ClientFactory(AwsSettings(
                endpoint_url=endpoint_url, base_credentials=root, max_attempts=2,
                document_storage_role_arn=role.arn,
            )),
        )  # fmt: skip
        say.say(f"revocation bound (tenant-key cache TTL): {BOUND_S:g}s; metadata in SQLite")
    identity = VendorIdentity(VENDOR_ACCOUNT, customer_facing_role=ROLE, document_storage_role=ROLE)
    return Stage(endpoint_url, home, vendor, identity)


def _option_b(say: Narrator, stage: Stage) -> tuple[Customer, CustomerSetup, str]:
    vendor = stage.vendor
    with say.step("create tenant acme (Option B: chained assume-role)", "vendor"):
        external_id = vendor.create_tenant("acme", name="Acme Corp").external_id
        say.ok(f"External ID issued to acme: {external_id}")
    acme = Customer(say, stage.endpoint_url, ACME_ACCOUNT, stage.identity)
    setup = CustomerSetup("acme", "assume-role", ACME_ACCOUNT, external_id=external_id,
                          hardening=True)  # fmt: skip
    with say.step("`byok customer setup`: key, rotation, client role, policies", "customer"):
        handover = acme.setup(setup)
        acme.log_key_use()
    _onboard(say, vendor, "acme", handover)
    with say.step("`byok customer audit`: is the set-up right?", "customer"):
        acme.audit(setup, handover)
    _documents(say, stage, "acme")
    with say.step("`byok customer activity`: what did the vendor do with my key?", "customer"):
        acme.activity(handover)
    _revocation(
        say, stage, "acme", "remove the vendor from the client role's trust policy",
        revoke=lambda: acme.set_trust(setup, allow_vendor=False),
        restore=lambda: acme.set_trust(setup, allow_vendor=True),
    )  # fmt: skip
    refuse_one_scope(say, vendor, acme, setup, BOUND_S)
    return acme, setup, handover["key_arn"]


def _option_a(say: Narrator, stage: Stage) -> str:
    vendor = stage.vendor
    with say.step("create tenant globex (Option A: key policy names the vendor role)", "vendor"):
        vendor.create_tenant("globex", name="Globex")
    globex = Customer(say, stage.endpoint_url, GLOBEX_ACCOUNT, stage.identity)
    with say.step("`byok customer setup --mode direct`", "customer"):
        handover = globex.setup(CustomerSetup("globex", "direct", GLOBEX_ACCOUNT))
    _onboard(say, vendor, "globex", handover)
    _documents(say, stage, "globex")
    key_arn = handover["key_arn"]
    _revocation(
        say, stage, "globex", "disable the key",
        revoke=lambda: globex.kms().disable_key(KeyId=key_arn),
        restore=lambda: globex.kms().enable_key(KeyId=key_arn),
    )  # fmt: skip
    return str(key_arn)


def _onboard(say: Narrator, vendor: Vendor, tenant: str, handover: dict[str, str]) -> None:
    with say.step(f"submit {tenant}'s hand-over, verify (named checks), activate", "vendor"):
        vendor.submit_config(
            tenant, mode=handover["mode"], key_arn=handover["key_arn"],
            client_role_arn=handover.get("client_role_arn"),
            external_id=handover.get("external_id"),
        )  # fmt: skip
        report = vendor.verify(tenant)
        say.table(f"verification of {tenant}", ["check", "result", "evidence"],
                  [[c.name, c.status, c.evidence] for c in report.checks])  # fmt: skip
        say.expect(report.passed, "every check passed")
        say.expect(str(vendor.activate(tenant).state) == "ACTIVE", f"tenant {tenant} is ACTIVE")


def _documents(say: Narrator, stage: Stage, tenant: str) -> None:
    with say.step(f"{tenant}'s documents in and out through the REST API", "vendor"):
        vendor = stage.vendor
        token = TokenRepository(vendor.store).mint("writer", tenant=tenant, label="demo").token
        say.say(f"writer token for {tenant} minted (`byok token create`), stored only hashed")
        before = vendor.factory.counts()
        bodies = {f"contracts/{i:03}.txt": os.urandom(4096) for i in range(50)}
        bodies["reports/annual.pdf"] = os.urandom(5 * 1024 * 1024)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{stage.api_url}/v1/tenants/{tenant}/documents/",
                          headers=headers, timeout=30) as api:  # fmt: skip
            for name, body in bodies.items():
                api.put(name, content=body).raise_for_status()
                stage.documents[f"{tenant}/{name}"] = body
            same = all(api.get(n).content == b for n, b in bodies.items())
            say.expect(same, f"{len(bodies)} documents (4 KiB to 5 MiB) PUT and GET byte-exact")
            other = api.get(f"{stage.api_url}/v1/tenants/someone-else/documents/x")
            say.expect(other.status_code == 404, "the token cannot reach another tenant (404)")
        calls = {k: v - before.get(k, 0) for k, v in vendor.factory.counts().items()
                 if v - before.get(k, 0)}  # fmt: skip
        say.say(f"AWS calls for {2 * len(bodies)} document operations: {calls}")
        say.expect(calls.get("kms:GenerateDataKey", 0) <= 1, "at most one kms:GenerateDataKey")


def _revocation(
    say: Narrator, stage: Stage, tenant: str, action: str, *,
    revoke: Callable[[], object], restore: Callable[[], object],
) -> None:  # fmt: skip
    vendor = stage.vendor
    with say.step(f"revoke: {action}", "customer"):
        revoke()
    with say.step(f"reads and writes for {tenant} refused within the {BOUND_S:g}s bound", "vendor"):
        delay, error = _wait_refused(lambda: vendor.get_document(tenant, "contracts/000.txt"))
        say.ok(f"refused {delay:.2f}s after the customer's change")
        say.say(f"[yellow]{type(error).__name__}[/]: {error.message}")
        say.say(f"[yellow]fix[/]: {error.fix}")
        say.expect(delay <= BOUND_S + 1.0, f"within the bound (+1s slack): {delay:.2f}s")
        say.expect(str(vendor.tenants.get(tenant).state) == "KEY_UNAVAILABLE",
                   f"tenant {tenant} is KEY_UNAVAILABLE")  # fmt: skip
        say.expect_refused("a new write", lambda: vendor.put_document(tenant, "x", b"x"),
                           CustomerAccessError)  # fmt: skip
    with say.step("restore access", "customer"):
        restore()
    with say.step("recovers with no operator action", "vendor"):
        body = vendor.get_document(tenant, "reports/annual.pdf").read_all()
        say.expect(body == stage.documents[f"{tenant}/reports/annual.pdf"], "documents read again")
        say.expect(str(vendor.tenants.get(tenant).state) == "ACTIVE", f"tenant {tenant} ACTIVE")


def _migrate(say: Narrator, stage: Stage, acme: tuple[Customer, CustomerSetup, str]) -> None:
    customer, setup, old_key = acme
    vendor = stage.vendor
    for _ in range(3):  # a tenant with several tenant keys
        vendor.envelope.rotate("acme", vendor.routing.reader("acme"))
    with say.step("move acme to a new key: `byok customer setup` for a second key", "customer"):
        new = CustomerSetup("acme", "assume-role", ACME_ACCOUNT, external_id=setup.external_id,
                            hardening=True, key_alias="alias/byok-acme-2026")  # fmt: skip
        handover = customer.setup(new)
    with say.step("verify the new configuration, migrate (reads keep working)", "vendor"):
        stored = vendor.submit_config(
            "acme", mode="assume-role", key_arn=handover["key_arn"],
            client_role_arn=handover["client_role_arn"], external_id=handover["external_id"],
        )  # fmt: skip
        say.expect(vendor.verify("acme", stored.version).passed, "new configuration verified")
        reading = _ReadingProgress(say, vendor)
        report = migrate_tenant(vendor, "acme", to_version=stored.version, progress=reading)
        say.expect(report.complete, f"{report.total} tenant keys re-wrapped with KMS calls "
                   f"{report.kms_calls}; no document re-encrypted")  # fmt: skip
    with say.step("disable the old key", "customer"):
        customer.kms().disable_key(KeyId=old_key)
    with say.step("every acme document still reads", "vendor"):
        vendor.envelope.purge_tenant("acme")
        acme_docs = _of(stage, "acme")
        ok = all(vendor.get_document("acme", n).read_all() == b for n, b in acme_docs.items())
        say.expect(ok, f"{len(acme_docs)} documents read under the new key only")


class _ReadingProgress:
    """Migration progress that reads a document after each re-wrapped tenant key."""

    def __init__(self, say: Narrator, vendor: Vendor) -> None:
        self.say, self.vendor, self.reads = say, vendor, 0

    def start(self, description: str, total: int, completed: int = 0) -> None:
        self.say.say(f"{description}: {total - completed} of {total} tenant keys to re-wrap")

    def advance(self, amount: int = 1) -> None:
        self.vendor.get_document("acme", "contracts/001.txt").read_all()
        self.reads += amount

    def stop(self) -> None:
        self.say.ok(f"a document read after each of {self.reads} re-wraps: all served")


def _export(say: Narrator, stage: Stage) -> None:
    with say.step("export globex's data (documents as stored + wrapped keys)", "vendor"):
        bundle = stage.home / "globex-export"
        manifest = export_tenant(stage.vendor, "globex", bundle)
        say.ok(f"bundle with {len(manifest.documents)} documents, {manifest.keys} wrapped keys")
    with say.step("decrypt the export with only my own AWS credentials", "customer"):
        root = StaticCredentials(f"ROOT{GLOBEX_ACCOUNT}", "local")
        factory = ClientFactory(AwsSettings(endpoint_url=stage.endpoint_url, base_credentials=root))
        out = stage.home / "globex-plain"
        summary = decrypt_export(bundle, out, factory)
        mine = _of(stage, "globex")
        same = all((out / summary.paths[n]).read_bytes() == b for n, b in mine.items())
        say.expect(same and summary.documents == len(mine),
                   f"{summary.documents} documents decrypted, no vendor involved")  # fmt: skip


def _audit(say: Narrator, stage: Stage) -> None:
    with say.step("verify the tamper-evident audit chain", "vendor"):
        result = stage.vendor.audit.verify()
        say.expect(result.ok, f"{result.events} events chained, head {result.head_hash[:16]}...")


def _of(stage: Stage, tenant: str) -> dict[str, bytes]:
    prefix = tenant + "/"
    return {k[len(prefix) :]: v for k, v in stage.documents.items() if k.startswith(prefix)}


def _wait_refused(call: Callable[[], object]) -> tuple[float, CustomerAccessError]:
    start = time.monotonic()
    while time.monotonic() - start < BOUND_S + 10:
        try:
            call().read_all()  # type: ignore[attr-defined]
        except CustomerAccessError as error:
            return time.monotonic() - start, error
        time.sleep(0.05)
    raise DemoFailed("access was never refused after revocation")
