"""``byok tenant``: onboard a tenant, verify and activate its key configuration.

The vendor operator's flow (docs/OPERATIONS.md#onboarding)::

    byok tenant create acme                      # prints the External ID to give the customer
    byok tenant configure acme --mode assume-role \\
        --key-arn arn:aws:kms:us-east-1:111122223333:key/... \\
        --role-arn arn:aws:iam::111122223333:role/byok-client --external-id byok-...
    byok tenant verify acme                      # named checks with evidence and fixes
    byok tenant activate acme
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors
from byok.service.runtime import open_vendor
from byok.service.verification import VerificationReport
from byok.store.tenants import Tenant

__all__ = ["tenant_app"]

tenant_app = typer.Typer(
    help="Vendor side: onboard tenants and manage their key configurations.",
    no_args_is_help=True,
)

TENANT = typer.Argument(..., help="Tenant id: 1-128 of letters, digits, '.', '_', '-'.")


def _tenant_dict(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant": tenant.id,
        "name": tenant.name,
        "state": str(tenant.state),
        "state_detail": tenant.state_detail,
        "external_id": tenant.external_id,
    }


@tenant_app.command("create")
@reports_errors
def create(
    tenant: str = TENANT,
    name: str = typer.Option(None, help="Display name (default: the tenant id)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Create a tenant and issue its unique External ID (give it to the customer)."""
    vendor = open_vendor(actor="cli")
    created = vendor.create_tenant(tenant, name=name)
    if json_output:
        emit_json(_tenant_dict(created) | {"vendor_role_arn": vendor.settings.vendor_role_arn})
        return
    console.print(f"Created tenant [bold]{created.id}[/] (state {created.state}).")
    console.print(f"External ID for the customer's trust policy: [bold]{created.external_id}[/]")
    console.print(f"Vendor role for the customer's policies: {vendor.settings.vendor_role_arn}")
    console.print("Next: the customer runs `byok customer setup`, then `byok tenant configure`.")


@tenant_app.command("configure")
@reports_errors
def configure(
    tenant: str = TENANT,
    mode: str = typer.Option(..., help="direct (Option A) or assume-role (Option B)."),
    key_arn: str = typer.Option(..., help="The customer's KMS key ARN (not an alias)."),
    role_arn: str = typer.Option(None, help="Option B: the customer's client role ARN."),
    external_id: str = typer.Option(None, help="Option B: the External ID in the trust policy."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Submit the key configuration the customer handed over (stored as PENDING)."""
    vendor = open_vendor(actor="cli")
    stored = vendor.submit_config(
        tenant, mode=mode, key_arn=key_arn, client_role_arn=role_arn, external_id=external_id
    )
    if json_output:
        emit_json({"tenant": tenant, "version": stored.version, "state": str(stored.state)})
        return
    console.print(f"Stored configuration version {stored.version} for {tenant} (PENDING).")
    console.print(f"Next: `byok tenant verify {tenant}`.")


@tenant_app.command("verify")
@reports_errors
def verify(
    tenant: str = TENANT,
    version: int = typer.Option(None, help="Configuration version (default: the newest)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Run every check on the configuration; exit 3 when any check fails."""
    report = open_vendor(actor="cli").verify(tenant, version)
    if json_output:
        emit_json(report.to_dict())
    else:
        print_report(report)
    if not report.passed:
        raise typer.Exit(3)


def print_report(report: VerificationReport) -> None:
    """Print a verification report as a table with evidence and fixes."""
    table = Table(title=f"Verification of {report.tenant} v{report.version} ({report.mode})")
    for column in ("check", "result", "evidence / fix"):
        table.add_column(column, overflow="fold")
    colour = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for check in report.checks:
        detail = check.evidence + (f"\n[yellow]fix:[/] {check.fix}" if check.fix else "")
        table.add_row(check.name, f"[{colour[check.status]}]{check.status}[/]", detail)
    console.print(table)
    verdict = "[green]PASSED[/]" if report.passed else "[red]FAILED[/]"
    console.print(f"Verification {verdict}")


@tenant_app.command("activate")
@reports_errors
def activate(
    tenant: str = TENANT,
    version: int = typer.Option(None, help="Configuration version (default: the newest)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Put a verified configuration in use; the tenant becomes ACTIVE."""
    activated = open_vendor(actor="cli").activate(tenant, version)
    if json_output:
        emit_json(_tenant_dict(activated))
        return
    console.print(f"Tenant {tenant} is {activated.state}.")


@tenant_app.command("show")
@reports_errors
def show(tenant: str = TENANT, json_output: bool = JSON_OPTION) -> None:
    """Show a tenant: state, External ID and key configurations."""
    vendor = open_vendor(actor="cli")
    found = vendor.tenants.get(tenant)
    configs = [
        {"version": c.version, "state": str(c.state), "mode": c.config.mode,
         "key_arn": c.config.key_arn, "client_role_arn": c.config.client_role_arn}
        for c in vendor.tenants.configs(tenant)
    ]  # fmt: skip
    if json_output:
        emit_json(_tenant_dict(found) | {"configurations": configs})
        return
    for key, value in _tenant_dict(found).items():
        console.print(f"{key:>13}: {value}")
    for config in configs:
        console.print(f"  v{config['version']} {config['state']:<9} {config['mode']:<11} "
                      f"{config['key_arn']}")  # fmt: skip


@tenant_app.command("list")
@reports_errors
def list_tenants(json_output: bool = JSON_OPTION) -> None:
    """List every tenant with its state."""
    tenants = open_vendor(actor="cli").tenants.list()
    if json_output:
        emit_json([_tenant_dict(t) for t in tenants])
        return
    table = Table("tenant", "state", "detail")
    for t in tenants:
        table.add_row(t.id, str(t.state), t.state_detail or "")
    console.print(table)
