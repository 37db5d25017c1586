"""``byok demo --serve``: the printed URL and tokens sign in to the console on the demo's data."""

from __future__ import annotations

import io
from typing import Any

import pytest
from console_world import ConsoleWorld, sign_in
from fastapi.testclient import TestClient
from rich.console import Console
from starlette.types import ASGIApp

from byok.demo.console import NEW_TENANT, serve_console
from byok.demo.narration import Narrator

pytestmark = pytest.mark.localaws


def test_demo_serve_prints_url_and_tokens_that_sign_in(world: ConsoleWorld) -> None:
    world.new_tenant("acme")
    out = io.StringIO()
    seen: dict[str, Any] = {}

    def run(app: ASGIApp, port: int) -> None:
        text = out.getvalue()
        seen["port"] = port
        with TestClient(app, follow_redirects=False) as client:
            for who, token in tokens_in(text).items():
                assert token in text
                sign_in(client, token)
                home = "/console/operator" if who == "operator" else f"/console/t/{who.split()[0]}"
                seen[who] = client.get(home).status_code
                client.cookies.clear()

    printed = serve_console(
        Narrator(Console(file=out, width=60, highlight=False)), world.vendor,
        endpoint_url=world.local_aws.endpoint_url, customer_account="444444444444",
        port=8123, run=run,
    )  # fmt: skip
    text = out.getvalue()
    assert "http://127.0.0.1:8123/console/" in text and seen["port"] == 8123
    assert set(printed) == {"operator", "acme admin", f"{NEW_TENANT} admin"}
    assert all(seen[who] == 200 for who in printed), seen
    assert world.vendor.tenants.get(NEW_TENANT).state.value == "PENDING"
    assert "AWS_ACCESS_KEY_ID=ROOT444444444444" in text


def tokens_in(text: str) -> dict[str, str]:
    """The ``who token`` lines printed (whole, even on a narrow terminal)."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[-1].startswith("byok_"):
            rows[" ".join(words[:-1])] = words[-1]
    return rows
