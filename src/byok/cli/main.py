"""The ``byok`` command: vendor side, customer side and the local AWS."""

from __future__ import annotations

import typer

from byok import __version__
from byok.cli import (
    customer,
    documents,
    forwarding,
    lifecycle,
    local_aws,
    scopes,
    service,
    tenant,
    vendor_setup,
)
from byok.cli.output import emit_json

app = typer.Typer(
    name="byok",
    help=(
        "Bring-your-own-key encryption for multi-tenant document storage.\n\n"
        "Each tenant's documents are envelope-encrypted under a key hierarchy rooted in the "
        "tenant's own AWS KMS key. Vendor commands: tenant, doc, audit, serve. Customer "
        "commands: customer. Development: local-aws, demo."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Start-up stays light (docs/OPERATIONS.md#cli): these modules import only typer, Rich's console
# and byok's own small modules; boto3, SQLAlchemy, FastAPI, uvicorn and moto are imported
# inside the commands that use them (tests/cli/test_cli_startup.py checks it).


def _version(value: bool) -> None:
    if value:
        typer.echo(f"byok {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Bring-your-own-key encryption for multi-tenant document storage."""


app.add_typer(tenant.tenant_app, name="tenant")
app.add_typer(documents.doc_app, name="doc")
app.add_typer(documents.audit_app, name="audit")
app.add_typer(customer.customer_app, name="customer")
app.add_typer(service.token_app, name="token")
app.command("serve")(service.serve_command)
app.command("monitor")(documents.monitor_command)
app.command("vendor-setup")(vendor_setup.vendor_setup_command)
app.command("local-aws")(local_aws.local_aws_command)
lifecycle.register(tenant.tenant_app, customer.customer_app, app)
scopes.register(tenant.tenant_app)
customer.customer_app.command("forwarding-rule")(forwarding.forwarding_rule_command)


@app.command("demo")
def demo(
    json_output: bool = typer.Option(
        False, "--json", help="Narrate on stderr; print {ok, exit_code} as JSON on stdout."
    ),
    serve: bool = typer.Option(
        False,
        "--serve",
        help="Afterwards keep the web console running on the demo's data "
        "(prints its URL and sign-in tokens; Ctrl-C stops it).",
    ),
    port: int = typer.Option(8080, "--port", help="With --serve: the console's port."),
) -> None:
    """Run the whole BYOK story on embedded defaults (local AWS, SQLite), narrated and checked.

    Two AWS accounts (vendor and customer) live in the project's local AWS on loopback;
    nothing reaches real AWS. Exits 0 when every step did what it said it would.
    """
    from byok.demo.story import run_demo

    serve_port = port if serve else None
    if not json_output:
        raise typer.Exit(run_demo(serve_port=serve_port))
    from rich.console import Console

    from byok.demo.narration import Narrator

    code = run_demo(Narrator(Console(stderr=True, highlight=False)), serve_port=serve_port)
    emit_json({"ok": code == 0, "exit_code": code})
    raise typer.Exit(code)


def main() -> None:
    """Entry point of the ``byok`` console script."""
    app()
