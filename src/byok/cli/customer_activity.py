"""``byok customer activity``: the vendor's uses of the key, from the customer's CloudTrail,
and ``--verify-audit``: the vendor's audit export checked against the heads it anchored there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from byok.cli.customer_options import ENDPOINT, HANDOVER, PROFILE, handover_fields
from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors
from byok.errors import InvalidInput

if TYPE_CHECKING:
    from byok.customer.aws import CustomerAws

__all__ = ["activity"]


@reports_errors
def activity(
    handover: Path = HANDOVER,
    key_arn: str = typer.Option(None, "--key-arn", help="The key's ARN."),
    since: str = typer.Option(
        "24h",
        "--since",
        help="How far back: 90m, 24h, 7d (at most "
        "90d), or an ISO time such as 2026-11-28T09:00:00Z.",
    ),
    vendor_account: str = typer.Option(
        None,
        "--vendor-account",
        envvar="BYOK_VENDOR_ACCOUNT",
        help="Show only calls from the vendor's account (Option A).",
    ),
    client_role_arn: str = typer.Option(
        None,
        "--client-role-arn",
        help="Show only calls by sessions of your client role (Option B).",
    ),
    max_events: int = typer.Option(
        1000, "--max-events", min=1, max=10000, help="Read at most this many events (newest first)."
    ),
    verify_audit: Path = typer.Option(
        None,
        "--verify-audit",
        help="Check the vendor's audit export (byok audit export) against the audit heads the "
        "vendor anchored in your CloudTrail; exit 30 if it was rewritten or truncated.",
    ),
    tenant: str = typer.Option(None, "--tenant", help="The tenant id (default: hand-over)."),
    profile: str = PROFILE,
    endpoint_url: str = ENDPOINT,
    json_output: bool = JSON_OPTION,
) -> None:
    """Show what the vendor did with your key, from your CloudTrail.

    Examples:

      byok customer activity --handover handover.json --since 7d

      byok customer activity --vendor-account 444455556666 \\
        --key-arn arn:aws:kms:us-east-1:111122223333:key/... --json | jq .by_tenant

    Groups the calls on the key by operation (GenerateDataKey, Decrypt,
    ReEncrypt, ...), by the byok:tenant encryption context the vendor sent,
    and by caller, with counts, refused calls and the last time. Without
    --vendor-account or --client-role-arn (a hand-over names the client role)
    every call on the key is shown. CloudTrail shows an event a few minutes
    after the call and keeps 90 days.

    With --verify-audit EXPORT, checks the vendor's audit export instead: each
    event's hash, and the tenant's audit head at every point the vendor
    anchored it in your CloudTrail (kms:Encrypt with byok:audit-head in the
    encryption context). The first event that does not match is named.
    """
    from byok.cli.customer_views import show_activity
    from byok.customer.activity import key_activity, parse_since
    from byok.customer.aws import CustomerAws

    given = handover_fields(handover)
    key = key_arn or given.get("key_arn")
    if key is None:
        raise InvalidInput("key_arn", "is required", fix="Give --key-arn or --handover.")
    role = client_role_arn or given.get("client_role_arn")
    now = datetime.now(UTC)
    aws = CustomerAws.connect(
        profile=profile, endpoint_url=endpoint_url, tenant=given.get("tenant")
    )
    if verify_audit is not None:
        _verify_audit(
            aws, key, verify_audit, tenant or given.get("tenant"), since, now, json_output
        )
        return
    report = key_activity(
        aws,
        key,
        since=parse_since(since, now),
        now=lambda: now,
        vendor_account=vendor_account,
        client_role_arn=role,
        max_events=max_events,
    )
    if json_output:
        emit_json(report.to_dict())
        return
    show_activity(report, console)


def _verify_audit(
    aws: CustomerAws,
    key: str,
    export: Path,
    tenant: str | None,
    since: str,
    now: datetime,
    json_output: bool,
) -> None:
    from byok.customer.activity import parse_since
    from byok.customer.audit_verify import verify_audit_export

    result = verify_audit_export(
        aws, key, export, tenant=tenant, since=parse_since(since, now), now=now
    )
    if json_output:
        emit_json(result.to_dict())
    elif result.ok:
        check = result.check
        console.print(
            f"Audit export of {result.tenant} matches your CloudTrail: {check.events} events, "
            f"{check.anchors_matched} anchored heads matched, {check.unanchored_events} events "
            "after the newest anchor not yet provable."
        )
    else:
        console.print(f"Audit export of {result.tenant} does NOT match: {result.reason}")
    if not result.ok:
        raise typer.Exit(30)
