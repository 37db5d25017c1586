"""Every command of the tree has help and ``--json``; run against the local AWS, each one's
``--json`` output parses and its text output is for people (no Python repr, no raw dict).

The tree is walked from the Typer app, so a command someone adds later is checked too.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cli_world import REPR, Onboarded, onboard_with_handover, run, vendor_env
from typer.testing import CliRunner

from byok.cli.main import app

#: Long-running commands: checked for help and --json, not run here.
LONG_RUNNING = {"serve", "local-aws", "demo"}


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    children = getattr(command, "commands", None)
    if children is None:
        yield path, command
        return
    for name, child in sorted(children.items()):
        yield from _leaves(child, (*path, name))


COMMANDS = dict(_leaves(typer.main.get_command(app)))


def test_the_tree_is_walked() -> None:
    assert len(COMMANDS) >= 30
    assert {("doc", "rm"), ("token", "revoke"), ("tenant", "offboard"), ("serve",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help_and_takes_json(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    assert (command.help or "").strip(), f"byok {' '.join(path)} has no help text"
    options = {opt for param in command.params for opt in param.opts}
    assert "--json" in options, f"byok {' '.join(path)} does not take --json"
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "--json" in shown.output, shown.output


class Walk:
    """Runs commands in text and in JSON, checking both, and remembers which ran."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.ran: set[tuple[str, ...]] = set()

    def text(self, *args: str, code: int | None = 0, env: dict[str, str] | None = None) -> str:
        result = run(env or self.env, *args, code=code)
        out = result.stdout
        assert out.strip() or result.stderr.strip(), f"byok {' '.join(args)} printed nothing"
        bad = REPR.search(out)
        assert bad is None, (
            f"byok {' '.join(args)} printed a repr near {bad and bad.group()!r}:\n{out}"
        )
        self.ran.add(self._path(args))
        return out

    def json(self, *args: str, code: int | None = 0, env: dict[str, str] | None = None) -> Any:
        result = run(env or self.env, *args, "--json", code=code)
        try:
            parsed = json.loads(result.stdout)
        except ValueError as exc:
            raise AssertionError(f"byok {' '.join(args)} --json:\n{result.stdout}") from exc
        self.ran.add(self._path(args))
        return parsed

    def both(self, *args: str, code: int | None = 0, env: dict[str, str] | None = None) -> Any:
        self.text(*args, code=code, env=env)
        return self.json(*args, code=code, env=env)

    @staticmethod
    def _path(args: tuple[str, ...]) -> tuple[str, ...]:
        for size in (2, 1):
            if tuple(args[:size]) in COMMANDS:
                return tuple(args[:size])
        raise AssertionError(f"not a command: {args}")


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.localaws
def test_commands_print_json_that_parses_and_text_for_people(
    local_aws: Any, tmp_path: Path
) -> None:
    env = vendor_env(local_aws, tmp_path / "home")
    walk = Walk(env)
    walk.both("vendor-setup")
    acme = onboard_with_handover(local_aws, env, tmp_path, "acme")
    walk.ran |= {("tenant", "create"), ("tenant", "configure"), ("tenant", "verify")}
    walk.ran |= {("tenant", "activate"), ("customer", "setup")}
    _tenants(walk, acme, tmp_path)
    _documents(walk, tmp_path)
    _tokens_audit_monitor(walk, tmp_path)
    _lifecycle(walk, acme, tmp_path)
    _customer(walk, acme, tmp_path)
    for args in (("doc", "rm", "acme", "a.txt"), ("doc", "rm", "acme", "b.txt")):
        walk.text(*args) if args[-1] == "a.txt" else walk.json(*args)
    offboarded = walk.text("tenant", "offboard", "acme", "--confirm", "acme")
    assert "Offboarded acme" in offboarded and "document rows: 0" in offboarded
    assert walk.json("tenant", "offboard", "acme", "--confirm", "acme")["tenant"] == "acme"
    never_run = set(COMMANDS) - walk.ran - {(c,) for c in LONG_RUNNING}
    assert never_run == set(), f"add {sorted(never_run)} to this walk (or to LONG_RUNNING)"


def _tenants(walk: Walk, acme: Onboarded, tmp: Path) -> None:
    assert walk.both("tenant", "show", "acme")["state"] == "ACTIVE"
    assert [t["tenant"] for t in walk.both("tenant", "list")] == ["acme"]
    walk.text("tenant", "create", "globex")
    key_arn = json.loads(acme.handover.read_text())["key_arn"]
    # acme's key for globex: refused at once or by verification (the key is bound to acme)
    walk.text("tenant", "configure", "globex", "--mode", "direct", "--key-arn", key_arn, code=None)
    walk.text("tenant", "verify", "globex", code=None)
    walk.text("tenant", "activate", "acme")
    shown = walk.json("tenant", "scopes", "acme", "--rule", "legal/=legal", "--period-unit", "day")
    assert shown["scope_rules"] == [{"prefix": "legal/", "scope": "legal"}]
    assert shown["period_unit"] == "day" and shown["refused"] == []
    cleared = walk.text("tenant", "scopes", "acme", "--clear", "--period-unit", "month")
    assert "keys cut by month" in cleared and "scope legal" not in cleared


