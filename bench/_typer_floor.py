"""The smallest Typer CLI with a sub-command and an option: the framework's start-up floor.

``bench/cli.py`` times ``--help`` and ``hello --name acme`` here beside byok's commands: no
Typer CLI can start faster on this machine (Rich help, and Typer's pydantic coercion of every
option value, are part of it).
"""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.callback()
def root() -> None:
    """A minimal Typer app."""


@app.command()
def hello(name: str = typer.Option("world", help="Whom to greet.")) -> None:
    """Print a greeting."""
    typer.echo(f"hello {name}")


if __name__ == "__main__":
    app()
