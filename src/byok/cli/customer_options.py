"""Options and helpers shared by the ``byok customer`` commands (kept apart so that
:mod:`byok.cli.customer` stays readable); nothing heavy is imported here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from byok.cli.handover import read_handover
from byok.cli.output import err_console

if TYPE_CHECKING:
    from byok.core.policy.templates import CustomerSetup, VendorIdentity

#: byok.core.policy.templates.DEFAULT_VENDOR_ROLE, spelled out so that `--help` need not import
#: the templates (tests/cli/test_cli_startup.py checks they agree).
DEFAULT_VENDOR_ROLE = "document-storage-role"

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


def vendor_identity(account: str, facing: str, storage: str) -> VendorIdentity:
    from byok.core.policy.templates import VendorIdentity

    return VendorIdentity(account, customer_facing_role=facing, document_storage_role=storage)


def customer_setup(
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
    from byok.core.policy.templates.levers import LEVER_NOTES

    if unconditioned:
        err_console.print(UNCONDITIONED_WARNING)
    if levers[0]:
        err_console.print(LEVER_NOTES["scope"])
    if levers[3]:
        err_console.print(LEVER_NOTES["strict"])
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


def handover_fields(path: Path | None) -> dict[str, str]:
    """The hand-over file's fields ({} without a file)."""
    return {} if path is None else read_handover(path)