def _documents(walk: Walk, tmp: Path) -> None:
    source = tmp / "q3.txt"
    source.write_bytes(b"quarterly numbers\n" * 500)
    walk.text("doc", "put", "acme", "a.txt", str(source))
    assert walk.json("doc", "put", "acme", "b.txt", str(source))["name"] == "b.txt"
    assert walk.both("doc", "head", "acme", "a.txt")["generation"] >= 1
    assert [i["name"] for i in walk.both("doc", "ls", "acme")["items"]] == ["a.txt", "b.txt"]
    restated = walk.both("tenant", "restate-keys", "acme")  # every key states its reason
    assert restated["restated"] == [] and restated["already"] >= 1
    first, second = tmp / "copy1.txt", tmp / "copy2.txt"
    walk.text("doc", "get", "--reason", "service", "acme", "a.txt", "-o", str(first))
    got = walk.json("doc", "get", "--reason", "service", "acme", "b.txt", "-o", str(second))
    assert got["bytes"] == source.stat().st_size
    for copy in (first, second):
        assert copy.read_bytes() == source.read_bytes() and _private(copy)


def _tokens_audit_monitor(walk: Walk, tmp: Path) -> None:
    from byok.service.runtime import open_vendor
    from byok.settings import Settings
    from byok.store.leases import LeaseRepository

    walk.text("token", "create", "--role", "reader", "--tenant", "acme", "--label", "one")
    minted = walk.json("token", "create", "--role", "reader", "--tenant", "acme")
    listed = walk.both("token", "list")
    first = next(t["token_id"] for t in listed if t["label"] == "one")
    assert "Revoked" in walk.text("token", "revoke", first)
    assert walk.json("token", "revoke", minted["token_id"])["revoked"] is True
    assert walk.both("audit", "verify")["ok"] is True
    walk.text("audit", "export", "acme", "-o", str(tmp / "audit1.jsonl"))
    summary = walk.json("audit", "export", "acme", "-o", str(tmp / "audit2.jsonl"))
    assert summary["events"] > 0 and _private(tmp / "audit2.jsonl")
    walk.both("audit", "anchor", "acme", "--force")

    # `monitor --once` while a server holds the lease: it probes anyway and says so.
    vendor = open_vendor(Settings.from_env(walk.env), actor="test")
    try:
        held = LeaseRepository(vendor.store).try_acquire(
            "key-monitor", "srv:42", timedelta(hours=1)
        )
        assert held
    finally:
        vendor.store.close()
    assert "held by srv:42" in walk.text("monitor", "--once")
    swept = walk.json("monitor", "--once")
    assert swept["ran"] is True and swept["states"] == {"acme": "ACTIVE"}
    assert swept["lease_holder"] == "srv:42"


def _lifecycle(walk: Walk, acme: Onboarded, tmp: Path) -> None:
    handover = json.loads(acme.handover.read_text())
    # --role-arn stays an alias of --client-role-arn; agreeing with the file is fine
    walk.text("tenant", "configure", "acme", "--handover", str(acme.handover),
              "--role-arn", handover["client_role_arn"])  # fmt: skip
    # A second person approves (needed only for a key in another AWS account; harmless here).
    approved = walk.both("tenant", "approve", "acme", "--version", "2", "--approver", "alice")
    assert approved["approved_by"] == "operator:alice"
    assert walk.both("tenant", "verify", "acme", "--version", "2")["passed"] is True
    walk.text("tenant", "migrate", "acme", "--to-version", "2")
    assert walk.json("tenant", "migrate", "acme", "--to-version", "2")["complete"] is True
    assert walk.both("tenant", "rotate-tk", "acme")["tenant"] == "acme"
    walk.both("fsck")
    walk.text("tenant", "export", "acme", str(tmp / "bundle1"))
    assert walk.json("tenant", "export", "acme", str(tmp / "bundle2"))["documents"] == 2
    for n, mode in ((1, walk.text), (2, walk.json)):
        mode("customer", "decrypt-export", str(tmp / f"bundle{n}"), str(tmp / f"plain{n}"),
             env=acme.customer_env)  # fmt: skip


def _customer(walk: Walk, acme: Onboarded, tmp: Path) -> None:
    vendor_account = walk.env["BYOK_VENDOR_ACCOUNT"]
    handover = json.loads(acme.handover.read_text())
    audit = (
        "customer",
        "audit",
        "--vendor-account",
        vendor_account,
        "--handover",
        str(acme.handover),
    )
    walk.both(*audit, code=None, env=acme.customer_env)  # exit code: the worst finding
    walk.both("customer", "activity", "--handover", str(acme.handover), env=acme.customer_env)
    policy = ("customer", "policy", "--mode", "direct", "--vendor-account", vendor_account,
              "--tenant", "acme", "--key-arn", handover["key_arn"])  # fmt: skip
    endpoint = "https://vendor.example/v1/key-events/acme"
    forwarding = ("customer", "forwarding-rule", "--tenant", "acme", "--key-arn",
                  handover["key_arn"], "--endpoint", endpoint)  # fmt: skip
    assert "aws_cloudwatch_event_rule" in walk.text(*forwarding, "--format", "terraform")
    assert walk.json(*forwarding)["template"]["Resources"]["KeyEventsRule"]
    walk.text(*policy, "--out", str(tmp / "kit1"))
    assert walk.json(*policy, "--out", str(tmp / "kit2"))["written"]
    endpoint = "https://byok.vendor.example/v1/key-events/acme"
    walk.both("customer", "forwarding-rule", "--tenant", "acme", "--key-arn", handover["key_arn"],
              "--endpoint", endpoint)  # fmt: skip
