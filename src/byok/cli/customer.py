"""``byok customer``: the customer's security admin's toolkit (docs/CUSTOMER.md).

Four commands, in the order a customer uses them::

    byok customer policy  ...   # the exact policies, CloudFormation or Terraform (no AWS)
    byok customer setup   ...   # create/adopt key (+ client role), idempotent, --dry-run
    byok customer audit   ...   # findings with severity, evidence, fix; exit code by severity
    byok customer activity ...  # the vendor's uses of the key, from CloudTrail

AWS commands run with the customer's own credentials (``--profile`` or the environment) and
reach the local AWS with ``--endpoint-url``. boto3 and the policy templates are imported inside
the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from byok.cli.files import atomic_output
from byok.cli.handover import read_handover, read_json
from byok.cli.output import (
    JSON_OPTION,
    console,
    emit_json,
    err_console,
    reports_errors,
    write_exact,
)
from byok.errors import InvalidInput

if TYPE_CHECKING:
    from byok.core.policy.templates import CustomerSetup, VendorIdentity
    from byok.customer.aws import CustomerAws

__all__ = ["customer_app"]

#: byok.core.policy.templates.DEFAULT_VENDOR_ROLE, spelled out so that `--help` need not import
#: the templates (tests/cli/test_cli_startup.py checks they agree).
DEFAULT_VENDOR_ROLE = "document-storage-role"

customer_app = typer.Typer(
    help=(
        "Customer side: the exact policies, one-command key and role set-up, an audit of the "
        "set-up, and the vendor's use of your key.\n\n"
        "Start with `byok customer policy --help` (documents only, no AWS access) or "
        "`byok customer setup --help` (does it for you, with your AWS credentials)."
    ),
    no_args_is_help=True,
)

# -- shared options ------------------------------------------------------------------------
MODE = typer.Option(
    ...,
    "--mode",
    help="direct (Option A: the key policy names the vendor's "
    "role) or assume-role (Option B: a client role in your account).",
)
VENDOR_ACCOUNT = typer.Option(
    ...,
    "--vendor-account",
    envvar="BYOK_VENDOR_ACCOUNT",
    help="The vendor's 12-digit AWS account id (the vendor gives it).",
)
FACING_ROLE = typer.Option(
    DEFAULT_VENDOR_ROLE,
    "--vendor-role",
    envvar="BYOK_VENDOR_ROLE_NAME",
    help="Option A: name of the vendor role your key policy names: the role the vendor calls "
    "KMS as (its vendor_role_arn; byok's default document-storage-role).",
)
STORAGE_ROLE = typer.Option(
    DEFAULT_VENDOR_ROLE,
    "--document-storage-role",
    help="Option B: name of the vendor role your client role trusts.",
)
TENANT = typer.Option(..., "--tenant", help="Your tenant id, as the vendor gave it.")
KEY_ARN = typer.Option(
    None,
    "--key-arn",
    help="An existing key to adopt (its ARN, not an "
    "alias); omitted: create one (found again by its alias on re-runs).",
)
EXTERNAL_ID = typer.Option(
    None,
    "--external-id",
    help="Option B: the External ID the vendor generated for you. Copy it exactly.",
)
CLIENT_ROLE = typer.Option(
    "byok-client-role", "--client-role", help="Option B: name of the client role in your account."
)
ADMINS = typer.Option(
    None,
    "--admin",
    help="Key administrator (IAM role/user ARN of your "
    "account); repeat for several. Gets management actions only.",
)
UNCONDITIONED = typer.Option(
    False,
    "--unconditioned",
    help="WEAKER: the guide's statement without the tenant condition (by default the key is "
    "limited to this tenant's encryption context kms:EncryptionContext:byok:tenant and the "
    "caller's account). The vendor's verification refuses an unconditioned key.",
)
DENY_SCOPES = typer.Option(
    None,
    "--deny-scope",
    help="Refuse the vendor this scope (repeatable): a Deny on kms:EncryptionContext:byok:scope.",
)
DENY_PERIODS = typer.Option(
    None,
    "--deny-period",
    help="Refuse the vendor this calendar period and its sub-periods (repeatable): 2026, "
    "2026-11, 2026-11-05 or 2026-11-05T10 (UTC), a Deny on kms:EncryptionContext:byok:period.",
)
DENY_REASONS = typer.Option(
    None,
    "--deny-reason",
    help="Refuse the vendor this access reason (repeatable): customer-request, vendor-service "
    "or vendor-support, a Deny on kms:EncryptionContext:byok:reason.",
)
REQUIRE_CONTEXT = typer.Option(
    False,
    "--require-context",
    help="Strict: also refuse any use whose encryption context lacks byok:scope, byok:period "
    "or byok:reason (so a Deny cannot be sidestepped by leaving the key out).",
)
REGION = typer.Option(
    None,
    "--region",
    help="Region of a new key (default us-east-1; an adopted key's region comes from its ARN).",
)
ALIAS = typer.Option(None, "--alias", help="Alias of the key (default alias/byok-<tenant>).")
DESCRIPTION = typer.Option(None, "--description", help="Description of a new key.")
PROFILE = typer.Option(
    None,
    "--profile",
    help="AWS profile with your account's credentials (default: the environment / default chain).",
)
ENDPOINT = typer.Option(
    None,
    "--endpoint-url",
    envvar="BYOK_AWS_ENDPOINT_URL",
    help="AWS endpoint, e.g. the local AWS http://127.0.0.1:4566.",
)
HANDOVER = typer.Option(
    None,
    "--handover",
    exists=True,
    dir_okay=False,
    help="The hand-over "
    "JSON `byok customer setup` printed: fills --tenant, --mode, --key-arn, "
    "--client-role-arn and --external-id.",
)


def _vendor(account: str, facing: str, storage: str) -> VendorIdentity:
    from byok.core.policy.templates import VendorIdentity

    return VendorIdentity(account, customer_facing_role=facing, document_storage_role=storage)


def _setup(
    tenant: str,
    mode: str,
    account: str,
    *,
    key_arn: str | None,
    external_id: str | None,
    client_role: str,
    admins: list[str] | None,
    unconditioned: bool,
    region: str | None,
    alias: str | None,
    description: str | None,
    levers: tuple[list[str] | None, list[str] | None, list[str] | None, bool] = (
        None,
        None,
        None,
        False,
    ),
) -> CustomerSetup:
    from byok.core.policy.templates import UNCONDITIONED_WARNING, AccessLevers, CustomerSetup

    if unconditioned:
        err_console.print(UNCONDITIONED_WARNING)
    return CustomerSetup(
        tenant=tenant,
        mode=mode,  # type: ignore[arg-type]  # CustomerSetup validates it (InvalidInput)
        customer_account=account,
        key_arn=key_arn,
        external_id=external_id,
        client_role_name=client_role,
        admins=tuple(admins or ()),
        hardening=not unconditioned,
        region=region,
        key_alias=alias,
        description=description,
        levers=AccessLevers(
            deny_scopes=tuple(levers[0] or ()),
            deny_periods=tuple(levers[1] or ()),
            deny_reasons=tuple(levers[2] or ()),
            require_context=levers[3],
        ),
    )


@customer_app.command("policy")
@reports_errors
def policy(
    mode: str = MODE,
    vendor_account: str = VENDOR_ACCOUNT,
    tenant: str = TENANT,
    account: str = typer.Option(
        None, "--account", help="Your 12-digit AWS account id (taken from --key-arn when given)."
    ),
    key_arn: str = KEY_ARN,
    external_id: str = EXTERNAL_ID,
    client_role: str = CLIENT_ROLE,
    admins: list[str] = ADMINS,
    unconditioned: bool = UNCONDITIONED,
    deny_scope: list[str] = DENY_SCOPES,
    deny_period: list[str] = DENY_PERIODS,
    deny_reason: list[str] = DENY_REASONS,
    require_context: bool = REQUIRE_CONTEXT,
    region: str = REGION,
    alias: str = ALIAS,
    description: str = DESCRIPTION,
    vendor_role: str = FACING_ROLE,
    storage_role: str = STORAGE_ROLE,
    output_format: str = typer.Option(
        "json",
        "--format",
        help="json (every document, or one with --document), cloudformation or terraform.",
    ),
    document: str = typer.Option(
        None,
        "--document",
        help="Print only this document, e.g. key-policy-statements.json, trust-policy.json.",
    ),
    out: Path = typer.Option(
        None, "--out", file_okay=False, help="Write every document into this directory instead."
    ),
    json_output: bool = typer.Option(
        False,
        "--json",
        help="Always JSON: with --out the files written; with --format terraform the "
        "configuration as a JSON string. (json and cloudformation output is JSON already.)",
    ),
) -> None:
    """Print the exact policies for your set-up (no AWS access).

    Examples:

      # Option A: the statement to add to an existing key's policy
      byok customer policy --mode direct --vendor-account 444455556666 \\
        --tenant acme --document key-policy-statements.json \\
        --key-arn arn:aws:kms:us-east-1:111122223333:key/1234abcd-...

      # Option B, a new key, as a CloudFormation template
      byok customer policy --mode assume-role --tenant acme \\
        --vendor-account 444455556666 --account 111122223333 \\
        --external-id byok-... --format cloudformation > byok.json

      # every document of a set-up, one file each
      byok customer policy ... --out byok-kit/

    A new key (no --key-arn) gets key-policy.json, cloudformation.json and
    main.tf; an existing key gets the statements to add, the client role's
    policies (Option B) and handover.json. Every document limits the key to
    this tenant's encryption context; --unconditioned (weaker) does not.
    """
    from byok.core.arn import parse_key_arn

    if account is None and key_arn is not None:
        account = parse_key_arn(key_arn).account
    if account is None:
        raise InvalidInput(
            "account",
            "is required without --key-arn",
            fix="Give --account with your 12-digit AWS account id.",
        )
    setup = _setup(
        tenant,
        mode,
        account,
        key_arn=key_arn,
        external_id=external_id,
        client_role=client_role,
        admins=admins,
        unconditioned=unconditioned,
        region=region,
        alias=alias,
        description=description,
        levers=(deny_scope, deny_period, deny_reason, require_context),
    )
    vendor = _vendor(vendor_account, vendor_role, storage_role)
    _print_policy(vendor, setup, output_format, document, out, json_output=json_output)


def _print_policy(
    vendor: VendorIdentity,
    setup: CustomerSetup,
    output_format: str,
    document: str | None,
    out: Path | None,
    *,
    json_output: bool,
) -> None:
    from byok.core.policy.templates import (
        cloudformation_template,
        customer_kit,
        render_json,
        terraform_config,
    )

    if output_format == "cloudformation":
        write_exact(render_json(cloudformation_template(vendor, setup)))
        return
    if output_format == "terraform":
        config = terraform_config(vendor, setup)
        write_exact({"main.tf": config} if json_output else config)
        return
    if output_format != "json":
        raise InvalidInput(
            "format",
            f"{output_format!r:.30} is not a format",
            fix="Use json, cloudformation or terraform.",
        )
    kit = customer_kit(vendor, setup)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in kit.items():
            (out / name).write_text(text, encoding="utf-8")
            if not json_output:
                console.print(f"wrote {out / name}")
        if json_output:
            emit_json({"written": [str(out / name) for name in kit]})
        return
    if document is not None:
        if document not in kit:
            raise InvalidInput(
                "document",
                f"{document!r:.60} is not part of this set-up",
                fix=f"Choose one of {', '.join(sorted(kit))}.",
            )
        raw = json_output and not document.endswith(".json")
        write_exact({document: kit[document]} if raw else kit[document])
        return
    write_exact({name: json.loads(text) for name, text in kit.items() if name.endswith(".json")})


@customer_app.command("setup")
@reports_errors
def setup(
    mode: str = MODE,
    vendor_account: str = VENDOR_ACCOUNT,
    tenant: str = TENANT,
    key_arn: str = KEY_ARN,
    external_id: str = EXTERNAL_ID,
    client_role: str = CLIENT_ROLE,
    admins: list[str] = ADMINS,
    unconditioned: bool = UNCONDITIONED,
    deny_scope: list[str] = DENY_SCOPES,
    deny_period: list[str] = DENY_PERIODS,
    deny_reason: list[str] = DENY_REASONS,
    require_context: bool = REQUIRE_CONTEXT,
    region: str = REGION,
    alias: str = ALIAS,
    description: str = DESCRIPTION,
    vendor_role: str = FACING_ROLE,
    storage_role: str = STORAGE_ROLE,
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Read only: print every call and document that would be made, change nothing.",
    ),
    handover_out: Path = typer.Option(
        None,
        "--handover-out",
        dir_okay=False,
        help="Also write the hand-over JSON to this file (for "
        "the vendor, and for `audit --handover`).",
    ),
    profile: str = PROFILE,
    endpoint_url: str = ENDPOINT,
    json_output: bool = JSON_OPTION,
) -> None:
    """Create (or adopt) your key and, for Option B, the client role.

    Examples:

      # see every call and document first; nothing is changed
      byok customer setup --mode direct --vendor-account 444455556666 \\
        --tenant acme --admin arn:aws:iam::111122223333:role/KeyAdmin --dry-run

      # Option B with a named profile of your account
      byok customer setup --mode assume-role --vendor-account 444455556666 \\
        --tenant acme --external-id byok-... --profile security-admin

      # adopt a key you already have; keep the hand-over in a file
      byok customer setup ... --handover-out handover.json \\
        --key-arn arn:aws:kms:us-east-1:111122223333:key/...

    Creates a symmetric ENCRYPT_DECRYPT key (us-east-1 unless --region) with
    alias and description, switches on automatic rotation, adds the key
    administrators, writes the key policy and for Option B the client role
    with its trust and permissions policies. An adopted key keeps every
    statement of its policy; byok's vendor statement is added or replaced.

    Idempotent: a second run changes nothing and says "no change" per
    resource. The last thing printed is the JSON to hand to the vendor (key
    ARN and region; Option B also client role ARN and External ID).

    Exit codes: 0 done or nothing to do; 2 invalid input; 10-16 AWS refused
    a call (the message names the missing permission); 20-22 AWS trouble.
    """
    from byok.cli.customer_views import show_setup
    from byok.core.policy.templates import render_json
    from byok.customer.aws import CustomerAws
    from byok.customer.setup import run_setup

    aws = CustomerAws.connect(
        region=region or "us-east-1", profile=profile, endpoint_url=endpoint_url, tenant=tenant
    )
    wanted = _setup(
        tenant,
        mode,
        aws.account_id(),
        key_arn=key_arn,
        external_id=external_id,
        client_role=client_role,
        admins=admins,
        unconditioned=unconditioned,
        region=region,
        alias=alias,
        description=description,
        levers=(deny_scope, deny_period, deny_reason, require_context),
    )
    result = run_setup(
        aws, _vendor(vendor_account, vendor_role, storage_role), wanted, dry_run=dry_run
    )
    if handover_out is not None and not result.dry_run:
        with atomic_output(handover_out, "w") as sink:
            sink.write(render_json(dict(result.handover)))
    if json_output:
        emit_json(result.to_dict())
        return
    show_setup(result, console)


@customer_app.command("audit")
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

    vendor = _vendor(vendor_account, vendor_role, storage_role)
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
    given = _handover(handover) | {
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


def _handover(path: Path | None) -> dict[str, str]:
    return {} if path is None else read_handover(path)


@customer_app.command("activity")
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

    given = _handover(handover)
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
