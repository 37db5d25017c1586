"""Helpers for the CLI tests: run ``byok`` in-process against the local AWS, onboard a tenant
with only the CLI (customer setup writes the hand-over, tenant configure reads it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from byok.cli.main import app

#: What a Python repr looks like in text meant for people.
REPR = re.compile(
    r"\{'|\['|\('|': |<[\w.]+ object at 0x|\w+\.\w+\(|datetime\.|[A-Z]\w+State\.|Role\."
)


def run(env: dict[str, str], *args: str, code: int | None = 0) -> Result:
    """``byok ARGS`` with ``env``; asserts the exit code (unless ``code`` is None)."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250", **env})
    assert code is None or result.exit_code == code, (args, result.output, result.exception)
    return result


def run_json(env: dict[str, str], *args: str, code: int = 0) -> Any:
    """``byok ARGS --json``: stdout parsed as JSON."""
    return json.loads(run(env, *args, "--json", code=code).stdout)


def vendor_env(local_aws: Any, home: Path) -> dict[str, str]:
    """The vendor operator's environment: its own account, a store under ``home``."""
    return {
        "BYOK_HOME": str(home),
        "BYOK_AWS_ENDPOINT_URL": local_aws.endpoint_url,
        "BYOK_VENDOR_ACCOUNT": local_aws.new_account(),
        "BYOK_REVOCATION_BOUND_SECONDS": "5",
    }


@dataclass
class Onboarded:
    """A tenant onboarded with Option B using only the CLI."""

    env: dict[str, str]
    customer_env: dict[str, str]
    tenant: str
    handover: Path


def onboard_with_handover(local_aws: Any, env: dict[str, str], tmp: Path, tenant: str) -> Onboarded:
    """vendor-setup, tenant create, customer setup --handover-out, tenant configure --handover,
    verify (must pass), activate."""
    run(env, "vendor-setup")
    created = run_json(env, "tenant", "create", tenant)
    account = local_aws.new_account()
    customer_env = {
        "BYOK_AWS_ENDPOINT_URL": local_aws.endpoint_url,
        "AWS_ACCESS_KEY_ID": f"ROOT{account}",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    handover = tmp / f"{tenant}-handover.json"
    run(customer_env, "customer", "setup", "--mode", "assume-role", "--vendor-account",
        env["BYOK_VENDOR_ACCOUNT"], "--tenant", tenant, "--external-id", created["external_id"],
        "--handover-out", str(handover))  # fmt: skip
    configured = run_json(env, "tenant", "configure", "--handover", str(handover))
    assert configured == {"tenant": tenant, "version": 1, "state": "PENDING"}
    report = run_json(env, "tenant", "verify", tenant)
    assert report["passed"], report
    assert run_json(env, "tenant", "activate", tenant)["state"] == "ACTIVE"
    return Onboarded(env, customer_env, tenant, handover)
