"""The ``byok`` command: vendor side, customer side and the local AWS."""

from __future__ import annotations

import typer

from byok import __version__
from byok.cli import local_aws

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


app.command("local-aws")(local_aws.local_aws_command)


def main() -> None:
    """Entry point of the ``byok`` console script."""
    app()
