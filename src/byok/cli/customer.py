"""``byok customer``: the customer's security admin's toolkit (docs/CUSTOMER.md).

Four commands, in the order a customer uses them::

    byok customer policy  ...   # the exact policies, CloudFormation or Terraform (no AWS)
    byok customer setup   ...   # create/adopt key (+ client role), idempotent, --dry-run
    byok customer audit   ...   # findings with severity, evidence, fix; exit code by severity
    byok customer activity ...  # the vendor's uses of the key, from CloudTrail

AWS commands run with the customer's own credentials (``--profile`` or the environment) and
reach the local AWS with ``--endpoint-url``. boto3 and the policy templates are imported inside
the commands, so ``--help`` stays fast. ``audit`` and ``activity`` live in
:mod:`byok.cli.customer_audit` and :mod:`byok.cli.customer_activity`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from byok.cli.customer_activity import activity
from byok.cli.customer_audit import audit
from byok.cli.customer_options import (
    ADMINS,
    ALIAS,
    CLIENT_ROLE,
    DENY_PERIODS,
    DENY_REASONS,
    DENY_SCOPES,
    DESCRIPTION,
    ENDPOINT,
    EXTERNAL_ID,
    FACING_ROLE,
    KEY_ARN,
    MODE,
    PROFILE,
    REGION,
    REQUIRE_CONTEXT,
    STORAGE_ROLE,
    TENANT,
    UNCONDITIONED,
    VENDOR_ACCOUNT,
    customer_setup,
    vendor_identity,
)
from byok.cli.files import atomic_output
from byok.cli.output import (
    JSON_OPTION,
    console,
    emit_json,
    reports_errors,
    write_exact,
)
from byok.errors import InvalidInput

if TYPE_CHECKING:
    from byok.core.policy.templates import CustomerSetup, VendorIdentity

__all__ = ["customer_app"]

customer_app = typer.Typer(
    help=(
        "Customer side: the exact policies, one-command key and role set-up, an audit of the "
        "set-up, and the vendor's use of your key.\n\n"
        "Start with `byok customer policy --help` (documents only, no AWS access) or "
        "`byok customer setup --help` (does it for you, with your AWS credentials)."
    ),
    no_args_is_help=True,
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
    setup = customer_setup(
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
    vendor = vendor_identity(vendor_account, vendor_role, storage_role)
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
    wanted = customer_setup(
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
        aws, vendor_identity(vendor_account, vendor_role, storage_role), wanted, dry_run=dry_run
    )
    if handover_out is not None and not result.dry_run:
        with atomic_output(handover_out, "w") as sink:
            sink.write(render_json(dict(result.handover)))
    if json_output:
        emit_json(result.to_dict())
        return
    show_setup(result, console)


customer_app.command("audit")(audit)
customer_app.command("activity")(activity)
