"""The ``byok`` command: vendor side, customer side and the local AWS."""

from __future__ import annotations

import typer

from byok import __version__
from byok.cli import customer, documents, lifecycle, local_aws, service, tenant, vendor_setup

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


@app.command("demo")
def demo() -> None:
    """Run the whole BYOK story on embedded defaults (local AWS, SQLite), narrated and checked.

    Two AWS accounts (vendor and customer) live in the project's local AWS on loopback;
    nothing reaches real AWS. Exits 0 when every step did what it said it would.
    """
    from byok.demo.story import run_demo

    raise typer.Exit(run_demo())


def main() -> None:
    """Entry point of the ``byok`` console script."""
    app()
