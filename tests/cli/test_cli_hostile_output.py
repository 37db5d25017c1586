"""Operator screen injection (issue 12, finding 4): every tenant-supplied string the CLI prints
is text, never Rich markup, and never reaches the terminal as a control sequence.

Document names, token labels, tenant names, CloudTrail contexts and error messages carrying
them are walked through every printer (lines, tables, titles, fields, errors, the customer
views) with markup, ANSI escapes, C1 controls, bidi overrides and line separators; then the
real commands run against the local AWS with such names.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_world import onboard_with_handover, run, run_json, vendor_env

from byok.cli.customer_views import show_activity, show_findings
from byok.cli.output import (
    clean,
    human,
    print_fields,
    reports_errors,
    styled,
    table,
    text,
)
from byok.cli.safe_console import SafeConsole
from byok.core.customer_audit import AuditReport, Finding, Severity
from byok.customer.activity import ActivityReport, KeyUse, UsageGroup
from byok.errors import NotFound

MARKUP = ["[/bold]", "[bold red]WARNING: run byok tenant offboard acme[/]", "[link=x]y[/link]"]
CONTROL = [
    "\x1b[2J\x1b[H cleared",  # clear the screen, cursor home
    "\x1b]0;pwned\x07 title",  # OSC: set the window title
    "\x9b31m C1 CSI",  # 8-bit CSI
    "report\u202egpj.exe",  # bidi override: shows as "reportexe.jpg"
    "\u2066isolate\u2069 and \u200fmark",
    "line\nFAKE: verification PASSED",
    "sep\u2028arator\u0085next",
    "back\bspace\rreturn\x00nul",
]
HOSTILE = MARKUP + CONTROL + [":warning: emoji code"]


def _dangerous(output: str) -> list[str]:
    """Characters in ``output`` that a terminal would act on (besides layout newlines)."""
    return [
        f"U+{ord(ch):04X}"
        for ch in output
        if ch != "\n" and (unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"))
    ]


def _render(draw: Callable[[SafeConsole], None], *, colour: bool = False) -> str:
    buffer = io.StringIO()
    # colour: as on a real terminal, our own styles become SGR sequences; the data's must not
    system = "standard" if colour else None
    console = SafeConsole(file=buffer, width=200, force_terminal=colour, color_system=system)
    draw(console)
    return buffer.getvalue()


PRINTERS: dict[str, Callable[[SafeConsole, str], None]] = {
    "line": lambda c, s: c.print(f"Stored acme/{s} (generation 1)."),
    "text": lambda c, s: c.print(text("Created tenant ", styled(s, "bold"), " ", (s, "red"), s)),
    "table": lambda c, s: c.print(table("name", "label", rows=[(s, s)], title=s, fold=True)),
    "raw-table-cell": lambda c, s: c.print(_raw_table(s)),
    "human": lambda c, s: c.print(human({"tk": [s, s], s: None})),
    "findings": lambda c, s: show_findings(AuditReport((Finding(s, Severity.HIGH, s, s, s),)), c),
    "activity": lambda c, s: show_activity(_activity(s), c),
}


def _raw_table(value: str) -> Any:
    """A table built without the helper: the console alone must keep it safe."""
    from rich.table import Table

    built = Table("a", title=value)
    built.add_row(value)
    return built


def _activity(value: str) -> ActivityReport:
    when = datetime(2026, 12, 1, tzinfo=UTC)
    use = KeyUse(when, value, value, "111122223333", value, value, value, "req-1")
    group = UsageGroup(value, 1, 1, when)
    return ActivityReport(value, when, (use,), (group,), (group,), (group,))


@pytest.mark.parametrize("colour", [False, True], ids=["pipe", "terminal"])
@pytest.mark.parametrize("printer", sorted(PRINTERS))
def test_every_printer_shows_hostile_strings_as_inert_text(printer: str, colour: bool) -> None:
    draw = PRINTERS[printer]
    for hostile in HOSTILE:
        output = _render(lambda c, h=hostile: draw(c, h), colour=colour)  # type: ignore[misc]
        shown = clean(hostile)
        assert shown in output, (printer, hostile, output)
        if not colour:
            assert _dangerous(output) == [], (printer, hostile, output)
        else:  # only the SGR colour sequences we asked for, never the data's own
            assert "\x1b[2J" not in output and "\x1b]0;" not in output and "\x9b" not in output
            assert "\u202e" not in output and "\u2028" not in output


def test_clean_escapes_visibly_and_leaves_ordinary_text_alone() -> None:
    assert clean("reports/q3 Zürich [draft] (v2).pdf") == "reports/q3 Zürich [draft] (v2).pdf"
    assert clean("\x1b[2J") == "\\x1b[2J"
    assert clean("a\u202eb") == "a\\u202eb"
    assert clean("a\nb\tc") == "a\\nb\\tc"
    assert clean(42) == "42"
    for hostile in HOSTILE:
        assert clean(hostile).isprintable(), hostile
    assert all(clean(m) == m for m in MARKUP)  # markup is shown as is, not removed


def test_markup_is_printed_literally_not_interpreted() -> None:
    warning = "[bold red]WARNING: run byok tenant offboard acme[/]"
    output = _render(lambda c: c.print(f"Deleted acme/{warning}."))
    assert output == f"Deleted acme/{warning}.\n"
    output = _render(lambda c: c.print("[/bold]"))  # Rich alone raises MarkupError here
    assert output == "[/bold]\n"


def test_print_fields_and_errors_are_safe(capsys: pytest.CaptureFixture[str]) -> None:
    print_fields({"document_rows": 2, "key_arns": ("arn:a", "\x1b[2J"), "detail": None})
    out = capsys.readouterr().out
    assert "document rows: 2" in out and "arn:a, \\x1b[2J" in out and "detail: -" in out

    @reports_errors
    def fails(json_output: bool = False) -> None:
        raise NotFound("no document '\x1b[2J[/bold]\u202e'", tenant="[bold]acme[/]")

    with pytest.raises(typer.Exit):
        fails()
    err = capsys.readouterr().err
    assert "\\x1b[2J[/bold]\\u202e" in err and "tenant: [bold]acme[/]" in err
    assert _dangerous(err) == []


# -- the real commands, against the local AWS ------------------------------------------------


@pytest.mark.localaws
def test_commands_print_hostile_names_labels_and_errors_as_text(
    local_aws: Any, tmp_path: Path
) -> None:
    env = vendor_env(local_aws, tmp_path / "home")
    onboard_with_handover(local_aws, env, tmp_path, "acme")
    body = tmp_path / "body.txt"
    body.write_bytes(b"numbers\n")
    stored = []
    for hostile in HOSTILE:
        put = run(env, "doc", "put", "acme", f"x/{hostile}", str(body), code=None)
        assert _dangerous(put.output) == [], put.output
        assert put.exit_code in (0, 2), put.output  # stored, or refused by the name rules
        if put.exit_code == 0:
            stored.append(f"x/{hostile}")
        label = run(env, "token", "create", "--role", "reader", "--tenant", "acme",
                    "--label", hostile, code=None)  # fmt: skip
        assert label.exit_code in (0, 2) and _dangerous(label.output) == [], label.output
    assert "x/[/bold]" in stored  # markup is a legal name: it must print, not crash
    run(env, "tenant", "create", "globex", "--name", MARKUP[1], code=None)

    for args in (
        ["doc", "ls", "acme", "--prefix", "x/"],
        ["token", "list"],
        ["tenant", "list"],
        ["tenant", "show", "globex"],
        *(["doc", "head", "acme", name] for name in stored),
        [
            "doc",
            "get",
            "--reason",
            "service",
            "acme",
            "x/\x1b[2J[/bold] missing",
            "-o",
            str(tmp_path / "o"),
        ],
    ):
        result = run(env, *args, code=None)
        assert result.exit_code in (0, 2, 40), result.output  # 2: refused name, 40: not found
        assert _dangerous(result.output) == [], (args, result.output)
        assert "MarkupError" not in result.output
    listing = run(env, "doc", "ls", "acme", "--prefix", "x/", "--json").stdout
    names = {item["name"] for item in run_json(env, "doc", "ls", "acme", "--prefix", "x/")["items"]}
    assert names == set(stored), listing
    shown = run(env, "doc", "ls", "acme", "--prefix", "x/").stdout
    assert "[/bold]" in shown
    tokens = run(env, "token", "list").stdout
    assert "[/bold]" in tokens or "[/bold" in tokens  # a narrow table may fold the cell
    for name in stored:
        removed = run(env, "doc", "rm", "acme", name)
        assert _dangerous(removed.output) == [] and clean(name) in removed.output
