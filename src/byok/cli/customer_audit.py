"""``byok customer audit``: the customer's set-up checked against AWS (or pasted policies),
findings with severity, evidence and the fix; the exit code says the worst finding."""

from __future__ import annotations

from pathlib import Path

import typer

from byok.cli.customer_options import (
    ADMINS,
    ENDPOINT,
    FACING_ROLE,
    HANDOVER,
    PROFILE,
    STORAGE_ROLE,
    VENDOR_ACCOUNT,
    handover_fields,
    vendor_identity,
)
from byok.cli.handover import read_json
from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors
from byok.errors import InvalidInput

__all__ = ["audit"]


@reports_errors
def audit(
    vendor_account: str = VENDOR_ACCOUNT,
    handover: Path = HANDOVER,
    tenant: str = typer.Option(None, "--tenant", help="Your tenant id."),
    mode: str = typer.Option(None, "--mode", help="direct or assume-role."),
    key_arn: str = typer.Option(None, "--key-arn", help="The key's ARN."),
    client_role_arn: str = typer.Option(
        None, "--client-role-arn", help="Option B: the client role's ARN."
    ),
    external_id: str = typer.Option(
        None, "--external-id", help="Option B: the External ID the vendor gave you."
    ),
    expected_region: str = typer.Option(
        "us-east-1", "--expected-region", help="The region the vendor accepts keys in."
    ),
    admins: list[str] = ADMINS,
    policy_file: Path = typer.Option(
        None,
        "--policy-file",
        exists=True,
        dir_okay=False,
        help="Audit pasted policies in this JSON file, with no AWS access (fields: see below).",
    ),
    vendor_role: str = FACING_ROLE,
    storage_role: str = STORAGE_ROLE,
    profile: str = PROFILE,
    endpoint_url: str = ENDPOINT,
    json_output: bool = JSON_OPTION,
    offboarded: bool = typer.Option(
        False,
        "--offboarded",
        help="The vendor offboarded you: report what still lets it use the key (statements, "
        "grants, role trust, an enabled key).",
    ),
) -> None:
    """Audit your set-up: findings with severity, evidence and the fix.

    Examples:

      byok customer audit --vendor-account 444455556666 --handover handover.json

      byok customer audit --vendor-account 444455556666 --tenant acme \\
        --mode direct --key-arn arn:aws:kms:us-east-1:111122223333:key/... \\
        --json | jq .findings

      # pasted policies, no AWS access at all
      byok customer audit --vendor-account 444455556666 --policy-file mine.json

    Reads (never changes) the key's state, spec, usage, rotation, multi-Region
    and key policy; for Option B the client role's trust and permissions
    policies; and whether CloudTrail logs the key's use ("unknown" if it may
    not look). The project's policy evaluator then answers: can the vendor use
    the key, with only the five actions; is the External ID required; is there
    a wildcard principal, kms:* for non-admins, or another account.

    --policy-file: a JSON object with tenant, mode, key_arn, key_policy and,
    for Option B, client_role_arn, external_id, trust_policy and
    permissions_policies (a list); optionally admins.

    --offboarded: after the vendor offboarded you, every statement, grant or
    role trust still naming the vendor's account is a high finding, and a key
    that is still enabled a medium one (disable it or schedule its deletion).

    Exit codes by the worst finding: 0 none or info, 3 low, 4 medium, 5 high,
    6 critical. Errors: 2 invalid input, 10-16 AWS refused reading the key,
    20-22 AWS trouble.
    """
    from byok.cli.customer_views import show_audit, show_findings
    from byok.core.customer_audit import audit_policy_file
    from byok.customer.audit import EXIT_CODES, run_audit
    from byok.customer.aws import CustomerAws

    vendor = vendor_identity(vendor_account, vendor_role, storage_role)
    if policy_file is not None:
        pasted = read_json(policy_file, "policy_file")
        if not isinstance(pasted, dict):
            raise InvalidInput("policy_file", "must be a JSON object", fix="See --help for fields.")
        report = audit_policy_file(pasted, vendor)
        if json_output:
            emit_json({**report.to_dict(), "exit_code": EXIT_CODES[report.worst]})
        else:
            show_findings(report, console)
        raise typer.Exit(EXIT_CODES[report.worst])
    given = handover_fields(handover) | {
        k: v
        for k, v in (
            ("tenant", tenant),
            ("mode", mode),
            ("key_arn", key_arn),
            ("client_role_arn", client_role_arn),
            ("external_id", external_id),
        )
        if v is not None
    }
    for name in ("tenant", "mode", "key_arn"):
        if name not in given:
            raise InvalidInput(
                name,
                "is required",
                fix=f"Give --{name.replace('_', '-')} or --handover with the hand-over JSON.",
            )
    aws = CustomerAws.connect(profile=profile, endpoint_url=endpoint_url, tenant=given["tenant"])
    result = run_audit(
        aws,
        vendor,
        tenant=given["tenant"],
        mode=given["mode"],
        key_arn=given["key_arn"],
        client_role_arn=given.get("client_role_arn"),
        external_id=given.get("external_id"),
        expected_region=expected_region,
        admins=admins or (),
        offboarded=offboarded,
    )
    if json_output:
        emit_json(result.to_dict())
    else:
        show_audit(result, console)
    raise typer.Exit(result.exit_code)
