"""CLI start-up stays light: ``--help``, ``--version`` and the no-AWS commands import neither
boto3 nor SQLAlchemy, FastAPI, uvicorn, moto or cryptography (the import graph is checked, not
the time; typer itself brings pydantic; ``bench/cli.py`` measures the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("boto3", "botocore", "sqlalchemy", "fastapi", "starlette", "uvicorn", "moto")
HEAVY += ("cryptography",)

_PROBE = """
import json, sys
from byok.cli.main import app
import typer.main
try:
    typer.main.get_command(app).main(sys.argv[1:], prog_name="byok", standalone_mode=False)
except (SystemExit, Exception):  # e.g. click's NoArgsIsHelpError for a bare `byok`
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""

SIMPLE = [
    [],
    ["--help"],
    ["--version"],
    ["tenant", "--help"],
    ["doc", "ls", "--help"],
    ["customer", "setup", "--help"],
    ["token", "create", "--help"],
    ["serve", "--help"],
    ["customer", "policy", "--mode", "direct", "--vendor-account", "444455556666",
     "--tenant", "acme", "--account", "111122223333"],
]  # fmt: skip


def _modules_after(args: list[str], home: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BYOK_HOME": str(home)},
    )
    line = done.stderr.rsplit("MODULES ", 1)[-1]
    return set(json.loads(line))


@pytest.mark.parametrize("args", SIMPLE, ids=lambda a: " ".join(a[:2]) or "bare")
def test_simple_commands_do_not_import_the_heavy_stack(args: list[str], tmp_path: Path) -> None:
    loaded = _modules_after(args, tmp_path)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], f"byok {' '.join(args)} imported {heavy[:8]}"
    if args == ["--version"]:
        assert "rich.table" not in loaded


def test_the_probe_sees_heavy_imports_when_a_command_needs_them(tmp_path: Path) -> None:
    """The check above is not vacuous: a command that opens the store does import them."""
    loaded = _modules_after(["tenant", "list", "--json"], tmp_path)
    assert "sqlalchemy" in loaded


def test_defaults_spelled_out_for_start_up_agree_with_their_source() -> None:
    from byok.cli import customer_options as customer
    from byok.core.policy import templates

    assert customer.DEFAULT_VENDOR_ROLE == templates.DEFAULT_VENDOR_ROLE
