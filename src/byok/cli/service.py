"""``byok serve`` (the REST API) and ``byok token`` (API tokens).

Examples::

    byok token create --role operator --label ops-console
    byok token create --role writer --tenant acme --label acme-uploader
    byok serve --port 8080
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v1/tenants/acme

The API (FastAPI, uvicorn) and the store are imported inside each command: `--help` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors, table

if TYPE_CHECKING:
    from byok.store.tokens import TokenRepository

__all__ = ["serve_command", "token_app"]


def _tokens() -> TokenRepository:
    from byok.service.runtime import open_vendor  # keeps start-up light
    from byok.store.tokens import TokenRepository

    return TokenRepository(open_vendor(actor="cli").store)


token_app = typer.Typer(
    help="Vendor side: API tokens (stored hashed; each scoped to one tenant and a role).",
    no_args_is_help=True,
)


@reports_errors
def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to bind (put TLS in front of it)."),
    port: int = typer.Option(8080, help="TCP port."),
    monitor: bool = typer.Option(True, help="Run the key monitor in this process."),
    max_body_bytes: int = typer.Option(
        None, help="Largest upload, answered 413 past it (default: 1 GiB)."
    ),
    json_output: bool = typer.Option(
        False,
        "--json",
        help="Print {url, pid} as one JSON line first and keep stdout free of "
        "access logs (uvicorn logs warnings and errors on stderr).",
    ),
    workers: int = typer.Option(
        1, min=1, max=64, help="Worker processes on one socket (about one core each)."
    ),
) -> None:
    """Serve the REST API (OpenAPI at /docs and /openapi.json) on the embedded defaults.

    Tokens: `byok token create`. Health: /healthz, /readyz. Metrics: /metrics.
    """
    from byok.api.server import serve

    if json_output:
        emit_json({"url": f"http://{host}:{port}", "pid": os.getpid()})
        sys.stdout.flush()
    log_level = "warning" if json_output else "info"
    if max_body_bytes is None:
        serve(host, port, monitor=monitor, log_level=log_level, workers=workers)
    else:
        serve(host, port, monitor=monitor, log_level=log_level, max_body_bytes=max_body_bytes,
              workers=workers)  # fmt: skip


@token_app.command("create")
@reports_errors
def create(
    role: str = typer.Option(..., help="operator (vendor-wide), tenant-admin, writer or reader."),
    tenant: str = typer.Option(None, help="The tenant (every role but operator)."),
    label: str = typer.Option("", help="What the token is for (shown in listings)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Mint a token. It is printed once and stored only as its SHA-256."""
    minted = _tokens().mint(role, tenant=tenant, label=label)
    if json_output:
        emit_json({"token": minted.token, "token_id": minted.grant.token_id,
                   "role": str(minted.grant.role), "tenant": minted.grant.tenant})  # fmt: skip
        return
    console.print(f"token id {minted.grant.token_id} ({minted.grant.role}, "
                  f"tenant {minted.grant.tenant or '*'})")  # fmt: skip
    console.print("Token (shown once, store it now):")
    typer.echo(minted.token)


@token_app.command("list")
@reports_errors
def list_tokens(
    tenant: str = typer.Option(None, help="Only this tenant's tokens."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List tokens (ids, roles, tenants; never the tokens themselves)."""
    grants = _tokens().list(tenant=tenant)
    if json_output:
        emit_json([{"token_id": g.token_id, "role": str(g.role), "tenant": g.tenant,
                    "label": g.label, "revoked": g.revoked} for g in grants])  # fmt: skip
        return
    rows = [(g.token_id, g.role, g.tenant or "*", g.label, "yes" if g.revoked else "no")
            for g in grants]  # fmt: skip
    console.print(table("token id", "role", "tenant", "label", "revoked", rows=rows, fold=True))


@token_app.command("revoke")
@reports_errors
def revoke(
    token_id: str = typer.Argument(..., help="The token id (from `byok token list`)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Revoke a token; it stops working at once."""
    grant = _tokens().revoke(token_id)
    if json_output:
        emit_json({"token_id": grant.token_id, "role": str(grant.role), "tenant": grant.tenant,
                   "label": grant.label, "revoked": grant.revoked})  # fmt: skip
        return
    console.print(f"Revoked {grant.token_id} ({grant.role}, tenant {grant.tenant or '*'}).")
