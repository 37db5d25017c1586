"""How ``byok customer`` shows its results to people (Rich); ``--json`` bypasses this.

Documents that a customer copies (policies, the hand-over) are written as exact JSON with
:func:`byok.core.policy.templates.render_json`, never through Rich, which would wrap long ARNs.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from byok.core.customer_audit import AuditReport, Severity
from byok.core.policy.templates import render_json
from byok.customer.activity import ActivityReport, UsageGroup
from byok.customer.audit import EXIT_CODES, CustomerAuditResult
from byok.customer.plan import SetupResult

__all__ = ["show_activity", "show_audit", "show_findings", "show_setup", "write_exact"]

_STYLE: Final = {"create": "green", "update": "yellow", "no change": "dim"}
_SEVERITY_STYLE: Final = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def write_exact(document: Any) -> None:
    """Write ``document`` to stdout exactly (2-space JSON, build order, final newline)."""
    sys.stdout.write(document if isinstance(document, str) else render_json(document))
    sys.stdout.flush()


def show_setup(result: SetupResult, console: Console) -> None:
    """Print each resource's outcome (and in a dry run every call and document), then the
    hand-over JSON for the vendor."""
    title = "Dry run: nothing was changed" if result.dry_run else "Set-up"
    console.print(
        f"[bold]{title}[/] (account {result.account}, region {result.region})", soft_wrap=True
    )
    for change in result.changes:
        style = _STYLE[change.outcome]
        verb = f"would {change.outcome}" if result.dry_run and change.calls else change.outcome
        console.print(
            f"  [{style}]{verb:>14}[/]  {change.resource}: {change.detail}", soft_wrap=True
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
    console.print(
        "\n[bold]Hand this configuration to the vendor[/] through its secure "
        "channel (no secret in it; copy it unchanged):",
        soft_wrap=True,
    )
    console.file.flush()
    write_exact(dict(result.handover))


def show_findings(report: AuditReport, console: Console) -> None:
    """Print findings worst first: severity, title, evidence, fix; then the verdict."""
    if not report.findings:
        console.print("[green]No findings.[/]")
    for finding in report.findings:
        style = _SEVERITY_STYLE[finding.severity]
        console.print(
            f"[{style}]{finding.severity.label.upper():>8}[/] [bold]{finding.title}"
            f"[/] ({finding.code})",
            soft_wrap=True,
        )
        console.print(f"          evidence: {finding.evidence}", soft_wrap=True)
        console.print(f"          [yellow]fix:[/] {finding.fix}", soft_wrap=True)
    worst = report.worst
    label = "none" if worst is None else worst.label
    console.print(f"Worst severity: {label} (exit code {EXIT_CODES[worst]}).")


def show_audit(result: CustomerAuditResult, console: Console) -> None:
    """Print what the audit read, then the findings."""
    key = result.key
    rotation = "unknown" if key.rotation is None else "on" if key.rotation else "off"
    console.print(f"[bold]Key[/] {key.arn}", soft_wrap=True)
    console.print(
        f"  state {key.state}, {key.spec}, {key.usage}, manager {key.manager}, "
        f"multi-Region {'yes' if key.multi_region else 'no'}, rotation {rotation}"
    )
    if result.client_role_arn is not None:
        exists = "exists" if result.client_role_found else "MISSING"
        console.print(f"[bold]Client role[/] {result.client_role_arn} ({exists})", soft_wrap=True)
    trails = result.trails.to_dict()
    console.print(
        f"[bold]CloudTrail[/] {trails['status']}"
        + (f": {', '.join(trails['logging'])}" if trails["logging"] else "")
    )
    console.print()
    show_findings(result.report, console)


def show_activity(report: ActivityReport, console: Console) -> None:
    """Print the groups (operation, tenant context, caller) and the latest uses."""
    errors = sum(1 for u in report.uses if u.error)
    console.print(
        f"[bold]{len(report.uses)}[/] uses of {report.key_arn} since "
        f"{report.since:%Y-%m-%d %H:%M:%S} UTC ({errors} refused)",
        soft_wrap=True,
    )
    for title, groups in (
        ("operation", report.by_operation),
        ("tenant (byok:tenant context)", report.by_tenant),
        ("caller", report.by_caller),
    ):
        if groups:
            console.print(_group_table(title, groups))
    if report.uses:
        table = Table("time (UTC)", "operation", "tenant", "caller", "result", title="latest uses")
        for use in report.uses[:20]:
            # the session part names the role and session (Option B: the tenant's session)
            who = use.caller.rsplit(":", 1)[-1] if use.caller else "-"
            table.add_row(
                f"{use.time:%Y-%m-%d %H:%M:%S}",
                use.operation,
                use.tenant or "-",
                who,
                use.error or "ok",
            )
        console.print(table)


def _group_table(title: str, groups: tuple[UsageGroup, ...]) -> Table:
    table = Table(title, "count", "refused", "last (UTC)", title=f"by {title}")
    for group in groups:
        table.add_row(
            group.name, str(group.count), str(group.errors), f"{group.last:%Y-%m-%d %H:%M:%S}"
        )
    return table
