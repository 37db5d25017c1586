"""The console in a real browser (headless Debian Chromium): both onboardings to ACTIVE.

The customer admin starts from a blank browser with only a tenant-admin token. Option B is
done with the keyboard alone; Option A with the mouse. The customer's AWS actions are the
ones the console tells the admin to take: for B the ``byok customer setup`` command copied
from the page, run as the customer; for A the key-policy statement copied from the page,
put on a new key with boto3. Every page is screenshotted (into docs/console/ with ``make
screenshots``) and checked:
no console error, every control labelled, no token in any URL. Hostile checks: a form
without its CSRF token, another tenant's pages, a copied cookie after sign-out. The operator
approves a re-rooting from the operator page with the keyboard.

Each test stands alone (any order, or by itself): the module builds the world, the server and
one browser once; every test gets a new page with no cookies and its own tenants, brought to
the state it starts from (PENDING, hand-over submitted, ACTIVE) through the vendor service and
the customer toolkit rather than through an earlier test.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import Tab, chromium_context, chromium_or_skip
from console_world import ConsoleWorld

from byok.api import create_app
from byok.api.server import BackgroundServer
from byok.service.monitor import KeyMonitor
from byok.service.onboarding import TENANT_ADMIN, Principal
from byok.store.tokens import token_id_of

pytestmark = pytest.mark.localaws


class Site:
    """What the tests of this module share: the world, its server and monitor, one browser."""

    def __init__(
        self, world: ConsoleWorld, context: Any, url: str, tmp: Path, monitor: KeyMonitor
    ) -> None:
        self.world = world
        self.monitor = monitor
        self.context = context
        self.url = url
        self.tmp = tmp

    def secrets(self) -> list[str]:
        """Every token minted in the world so far, and the secret part of each."""
        tokens = [self.world.operator, *self.world.admins.values()]
        return tokens + [t.split("_", 2)[2] for t in tokens]

    def pending(self, tenant: str) -> str:
        """A new PENDING tenant; returns its admin token."""
        return self.world.new_tenant(tenant)

    def submitted(self, tenant: str) -> Customer:
        """A new tenant whose customer ran Option B set-up and handed it over (not verified)."""
        token = self.pending(tenant)
        vendor = self.world.vendor
        external_id = vendor.tenants.get(tenant).external_id
        handover = self.world.customer_setup(tenant, "assume-role", external_id=external_id)
        vendor.submit_config(tenant, mode="assume-role", key_arn=handover["key_arn"],
                             client_role_arn=handover["client_role_arn"],
                             external_id=external_id)  # fmt: skip
        return Customer(tenant, token, handover["account"], handover["key_arn"])

    def active(self, tenant: str, *, documents: int = 0) -> Customer:
        """A new Option B tenant, verified and ACTIVE, holding ``documents`` documents."""
        customer = self.submitted(tenant)
        vendor = self.world.vendor
        report = vendor.verify(tenant)
        assert report.passed, report.to_dict()
        vendor.activate(tenant)
        for index in range(documents):
            vendor.put_document(tenant, f"reports/q{index + 1}.pdf", b"quarterly figures " * 200)
        return customer


@dataclass(frozen=True)
class Customer:
    """A tenant the test set up: its admin token and the customer's account and key."""

    tenant: str
    token: str
    account: str
    key_arn: str


