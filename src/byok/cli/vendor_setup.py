"""``byok vendor-setup``: create the vendor's ``document-storage-role`` (idempotent)."""

from __future__ import annotations

import typer

from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors

__all__ = ["vendor_setup_command"]


@reports_errors
def vendor_setup_command(
    service_principal: str = typer.Option(
        None,
        help="ARN allowed to assume the role (default: the vendor account's root, "
        "i.e. any principal in the vendor account that IAM permits).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Create or update the vendor role customers trust (BYOK_VENDOR_ROLE_NAME).

    Its trust policy admits only the vendor's service identity; its permissions allow
    sts:AssumeRole on customers' client roles and the five KMS actions on customers' keys.
    A second run changes nothing.
    """
    from byok.aws.clients import ClientFactory
    from byok.service.bootstrap import ensure_vendor_role
    from byok.service.runtime import aws_settings_for
    from byok.settings import Settings

    settings = Settings.from_env()
    aws = aws_settings_for(settings, {"BYOK_ASSUME_VENDOR_ROLE": "0"})
    principal = service_principal or f"arn:aws:iam::{settings.vendor_account}:root"
    role = ensure_vendor_role(
        ClientFactory(aws), role_name=settings.vendor_role_name, service_principal_arn=principal
    )
    if json_output:
        emit_json(role.__dict__)
        return
    what = "created" if role.created else "updated" if role.policy_changed else "no change"
    console.print(f"{role.arn}: {what}")
