"""``byok demo --serve``: after the story, keep the web console running on the demo's data.

A newcomer signs in with the printed tokens and clicks through the tenants the demo created
(acme on Option B, globex on Option A, both ACTIVE with documents, a refusal and a key
migration in their timelines) and walks the set-up wizard for a fresh PENDING tenant. The
customer's AWS actions for that tenant go to the demo's local AWS: the printed credentials
and endpoint make the wizard's ``byok customer setup`` command work as shown.
"""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from byok.api.app import create_app
from byok.demo.narration import Narrator
from byok.service.monitor import KeyMonitor
from byok.service.vendor import Vendor
from byok.store.tokens import mint_token

__all__ = ["NEW_TENANT", "serve_console"]

NEW_TENANT = "initech"
#: Serves the app on a port until interrupted (tests pass their own).
Runner = Callable[[ASGIApp, int], None]


def _uvicorn(app: ASGIApp, port: int) -> None:
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_console(
    say: Narrator,
    vendor: Vendor,
    *,
    endpoint_url: str,
    customer_account: str,
    port: int = 8080,
    run: Runner = _uvicorn,
) -> dict[str, str]:
    """Print the console's URL and sign-in tokens, then serve until interrupted.

    Args:
        say: the demo's narrator.
        vendor: the demo's vendor service (its tenants and documents).
        endpoint_url: the demo's local AWS, for the new tenant's customer actions.
        customer_account: a fresh local-AWS account for that customer.
        port: the TCP port on 127.0.0.1.
        run: serves the app (default: uvicorn until Ctrl-C).

    Returns:
        The tokens printed, by who uses them (``operator``, ``<tenant> admin``).
    """
    vendor.create_tenant(NEW_TENANT, name="Initech (walk the set-up wizard)")
    tokens = {"operator": mint_token(vendor.store, "operator", label="demo console").token}
    for tenant in (t.id for t in vendor.tenants.list()):
        minted = mint_token(vendor.store, "tenant-admin", tenant=tenant, label="demo console")
        tokens[f"{tenant} admin"] = minted.token
    url = f"http://127.0.0.1:{port}/console/"
    say.console.print(f"\n[bold]Web console[/]: {url}  (Ctrl-C stops it)")
    say.say("sign in with (each token is shown whole; tenant admins see only their tenant):")
    for who, token in tokens.items():
        # Never wrapped or cut, whatever the terminal width: a token must be copied whole.
        say.console.print(f"    {who:<14} {token}", markup=False, highlight=False, soft_wrap=True)
    say.say(
        f"the wizard's AWS actions for {NEW_TENANT} run against the demo's local AWS: "
        f"export AWS_ACCESS_KEY_ID=ROOT{customer_account} AWS_SECRET_ACCESS_KEY=local "
        f"BYOK_AWS_ENDPOINT_URL={endpoint_url}"
    )
    run(create_app(vendor, monitor=KeyMonitor(vendor)), port)
    return tokens