@pytest.fixture(scope="module")
def site(world: ConsoleWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    chromium_or_skip()
    tmp = tmp_path_factory.mktemp("browser")
    # The server's monitor; BackgroundServer runs no lifespan, so the tests sweep by hand.
    monitor = KeyMonitor(world.vendor, interval_s=3600)
    with (
        BackgroundServer(create_app(world.vendor, monitor=monitor)) as server,
        chromium_context(tmp / "profile") as context,
    ):
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        yield Site(world, context, server.url, tmp, monitor)


@pytest.fixture
def tab(site: Site) -> Iterator[Tab]:
    """A new page in a browser with no session; checked clean (no error, no token in a URL)."""
    site.context.clear_cookies()
    opened = Tab(site.context, site.url, [], site.tmp / "screenshots")
    yield opened
    opened.secrets += site.secrets()
    try:
        opened.assert_clean()
    finally:
        opened.page.close()


def sign_in(tab: Tab, token: str) -> None:
    """Sign in with ``token`` from the sign-in page (mouse)."""
    tab.goto("/console/signin")
    tab.page.fill("#token", token)
    with tab.page.expect_navigation():
        tab.page.click("form[action='/console/signin'] button")


def submit(tab: Tab, key: str = "Enter") -> None:
    """Press ``key`` on the focused control and wait for the page it loads."""
    with tab.page.expect_navigation():
        tab.page.keyboard.press(key)


def test_a_blank_browser_is_sent_to_sign_in(site: Site, tab: Tab) -> None:
    tab.goto("/console/t/acme")
    assert tab.page.url == site.url + "/console/signin"
    tab.shot("01-sign-in")
    tab.page.fill("#token", "byok_0123456789abcdef_not-a-real-token")
    with tab.page.expect_navigation():
        tab.page.click("form[action='/console/signin'] button")
    assert "not valid" in tab.page.inner_text("#signin-error")
    tab.check()


def test_option_b_keyboard_only_from_sign_in_to_handover(
    site: Site, tab: Tab, tmp_path: Path
) -> None:
    page, token = tab.page, site.pending("acme")
    tab.goto("/console/signin")
    tab.tab_to("#token")
    page.keyboard.type(token)
    submit(tab)
    assert page.url.endswith("/console/t/acme")
    assert "PENDING" in page.inner_text("main")
    tab.shot("02-dashboard-pending")
    tab.tab_to("a.button[href$='/setup']")
    submit(tab)
    tab.shot("03-setup-choose")
    external_id = page.inner_text("#external-id")
    assert external_id == site.world.vendor.tenants.get("acme").external_id
    tab.tab_to("#mode-direct")
    page.keyboard.press("ArrowDown")  # the radio group: Option B
    assert page.is_checked("#mode-assume-role")
    account = site.world.local_aws.new_account()
    tab.tab_to("#account")
    page.keyboard.type(account)
    submit(tab)
    tab.shot("04-setup-option-b")
    command = page.inner_text("#setup-command")
    assert f"--external-id {external_id}" in command and "--mode assume-role" in command
    tab.tab_to("button[data-copy='setup-command']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#setup-command-status:has-text('Copied.')")
    assert page.evaluate("navigator.clipboard.readText()") == command
    with page.expect_download() as download:
        tab.tab_to("a[href*='cloudformation.json']")
        page.keyboard.press("Enter")
    template = json.loads(Path(download.value.path()).read_text())
    assert "Resources" in template and external_id in json.dumps(template)
    handover = run_as_customer(site, command, account, tmp_path)
    # A wrong value first: the field says what is wrong and how to fix it.
    tab.tab_to("#key_arn")
    page.keyboard.type("alias/byok-acme")
    tab.tab_to("#client_role_arn")
    page.keyboard.type(handover["client_role_arn"])
    submit(tab)
    assert page.get_attribute("#key_arn", "aria-invalid") == "true"
    assert "alias" in page.inner_text("#key_arn-error").lower()
    tab.shot("05-handover-field-error")
    tab.tab_to("#key_arn")
    page.keyboard.press("Control+A")
    page.keyboard.type(handover["key_arn"])
    submit(tab)
    assert page.url.endswith("/console/t/acme/setup/verify")
    assert "Not verified yet" in page.inner_text("#report")


def run_as_customer(site: Site, command: str, account: str, cwd: Path) -> dict[str, Any]:
    """Run the page's ``byok customer setup`` command with the customer's credentials."""
    args = shlex.split(command.replace("\\\n", " "))
    assert args[:3] == ["byok", "customer", "setup"]
    byok = Path(sys.executable).with_name("byok")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=f"ROOT{account}", AWS_SECRET_ACCESS_KEY="local")
    done = subprocess.run(
        [str(byok), *args[1:], "--endpoint-url", site.world.local_aws.endpoint_url],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    handover: dict[str, Any] = json.loads((cwd / "handover.json").read_text())
    assert handover["key_arn"].split(":")[4] == account
    return handover


def test_option_b_keyboard_only_verify_and_activate(site: Site, tab: Tab) -> None:
    page, customer = tab.page, site.submitted("initech")
    sign_in(tab, customer.token)
    tab.goto("/console/t/initech/setup/verify")
    assert "Not verified yet" in page.inner_text("#report")
    tab.tab_to("form[action$='/verify'] button")
    submit(tab)
    statuses = dict(zip(page.locator(".check code").all_inner_texts(),
                        page.locator(".check .state").all_inner_texts(), strict=True))  # fmt: skip
    assert {"role_assumable", "external_id_required", "round_trip"} <= set(statuses)
    assert set(statuses.values()) == {"passed"}, statuses
    tab.shot("06-verify-passed")
    tab.tab_to("form[action$='/activate'] button")
    submit(tab)
    assert page.url.endswith("/console/t/initech")
    assert site.world.vendor.tenants.get("initech").state.value == "ACTIVE"


def test_dashboard_shows_use_refusal_and_recovery(site: Site, tab: Tab) -> None:
    page, vendor = tab.page, site.world.vendor
    customer = site.active("umbrella", documents=3)
    sign_in(tab, customer.token)
    main = page.inner_text("main")
    assert "ACTIVE" in main and "3 documents" in main and "kms:GenerateDataKey" in main
    tab.shot("07-dashboard-active")
    kms = site.world.local_aws.client("kms", customer.account)
    kms.disable_key(KeyId=customer.key_arn)
    try:
        assert vendor.check_key("umbrella").value == "KEY_UNAVAILABLE"
        tab.goto("/console/t/umbrella")
        alert = page.inner_text("[role=alert]")
        assert "KeyDisabled" in alert and "Fix:" in alert
        assert page.locator("tr.refused").count() >= 1
        tab.shot("08-dashboard-key-unavailable")
    finally:
        kms.enable_key(KeyId=customer.key_arn)
    assert vendor.check_key("umbrella").value == "ACTIVE"


def test_push_revocation_rules_and_a_secret_that_works(site: Site, tab: Tab) -> None:
    page, customer = tab.page, site.active("hooli")
    sign_in(tab, customer.token)
    with page.expect_navigation():
        page.click("text=set it up")
    assert page.get_attribute("#endpoint", "aria-invalid") == "true"  # http: not accepted
    page.fill("#endpoint", "https://byok.vendor.example/v1/key-events/hooli")
    with page.expect_navigation():
        page.click("text=Use this URL")
    with page.expect_download() as download:
        page.click("text=forwarding-cloudformation.json")
    rules = Path(download.value.path()).read_text()
    assert customer.key_arn in rules and "byok-client-role" in rules and "EventKey" in rules
    with page.expect_navigation():
        page.click("text=Make the key-event secret")
    secret = page.inner_text("#event-secret")
    tab.secrets.append(secret)
    tab.shot("09-push-revocation")
    assert site.world.vendor.policies.get("hooli").event_secret_matches(secret)
    event = {"id": "console-test-1", "time": datetime.now(UTC).isoformat(),
             "detail": {"eventName": "DisableKey"}}  # fmt: skip
    for key, status in (("byokev_wrong", 401), (secret, 202)):
        answer = httpx.post(f"{site.url}/v1/key-events/hooli", json=event,
                            headers={"X-Byok-Event-Key": key}, timeout=30)  # fmt: skip
        assert answer.status_code == status, answer.text
    assert answer.json()["outcome"] == "accessible"  # the key is enabled: nothing to revoke


def test_downloads_audit_log_and_export(site: Site, tab: Tab) -> None:
    page, customer = tab.page, site.active("stark", documents=3)
    sign_in(tab, customer.token)
    with page.expect_download() as audit:
        page.click("text=Download your audit log")
    lines = Path(audit.value.path()).read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["tenant"] == "stark" and last["hash"] in page.inner_text("main")
    with page.expect_download() as export:
        page.click("text=Download an export")
    with zipfile.ZipFile(io.BytesIO(Path(export.value.path()).read_bytes())) as bundle:
        names = bundle.namelist()
    documents = [n for n in names if n.startswith("documents/") and not n.endswith("/")]
    assert "manifest.json" in names and len(documents) == 3


def test_a_form_without_its_csrf_token_is_refused(site: Site, tab: Tab) -> None:
    page = tab.page
    sign_in(tab, site.pending("wayne"))
    page.evaluate("document.querySelector('form[action$=\"/export\"] [name=csrf_token]').remove()")
    with page.expect_navigation():
        page.click("text=Download an export")
    assert "CSRF" in page.inner_text("main")
    tab.shot("11-csrf-refused")


def test_another_tenants_pages_are_unreachable(site: Site, tab: Tab) -> None:
    page = tab.page
    site.pending("tyrell")
    sign_in(tab, site.pending("vandelay"))
    for path in ("/console/t/tyrell", "/console/t/tyrell/setup", "/console/operator"):
        response = tab.goto(path)
        assert response.status in (403, 404), (path, response.status)
        assert "tyrell" not in page.inner_text("main").replace("/console/t/tyrell", "")
    assert tab.goto("/console/t/no-such-tenant").status == 404


def test_sign_out_then_option_a_with_the_mouse(site: Site, tab: Tab) -> None:
    page, world, token = tab.page, site.world, site.pending("globex")
    sign_in(tab, token)
    with page.expect_navigation():
        page.click("form[action='/console/signout'] button")
    assert tab.goto("/console/t/globex").url.endswith("/console/signin")
    page.fill("#token", token)
    with page.expect_navigation():
        page.click("form[action='/console/signin'] button")
    with page.expect_navigation():
        page.click("nav >> text=Set-up wizard")
    page.check("#mode-direct")
    with page.expect_navigation():
        page.click("text=Show the policies")
    tab.shot("04a-setup-option-a")
    statements = json.loads(page.inner_text("#doc-1"))
    account = world.local_aws.new_account()
    kms = world.local_aws.client("kms", account)
    key_arn = kms.create_key(Description="globex byok key")["KeyMetadata"]["Arn"]
    root = {"Sid": "Enable IAM policies", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
            "Resource": "*"}  # fmt: skip
    policy = {"Version": "2012-10-17", "Statement": [root, *statements]}
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    page.fill("#key_arn", key_arn)
    with page.expect_navigation():
        page.click("text=Save and go to verification")
    with page.expect_navigation():
        page.click("form[action$='/verify'] button")
    assert set(page.locator(".check .state").all_inner_texts()) == {"passed"}
    with page.expect_navigation():
        page.click("form[action$='/activate'] button")
    assert "ACTIVE" in page.inner_text("main")
    assert world.vendor.tenants.get("globex").state.value == "ACTIVE"


def test_the_operator_sees_tenants_monitor_and_refusals(site: Site, tab: Tab) -> None:
    page, vendor = tab.page, site.world.vendor
    customer = site.active("cyberdyne")
    kms = site.world.local_aws.client("kms", customer.account)
    kms.disable_key(KeyId=customer.key_arn)
    try:
        assert vendor.check_key("cyberdyne").value == "KEY_UNAVAILABLE"  # a refusal, logged
    finally:
        kms.enable_key(KeyId=customer.key_arn)
    sweep = site.monitor.sweep()
    assert sweep.ran and sweep.states["cyberdyne"].value == "ACTIVE"
    sign_in(tab, site.world.operator)
    assert page.url.endswith("/console/operator")
    tenants = page.inner_text("#tenants-h + table")
    assert "cyberdyne" in tenants
    assert "KeyDisabled" in page.inner_text("#refusals-h ~ table")
    assert f"{len(sweep.states)} tenants probed" in page.inner_text("#monitor-h + p")
    assert "No configuration is waiting for approval" in page.inner_text("#approvals-h + p")
    tab.shot("10-operator")


def test_the_operator_approves_a_rerooting_with_the_keyboard(site: Site, tab: Tab) -> None:
    page, world = tab.page, site.world
    customer = site.active("initrode")
    vendor = world.vendor
    moved = world.customer_setup("initrode", "direct")  # a key in another AWS account
    admin = Principal.of_token(str(token_id_of(customer.token)), TENANT_ADMIN)
    version = vendor.submit_config("initrode", mode="direct", key_arn=moved["key_arn"],
                                   principal=admin).version  # fmt: skip
    assert vendor.verify("initrode", version).passed
    sign_in(tab, world.operator)
    assert moved["key_arn"] in page.inner_text("#approvals-h ~ table")
    tab.check()
    tab.tab_to(f"form[action$='/t/initrode/key-configs/{version}/approve'] button")
    submit(tab)
    assert page.url.endswith("/console/operator#approvals")
    assert "No configuration is waiting for approval" in page.inner_text("#approvals")
    approved = vendor.tenants.config("initrode", version).approved_by
    assert approved == f"token:{token_id_of(world.operator)}"
