"""The console in a real browser (headless Debian Chromium): both onboardings to ACTIVE.

The customer admin starts from a blank browser with only a tenant-admin token. Option B is
done with the keyboard alone; Option A with the mouse. The customer's AWS actions are the
ones the console tells the admin to take: for B the ``byok customer setup`` command copied
from the page, run as the customer; for A the key-policy statement copied from the page,
put on a new key with boto3. Every page is screenshotted (into docs/console/ with ``make
screenshots``) and checked:
no console error, every control labelled, no token in any URL. Hostile checks: a form
without its CSRF token, another tenant's pages, a copied cookie after sign-out.

The tests of this module run in order and share one browser and one service.
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

pytestmark = pytest.mark.localaws


class Story:
    """What the tests of this module share."""

    def __init__(
        self, world: ConsoleWorld, context: Any, url: str, tmp: Path, monitor: KeyMonitor
    ) -> None:
        self.world = world
        self.monitor = monitor
        self.context = context
        self.url = url
        self.tmp = tmp
        self.acme = world.new_tenant("acme")
        self.globex = world.new_tenant("globex")
        secrets = [self.acme, self.globex, world.operator]
        secrets += [t.split("_", 2)[2] for t in list(secrets)]
        self.tab = Tab(context, url, secrets, tmp / "screenshots")
        self.accounts: dict[str, str] = {}


@pytest.fixture(scope="module")
def story(world: ConsoleWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    chromium_or_skip()
    tmp = tmp_path_factory.mktemp("browser")
    # The server's monitor; BackgroundServer runs no lifespan, so the tests sweep by hand.
    monitor = KeyMonitor(world.vendor, interval_s=3600)
    with (
        BackgroundServer(create_app(world.vendor, monitor=monitor)) as server,
        chromium_context(tmp / "profile") as context,
    ):
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        told = Story(world, context, server.url, tmp, monitor)
        yield told
        told.tab.assert_clean()


def submit(tab: Tab, key: str = "Enter") -> None:
    """Press ``key`` on the focused control and wait for the page it loads."""
    with tab.page.expect_navigation():
        tab.page.keyboard.press(key)


def test_a_blank_browser_is_sent_to_sign_in(story: Story) -> None:
    tab = story.tab
    tab.goto("/console/t/acme")
    assert tab.page.url == story.url + "/console/signin"
    tab.shot("01-sign-in")
    tab.page.fill("#token", "byok_0123456789abcdef_not-a-real-token")
    with tab.page.expect_navigation():
        tab.page.click("form[action='/console/signin'] button")
    assert "not valid" in tab.page.inner_text("#signin-error")
    tab.check()


def test_option_b_keyboard_only_from_sign_in_to_handover(story: Story) -> None:
    tab, page = story.tab, story.tab.page
    tab.goto("/console/signin")
    tab.tab_to("#token")
    page.keyboard.type(story.acme)
    submit(tab)
    assert page.url.endswith("/console/t/acme")
    assert "PENDING" in page.inner_text("main")
    tab.shot("02-dashboard-pending")
    tab.tab_to("a.button[href$='/setup']")
    submit(tab)
    tab.shot("03-setup-choose")
    external_id = page.inner_text("#external-id")
    assert external_id == story.world.vendor.tenants.get("acme").external_id
    tab.tab_to("#mode-direct")
    page.keyboard.press("ArrowDown")  # the radio group: Option B
    assert page.is_checked("#mode-assume-role")
    account = story.accounts["acme"] = story.world.local_aws.new_account()
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
    handover = run_as_customer(story, command, account)
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


def run_as_customer(story: Story, command: str, account: str) -> dict[str, Any]:
    """Run the page's ``byok customer setup`` command with the customer's credentials."""
    args = shlex.split(command.replace("\\\n", " "))
    assert args[:3] == ["byok", "customer", "setup"]
    byok = Path(sys.executable).with_name("byok")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=f"ROOT{account}", AWS_SECRET_ACCESS_KEY="local")
    done = subprocess.run(
        [str(byok), *args[1:], "--endpoint-url", story.world.local_aws.endpoint_url],
        cwd=story.tmp, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    handover: dict[str, Any] = json.loads((story.tmp / "handover.json").read_text())
    assert handover["key_arn"].split(":")[4] == account
    return handover


def test_option_b_keyboard_only_verify_and_activate(story: Story) -> None:
    tab, page = story.tab, story.tab.page
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
    assert page.url.endswith("/console/t/acme")
    assert story.world.vendor.tenants.get("acme").state.value == "ACTIVE"


def test_dashboard_shows_use_refusal_and_recovery(story: Story) -> None:
    tab, page, vendor = story.tab, story.tab.page, story.world.vendor
    for index in range(3):
        vendor.put_document("acme", f"reports/q{index + 1}.pdf", b"quarterly figures " * 200)
    tab.goto("/console/t/acme")
    main = page.inner_text("main")
    assert "ACTIVE" in main and "3 documents" in main and "kms:GenerateDataKey" in main
    tab.shot("07-dashboard-active")
    kms = story.world.local_aws.client("kms", story.accounts["acme"])
    key_arn = vendor.tenants.active_config("acme").config.key_arn  # type: ignore[union-attr]
    kms.disable_key(KeyId=key_arn)
    try:
        assert vendor.check_key("acme").value == "KEY_UNAVAILABLE"
        tab.goto("/console/t/acme")
        alert = page.inner_text("[role=alert]")
        assert "KeyDisabled" in alert and "Fix:" in alert
        assert page.locator("tr.refused").count() >= 1
        tab.shot("08-dashboard-key-unavailable")
    finally:
        kms.enable_key(KeyId=key_arn)
    assert vendor.check_key("acme").value == "ACTIVE"


def test_push_revocation_rules_and_a_secret_that_works(story: Story) -> None:
    tab, page = story.tab, story.tab.page
    tab.goto("/console/t/acme")
    with page.expect_navigation():
        page.click("text=set it up")
    assert page.get_attribute("#endpoint", "aria-invalid") == "true"  # http: not accepted
    page.fill("#endpoint", "https://byok.vendor.example/v1/key-events/acme")
    with page.expect_navigation():
        page.click("text=Use this URL")
    with page.expect_download() as download:
        page.click("text=forwarding-cloudformation.json")
    rules = Path(download.value.path()).read_text()
    key_arn = story.world.vendor.tenants.active_config("acme").config.key_arn  # type: ignore[union-attr]
    assert key_arn in rules and "byok-client-role" in rules and "EventKey" in rules
    with page.expect_navigation():
        page.click("text=Make the key-event secret")
    secret = page.inner_text("#event-secret")
    tab.shot("09-push-revocation")
    assert story.world.vendor.policies.get("acme").event_secret_matches(secret)
    event = {"id": "console-test-1", "time": datetime.now(UTC).isoformat(),
             "detail": {"eventName": "DisableKey"}}  # fmt: skip
    for key, status in (("byokev_wrong", 401), (secret, 202)):
        answer = httpx.post(f"{story.url}/v1/key-events/acme", json=event,
                            headers={"X-Byok-Event-Key": key}, timeout=30)  # fmt: skip
        assert answer.status_code == status, answer.text
    assert answer.json()["outcome"] == "accessible"  # the key is enabled: nothing to revoke
    story.tab.secrets.append(secret)


def test_downloads_audit_log_and_export(story: Story) -> None:
    tab, page = story.tab, story.tab.page
    tab.goto("/console/t/acme")
    with page.expect_download() as audit:
        page.click("text=Download your audit log")
    lines = Path(audit.value.path()).read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["tenant"] == "acme" and last["hash"] in page.inner_text("main")
    with page.expect_download() as export:
        page.click("text=Download an export")
    with zipfile.ZipFile(io.BytesIO(Path(export.value.path()).read_bytes())) as bundle:
        names = bundle.namelist()
    assert "manifest.json" in names and sum(n.startswith("documents/") for n in names) >= 3


def test_a_form_without_its_csrf_token_is_refused(story: Story) -> None:
    tab, page = story.tab, story.tab.page
    tab.goto("/console/t/acme")
    page.evaluate("document.querySelector('form[action$=\"/export\"] [name=csrf_token]').remove()")
    with page.expect_navigation():
        page.click("text=Download an export")
    assert "CSRF" in page.inner_text("main")
    tab.shot("11-csrf-refused")


def test_another_tenants_pages_are_unreachable(story: Story) -> None:
    tab, page = story.tab, story.tab.page
    for path in ("/console/t/globex", "/console/t/globex/setup", "/console/operator"):
        response = tab.goto(path)
        assert response.status in (403, 404), (path, response.status)
        assert "globex" not in page.inner_text("main").replace("/console/t/globex", "")
    assert tab.goto("/console/t/no-such-tenant").status == 404


def test_sign_out_then_option_a_with_the_mouse(story: Story) -> None:
    tab, page, world = story.tab, story.tab.page, story.world
    tab.goto("/console/t/acme")
    with page.expect_navigation():
        page.click("form[action='/console/signout'] button")
    assert tab.goto("/console/t/acme").url.endswith("/console/signin")
    page.fill("#token", story.globex)
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


def test_the_operator_sees_tenants_monitor_and_refusals(story: Story) -> None:
    tab, page = story.tab, story.tab.page
    sweep = story.monitor.sweep()
    assert sweep.ran and set(sweep.states) == {"acme", "globex"}
    with page.expect_navigation():
        page.click("form[action='/console/signout'] button")
    page.fill("#token", story.world.operator)
    with page.expect_navigation():
        page.click("form[action='/console/signin'] button")
    assert page.url.endswith("/console/operator")
    tenants = page.inner_text("#tenants-h + table")
    assert "acme" in tenants and "globex" in tenants
    assert "KeyDisabled" in page.inner_text("#refusals-h ~ table")
    assert "2 tenants probed" in page.inner_text("#monitor-h + p")
    assert "No configuration is waiting for approval" in page.inner_text("#approvals-h + p")
    tab.shot("10-operator")
