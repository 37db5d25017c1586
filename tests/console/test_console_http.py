"""The console over HTTP without a browser: sessions, CSRF, headers, tenant isolation.

Each test is a hostile client: a forged form, a stolen cookie after sign-out, a revoked
token, another tenant's admin, a token in a query string.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_world import CSRF, ConsoleWorld, sign_in
from fastapi.testclient import TestClient

from byok.api import create_app
from byok.api.console.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE
from byok.store.console_sessions import ConsoleSessions
from byok.store.tokens import TokenRepository, token_id_of

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def app_world(world: ConsoleWorld) -> ConsoleWorld:
    for tenant in ("initech", "umbrella"):
        world.new_tenant(tenant)
    return world


@pytest.fixture
def client(app_world: ConsoleWorld) -> Iterator[TestClient]:
    with TestClient(create_app(app_world.vendor), follow_redirects=False) as test_client:
        yield test_client


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/console/t/initech", "/console/t/initech/setup", "/console/operator"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/signin"


def test_session_cookie_is_httponly_strict_and_holds_no_token(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    token = app_world.admins["initech"]
    form = client.get("/console/signin")
    csrf = CSRF.search(form.text)
    assert csrf is not None
    answer = client.post("/console/signin", data={"token": token, "csrf_token": csrf.group(1)})
    cookie = next(v for k, v in answer.headers.multi_items()
                  if k == "set-cookie" and v.startswith(SESSION_COOKIE + "="))  # fmt: skip
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "path=/console" in cookie.lower()
    secret = token.split("_", 2)[2]  # byok_<id>_<secret>; the secret may hold "_"
    assert secret not in cookie and token not in cookie
    page = client.get("/console/t/initech")
    assert token not in page.text and secret not in page.text
    assert token_id_of(token) in page.text  # the public id names the session's token


def test_secure_flag_over_tls(app_world: ConsoleWorld) -> None:
    app = create_app(app_world.vendor)
    with TestClient(app, base_url="https://console.example", follow_redirects=False) as tls:
        form = tls.get("/console/signin")
        csrf = CSRF.search(form.text)
        assert csrf is not None
        body = {"token": app_world.admins["initech"], "csrf_token": csrf.group(1)}
        answer = tls.post("/console/signin", data=body)
        cookies = [v.lower() for k, v in answer.headers.multi_items() if k == "set-cookie"]
        assert any(c.startswith(SESSION_COOKIE) and "; secure" in c for c in cookies), cookies


def test_every_page_has_a_strict_csp(client: TestClient, app_world: ConsoleWorld) -> None:
    sign_in(client, app_world.admins["initech"])
    for path in ("/console/signin", "/console/t/initech", "/console/static/console.css"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    csrf = sign_in(client, app_world.admins["initech"])
    before = app_world.vendor.tenants.configs("initech")
    body = {"mode": "direct", "key_arn": "arn:aws:kms:us-east-1:123456789012:key/"
            "1234abcd-12ab-34cd-56ef-1234567890ab", "region": "us-east-1"}  # fmt: skip
    for forged in ({}, {"csrf_token": "0" * 64}, {"csrf_token": csrf[:-1] + "x"}):
        answer = client.post("/console/t/initech/setup/handover", data=body | forged)
        assert answer.status_code == 403, answer.text
    other_site = client.post("/console/t/initech/setup/handover",
                             data=body | {"csrf_token": csrf},
                             headers={"Origin": "https://evil.example"})  # fmt: skip
    assert other_site.status_code == 403
    assert app_world.vendor.tenants.configs("initech") == before
    signin = client.post("/console/signin", data={"token": app_world.operator})
    assert signin.status_code == 403


def test_another_tenants_pages_answer_like_a_missing_tenant(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    csrf = sign_in(client, app_world.admins["initech"])
    for path in ("/console/t/umbrella", "/console/t/umbrella/setup",
                 "/console/t/umbrella/audit.jsonl", "/console/t/no-such-tenant"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "umbrella" not in answer.text.replace("/console/t/umbrella", "")
    export = client.post("/console/t/umbrella/export", data={"csrf_token": csrf})
    assert export.status_code == 404
    assert client.get("/console/operator").status_code == 403


def test_sign_out_ends_the_session_for_a_copied_cookie(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    csrf = sign_in(client, app_world.admins["initech"])
    stolen = client.cookies.get(SESSION_COOKIE)
    assert stolen
    assert client.post("/console/signout", data={"csrf_token": csrf}).status_code == 303
    client.cookies.set(SESSION_COOKIE, stolen, path="/console")
    assert client.get("/console/t/initech").status_code == 303
    replay = client.post("/console/t/initech/verify", data={"csrf_token": csrf})
    assert replay.status_code == 403


def test_revoking_the_token_ends_its_console_sessions(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    token = app_world.new_tenant("hooli")
    sign_in(client, token)
    assert client.get("/console/t/hooli").status_code == 200
    token_id = token_id_of(token)
    assert token_id is not None
    TokenRepository(app_world.vendor.store).revoke(token_id)
    assert client.get("/console/t/hooli").status_code == 303


def test_only_admin_and_operator_tokens_sign_in(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    writer = TokenRepository(app_world.vendor.store).mint("writer", tenant="initech").token
    form = client.get("/console/signin")
    csrf = CSRF.search(form.text)
    assert csrf is not None
    for token, status in ((writer, 403), ("byok_nothing_here", 401), ("", 400)):
        answer = client.post("/console/signin", data={"token": token, "csrf_token": csrf.group(1)})
        assert answer.status_code == status, answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
        if token:
            assert token not in answer.text


def test_the_operator_sees_tenants_by_state(client: TestClient, app_world: ConsoleWorld) -> None:
    sign_in(client, app_world.operator)
    page = client.get("/console/operator")
    assert page.status_code == 200
    for tenant in ("initech", "umbrella"):
        assert tenant in page.text
    assert client.get("/console/t/initech").status_code == 403


def test_tenant_supplied_text_is_escaped(client: TestClient, app_world: ConsoleWorld) -> None:
    vendor = app_world.vendor
    vendor.create_tenant("evil-corp", name='<script>alert("x")</script>')
    sign_in(client, app_world.operator)
    page = client.get("/console/operator")
    assert '<script>alert("x")</script>' not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_an_oversized_form_is_refused(client: TestClient, app_world: ConsoleWorld) -> None:
    csrf = sign_in(client, app_world.admins["initech"])
    body = {"csrf_token": csrf, "mode": "direct", "key_arn": "a" * 200_000, "region": "us-east-1"}
    answer = client.post("/console/t/initech/setup/handover", data=body)
    assert answer.status_code == 413
    assert app_world.vendor.tenants.configs("initech") == []


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"mode": "direct", "key_arn": "alias/my-key"}, "key_arn", "alias"),
        ({"mode": "direct", "key_arn": KEY.replace("us-east-1", "eu-west-1"),
          "region": "us-east-1"}, "region", "eu-west-1"),
        ({"mode": "assume-role", "key_arn": KEY, "client_role_arn": "byok-client-role"},
         "client_role_arn", "arn"),
        ({"mode": "assume-role", "key_arn": KEY, "client_role_arn": ""}, "client_role_arn",
         "required"),
    ],
)  # fmt: skip
def test_hand_over_errors_name_the_field_and_the_fix(
    client: TestClient, app_world: ConsoleWorld, fields: dict[str, str], field: str, words: str
) -> None:
    csrf = sign_in(client, app_world.admins["initech"])
    body = {"csrf_token": csrf, "region": "us-east-1"} | fields
    answer = client.post("/console/t/initech/setup/handover", data=body)
    assert answer.status_code == 422, answer.text
    assert f'id="{field}-error"' in answer.text
    message = answer.text.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert words in message.lower(), message
    assert app_world.vendor.tenants.configs("initech") == []


def test_a_failing_verification_shows_fixes_and_activation_is_refused(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    token = app_world.new_tenant("dunder")
    kms = app_world.local_aws.client("kms", app_world.local_aws.new_account())
    key_arn = kms.create_key(Description="no vendor in the key policy")["KeyMetadata"]["Arn"]
    csrf = sign_in(client, token)
    body = {"csrf_token": csrf, "mode": "direct", "key_arn": key_arn, "region": "us-east-1"}
    answer = client.post("/console/t/dunder/setup/handover", data=body)
    assert answer.status_code == 303 and answer.headers["location"].endswith("/setup/verify")
    assert client.post("/console/t/dunder/verify", data={"csrf_token": csrf}).status_code == 303
    page = client.get("/console/t/dunder/setup/verify")
    assert "Some checks did not pass" in page.text and "<strong>Fix:</strong>" in page.text
    refused = client.post("/console/t/dunder/activate", data={"csrf_token": csrf})
    assert refused.status_code == 409, refused.text
    assert "Fix:" in refused.text
    assert app_world.vendor.tenants.get("dunder").state.value == "PENDING"


def test_an_export_that_fails_half_way_leaves_no_files(
    client: TestClient, app_world: ConsoleWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = app_world.vendor
    token = app_world.new_tenant("stark")
    handover = app_world.customer_setup("stark", "direct")
    vendor.submit_config("stark", mode="direct", key_arn=handover["key_arn"])
    assert vendor.verify("stark").passed
    vendor.activate("stark")
    vendor.put_document("stark", "plans.txt", b"armour" * 100)
    vendor.put_document("stark", "zz-last.txt", b"reactor" * 100)
    head = vendor.documents.head("stark", "zz-last.txt")
    root = Path(vendor.documents.blobs.root)  # type: ignore[attr-defined]
    blob = next(p for p in (root / "stark").rglob("*") if p.stat().st_size == head.size)
    blob.write_bytes(b"\0" * head.size)  # the second document exported is damaged
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    csrf = sign_in(client, token)
    answer = client.post("/console/t/stark/export", data={"csrf_token": csrf})
    assert answer.status_code == 422 and "byok fsck" in answer.text
    assert list(tmp_path.iterdir()) == [], "the half-written export was left behind"


def test_signing_in_again_ends_the_earlier_session(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    sign_in(client, app_world.admins["initech"])
    first = client.cookies.get(SESSION_COOKIE)
    assert first
    client.cookies.delete(SESSION_COOKIE, path="/console")
    form = CSRF.search(client.get("/console/signin").text)
    assert form is not None
    body = {"token": app_world.admins["initech"], "csrf_token": form.group(1)}
    answer = client.post(  # the browser still sends the earlier session's cookie
        "/console/signin", data=body, headers={"Cookie": f"{SESSION_COOKIE}={first}; "
        + "; ".join(f"{k}={v}" for k, v in client.cookies.items())},
    )  # fmt: skip
    assert answer.status_code == 303
    assert f"{SESSION_COOKIE}={first}" not in answer.headers["set-cookie"]
    assert ConsoleSessions(app_world.vendor.store).resolve(first) is None


def test_the_wizard_adds_the_customers_levers_to_the_policies(
    client: TestClient, app_world: ConsoleWorld
) -> None:
    sign_in(client, app_world.admins["initech"])
    query = {"mode": "direct", "account": "123456789012", "deny_support": "1",
             "deny_scopes": "legal, hr", "deny_periods": "2026-10"}  # fmt: skip
    page = client.get("/console/t/initech/setup", params=query)
    assert page.status_code == 200, page.text
    assert "Deny the vendor role the denied access reasons" in page.text
    assert "kms:EncryptionContext:byok:scope" in page.text and "2026-10-*" in page.text
    download = client.get("/console/t/initech/setup/files/key-policy.json", params=query)
    assert download.status_code == 200 and "vendor-support" in download.text
    bad = client.get("/console/t/initech/setup", params=query | {"deny_periods": "October"})
    assert bad.status_code == 422
    message = bad.text.split('id="deny_periods-error">', 1)[1].split("</p>", 1)[0]
    assert "is not a period" in message and "2026-11" in message


def test_push_revocation_offers_the_public_url_or_says_it_is_a_guess(
    client: TestClient, app_world: ConsoleWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = app_world.vendor
    token = app_world.new_tenant("wonka")
    handover = app_world.customer_setup("wonka", "direct")
    vendor.submit_config("wonka", mode="direct", key_arn=handover["key_arn"])
    assert vendor.verify("wonka").passed
    vendor.activate("wonka")
    sign_in(client, token)
    guessed = client.get("/console/t/wonka/push")  # no BYOK_PUBLIC_URL: the browser's origin
    assert 'value="http://testserver/v1/key-events/wonka"' in guessed.text
    assert 'id="endpoint-note"' in guessed.text and "BYOK_PUBLIC_URL" in guessed.text
    public = dataclasses.replace(vendor.settings, public_url="https://byok.vendor.example")
    monkeypatch.setattr(vendor, "settings", public)
    url = "https://byok.vendor.example/v1/key-events/wonka"
    page = client.get("/console/t/wonka/push")
    assert f'value="{url}"' in page.text and 'id="endpoint-note"' not in page.text
    assert "forwarding-main.tf?endpoint=" in page.text  # the rules are ready to download
    rules = client.get("/console/t/wonka/push/files/forwarding-main.tf", params={"endpoint": url})
    assert rules.status_code == 200 and url in rules.text
