"""``byok tenant``: onboard a tenant, verify and activate its key configuration.

The vendor operator's flow (docs/OPERATIONS.md#onboarding)::

    byok tenant create acme                      # prints the External ID to give the customer
    byok tenant configure acme --handover handover.json   # the file `customer setup` wrote
    byok tenant configure acme --mode assume-role \\
        --key-arn arn:aws:kms:us-east-1:111122223333:key/... \\
        --client-role-arn arn:aws:iam::111122223333:role/byok-client --external-id byok-...
    byok tenant verify acme                      # named checks with evidence and fixes
    byok tenant activate acme

The service (SQLAlchemy, boto3) is imported inside each command, so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from byok.cli.handover import merge_handover, read_handover
from byok.cli.output import (
    BREAK,
    JSON_OPTION,
    console,
    emit_json,
    reports_errors,
    styled,
    table,
    text,
)
from byok.errors import InvalidInput

if TYPE_CHECKING:
    from byok.service.vendor import Vendor
    from byok.service.verification import VerificationReport
    from byok.store.tenants import Tenant

__all__ = ["tenant_app"]

tenant_app = typer.Typer(
    help="Vendor side: onboard tenants and manage their key configurations.",
    no_args_is_help=True,
)

TENANT = typer.Argument(..., help="Tenant id: 1-128 of letters, digits, '.', '_', '-'.")


def _vendor() -> Vendor:
    from byok.service.runtime import open_vendor  # keeps start-up light

    return open_vendor(actor="cli")


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
    vendor = _vendor()
    created = vendor.create_tenant(tenant, name=name)
    if json_output:
        emit_json(_tenant_dict(created) | {"vendor_role_arn": vendor.settings.vendor_role_arn})
        return
    console.print(text("Created tenant ", styled(created.id, "bold"), f" (state {created.state})."))
    console.print(
        text("External ID for the customer's trust policy: ", styled(created.external_id, "bold"))
    )
    console.print(f"Vendor role for the customer's policies: {vendor.settings.vendor_role_arn}")
    console.print("Next: the customer runs `byok customer setup`, then `byok tenant configure`.")


@tenant_app.command("configure")
@reports_errors
def configure(
    tenant: str = typer.Argument(None, help="Tenant id (default: the hand-over file's)."),
    handover: Path = typer.Option(
        None,
        "--handover",
        exists=True,
        dir_okay=False,
        help="The hand-over JSON the customer's `byok customer setup --handover-out` wrote: "
        "fills --mode, --key-arn, --client-role-arn, --external-id (and the tenant).",
    ),
    mode: str = typer.Option(None, help="direct (Option A) or assume-role (Option B)."),
    key_arn: str = typer.Option(None, help="The customer's KMS key ARN (not an alias)."),
    client_role_arn: str = typer.Option(
        None,
        "--client-role-arn",
        "--role-arn",
        help="Option B: the customer's client role ARN (--role-arn is an older alias).",
    ),
    external_id: str = typer.Option(None, help="Option B: the External ID in the trust policy."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Submit the key configuration the customer handed over (stored as PENDING).

    Give the hand-over file, or the fields as options (the same names: --key-arn,
    --client-role-arn, ...). An option may fill what the file lacks but not contradict it.
    """  # fmt: skip
    given = merge_handover(
        read_handover(handover) if handover is not None else {},
        {"tenant": tenant, "mode": mode, "key_arn": key_arn,
         "client_role_arn": client_role_arn, "external_id": external_id},
    )  # fmt: skip
    for name in ("tenant", "mode", "key_arn"):
        if name not in given:
            flag = "the TENANT argument" if name == "tenant" else f"--{name.replace('_', '-')}"
            raise InvalidInput(name, "is required", fix=f"Give {flag} or --handover FILE.")
    _check_region(given)
    stored = _vendor().submit_config(
        given["tenant"], mode=given["mode"], key_arn=given["key_arn"],
        client_role_arn=given.get("client_role_arn"), external_id=given.get("external_id"),
    )  # fmt: skip
    tenant = given["tenant"]
    if json_output:
        emit_json({"tenant": tenant, "version": stored.version, "state": str(stored.state)})
        return
    console.print(f"Stored configuration version {stored.version} for {tenant} (PENDING).")
    console.print(f"Next: `byok tenant verify {tenant}`.")


