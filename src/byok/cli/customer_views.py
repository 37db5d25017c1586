"""How ``byok customer`` shows its results to people (Rich); ``--json`` bypasses this.

Key policies, CloudTrail events and role names are the customer's data (an event's
``byok:tenant`` context is whatever its caller sent): they are printed through
:mod:`byok.cli.output` as text, never markup.

Documents that a customer copies (policies, the hand-over) are written as exact JSON with
:func:`byok.core.policy.templates.render_json`, never through Rich, which would wrap long ARNs.
"""

from __future__ import annotations

from typing import Final

from rich.console import Console
from rich.table import Table

from byok.cli.output import styled, table, text, write_exact
from byok.core.customer_audit import AuditReport, Severity
from byok.customer.activity import ActivityReport, UsageGroup
from byok.customer.audit import EXIT_CODES, CustomerAuditResult
from byok.customer.plan import SetupResult

__all__ = ["show_activity", "show_audit", "show_findings", "show_setup"]

_STYLE: Final = {"create": "green", "update": "yellow", "no change": "dim"}
_SEVERITY_STYLE: Final = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def show_setup(result: SetupResult, console: Console) -> None:
    """Print each resource's outcome (and in a dry run every call and document), then the
    hand-over JSON for the vendor."""
    title = "Dry run: nothing was changed" if result.dry_run else "Set-up"
    console.print(
        text((title, "bold"), f" (account {result.account}, region {result.region})"),
        soft_wrap=True,
    )
    for change in result.changes:
        style = _STYLE[change.outcome]
        verb = f"would {change.outcome}" if result.dry_run and change.calls else change.outcome
        console.print(
            text("  ", (f"{verb:>14}", style), f"  {change.resource}: {change.detail}"),
            soft_wrap=True,
        )
        if result.dry_run:
            for call in change.calls:
                console.print(f"                  call {call.operation}", soft_wrap=True)
                console.file.flush()
                write_exact(dict(call.parameters))
    if result.dry_run:
        reads = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in result.api_calls.items())
        console.print(f"Read calls made: {reads or 'none'}; no write call.", soft_wrap=True)
    if not result.changed:
        console.print("Everything was already set up: no change.")
    console.print()
    console.print(
        text(("Hand this configuration to the vendor", "bold"), " through its secure "
             "channel (no secret in it; copy it unchanged):"),
        soft_wrap=True,
    )  # fmt: skip
    console.file.flush()
    write_exact(dict(result.handover))


def show_findings(report: AuditReport, console: Console) -> None:
    """Print findings worst first: severity, title, evidence, fix; then the verdict."""
    if not report.findings:
        console.print(styled("No findings.", "green"))
    for finding in report.findings:
        style = _SEVERITY_STYLE[finding.severity]
        console.print(
            text((f"{finding.severity.label.upper():>8}", style), " ",
                 (finding.title, "bold"), f" ({finding.code})"),
            soft_wrap=True,
        )  # fmt: skip
        console.print(f"          evidence: {finding.evidence}", soft_wrap=True)
        console.print(text("          ", ("fix:", "yellow"), " ", finding.fix), soft_wrap=True)
    worst = report.worst
    label = "none" if worst is None else worst.label
    console.print(f"Worst severity: {label} (exit code {EXIT_CODES[worst]}).")


def show_audit(result: CustomerAuditResult, console: Console) -> None:
    """Print what the audit read, then the findings."""
    key = result.key
    rotation = "unknown" if key.rotation is None else "on" if key.rotation else "off"
    console.print(text(("Key", "bold"), f" {key.arn}"), soft_wrap=True)
    console.print(
        f"  state {key.state}, {key.spec}, {key.usage}, manager {key.manager}, "
        f"multi-Region {'yes' if key.multi_region else 'no'}, rotation {rotation}"
    )
    if result.client_role_arn is not None:
        exists = "exists" if result.client_role_found else "MISSING"
        console.print(
            text(("Client role", "bold"), f" {result.client_role_arn} ({exists})"), soft_wrap=True
        )
    trails = result.trails.to_dict()
    logging = f": {', '.join(trails['logging'])}" if trails["logging"] else ""
    console.print(text(("CloudTrail", "bold"), f" {trails['status']}{logging}"))
    console.print()
    show_findings(result.report, console)


def show_activity(report: ActivityReport, console: Console) -> None:
    """Print the groups (operation, tenant context, caller) and the latest uses."""
    errors = sum(1 for u in report.uses if u.error)
    console.print(
        text((len(report.uses), "bold"), f" uses of {report.key_arn} since "
             f"{report.since:%Y-%m-%d %H:%M:%S} UTC ({errors} refused)"),
        soft_wrap=True,
    )  # fmt: skip
    for title, groups in (
        ("operation", report.by_operation),
        ("tenant (byok:tenant context)", report.by_tenant),
        ("access reason (byok:reason)", report.by_reason),
        ("scope (byok:scope)", report.by_scope),
        ("caller", report.by_caller),
    ):
        if groups:
            console.print(_group_table(title, groups))
    if report.uses:
        # the session part of the caller names the role and session (Option B: the tenant's)
        rows = [
            (f"{use.time:%Y-%m-%d %H:%M:%S}", use.operation, use.tenant or "-",
             use.caller.rsplit(":", 1)[-1] if use.caller else "-", use.error or "ok")
            for use in report.uses[:20]
        ]  # fmt: skip
        console.print(
            table("time (UTC)", "operation", "tenant", "caller", "result", rows=rows,
                  title="latest uses", fold=True)
        )  # fmt: skip


def _group_table(title: str, groups: tuple[UsageGroup, ...]) -> Table:
    rows = [(g.name, g.count, g.errors, f"{g.last:%Y-%m-%d %H:%M:%S}") for g in groups]
    return table(title, "count", "refused", "last (UTC)", rows=rows, title=f"by {title}", fold=True)