def _check_region(given: dict[str, str]) -> None:
    """A hand-over's ``region`` must be the key ARN's region."""
    from byok.core.arn import parse_key_arn

    region = given.get("region")
    if region is not None and region != parse_key_arn(given["key_arn"]).region:
        raise InvalidInput(
            "region", f"{region!r:.40} is not the key ARN's region", fix="Use the file as written."
        )


@tenant_app.command("verify")
@reports_errors
def verify(
    tenant: str = TENANT,
    version: int = typer.Option(None, help="Configuration version (default: the newest)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Run every check on the configuration; exit 3 when any check fails."""
    report = _vendor().verify(tenant, version)
    if json_output:
        emit_json(report.to_dict())
    else:
        print_report(report)
    if not report.passed:
        raise typer.Exit(3)


def print_report(report: VerificationReport) -> None:
    """Print a verification report as a table with evidence and fixes."""
    colour = {"passed": "green", "failed": "red", "skipped": "yellow"}
    rows = [
        (check.name, styled(check.status, colour.get(check.status, "")),
         text(check.evidence, *((BREAK, ("fix:", "yellow"), " ", check.fix) if check.fix else ())))
        for check in report.checks
    ]  # fmt: skip
    title = f"Verification of {report.tenant} v{report.version} ({report.mode})"
    console.print(table("check", "result", "evidence / fix", rows=rows, title=title, fold=True))
    verdict = styled("PASSED", "green") if report.passed else styled("FAILED", "red")
    console.print(text("Verification ", verdict))


@tenant_app.command("activate")
@reports_errors
def activate(
    tenant: str = TENANT,
    version: int = typer.Option(None, help="Configuration version (default: the newest)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Put a verified configuration in use; the tenant becomes ACTIVE."""
    activated = _vendor().activate(tenant, version)
    if json_output:
        emit_json(_tenant_dict(activated))
        return
    console.print(f"Tenant {tenant} is {activated.state}.")


@tenant_app.command("approve")
@reports_errors
def approve(
    tenant: str = TENANT,
    version: int = typer.Option(..., help="The configuration version to approve."),
    approver: str = typer.Option(
        ..., help="Your name: the second person approving (recorded as operator:<name>)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Approve a configuration whose key is in another AWS account (re-rooting).

    Activating such a version needs a second principal besides its submitter, so one
    stolen tenant token cannot move a tenant to a key its customer does not control.

    Example: byok tenant approve acme --version 3 --approver alice
    """
    from byok.service.onboarding import OPERATOR, Principal

    stored = _vendor().approve(tenant, version, Principal(f"operator:{approver}", OPERATOR))
    if json_output:
        emit_json({"tenant": tenant, "version": stored.version, "approved_by": stored.approved_by})
        return
    console.print(text(f"Version {stored.version} of {tenant} approved by ", stored.approved_by))


@tenant_app.command("show")
@reports_errors
def show(tenant: str = TENANT, json_output: bool = JSON_OPTION) -> None:
    """Show a tenant: state, External ID, key configurations and the scopes, periods or
    reasons the customer's key policy refuses (`byok tenant scopes` for its scope rules)."""
    vendor = _vendor()
    found = vendor.tenants.get(tenant)
    configs = [
        {"version": c.version, "state": str(c.state), "mode": c.config.mode,
         "key_arn": c.config.key_arn, "client_role_arn": c.config.client_role_arn}
        for c in vendor.tenants.configs(tenant)
    ]  # fmt: skip
    refused = list(vendor.policies.get(tenant).refused)
    if json_output:
        emit_json(_tenant_dict(found) | {"configurations": configs, "refused": refused})
        return
    for key, value in _tenant_dict(found).items():
        console.print(text(f"{key:>13}: ", "-" if value is None else value))
    for config in configs:
        console.print(f"  v{config['version']} {config['state']:<9} {config['mode']:<11} "
                      f"{config['key_arn']}")  # fmt: skip
    for entry in refused:  # the tenant stays ACTIVE for everything else
        console.print(text("      refused: ", entry["dimension"], " ", entry["value"],
                           f" (by the customer's key policy since {entry['since']})"))  # fmt: skip


@tenant_app.command("list")
@reports_errors
def list_tenants(json_output: bool = JSON_OPTION) -> None:
    """List every tenant with its state."""
    tenants = _vendor().tenants.list()
    if json_output:
        emit_json([_tenant_dict(t) for t in tenants])
        return
    rows = [(t.id, t.name, t.state, t.state_detail or "") for t in tenants]
    console.print(table("tenant", "name", "state", "detail", rows=rows, fold=True))
