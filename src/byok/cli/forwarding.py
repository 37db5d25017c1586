"""``byok customer forwarding-rule``: the EventBridge rules for push revocation.

The customer deploys them once per tenant so that disabling the key, scheduling its
deletion, editing its policy or the client role reaches the vendor within about a second
(docs/OPERATIONS.md#push-revocation). No AWS access: the command only writes the template.
"""

from __future__ import annotations

import typer

from byok.cli.output import JSON_OPTION, emit_json, reports_errors, write_exact
from byok.errors import InvalidInput

__all__ = ["forwarding_rule_command"]


@reports_errors
def forwarding_rule_command(
    tenant: str = typer.Option(..., "--tenant", help="Your tenant id at the vendor."),
    key_arn: str = typer.Option(..., "--key-arn", help="The tenant's KMS key ARN."),
    endpoint: str = typer.Option(
        ...,
        "--endpoint",
        help="The vendor's key-event URL (https://.../v1/key-events/<tenant>): the url the "
        "vendor gives with the key-event secret (API or console push-revocation page).",
    ),
    client_role_arn: str = typer.Option(
        None, "--client-role-arn", help="Option B: also forward the client role's IAM events."
    ),
    output_format: str = typer.Option(
        "cloudformation", "--format", help="cloudformation (JSON) or terraform."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Print the EventBridge forwarding rules (API destination) for push revocation.

    Examples:

      byok customer forwarding-rule --tenant acme \\
        --key-arn arn:aws:kms:us-east-1:111122223333:key/1234abcd-... \\
        --endpoint https://byok.vendor.example/v1/key-events/acme > forwarding.json

    Deploy it with the tenant's key-event secret (from the vendor) as the EventKey
    parameter (Terraform: -var event_key=...). IAM events arrive in us-east-1 only.
    """
    from byok.core.policy.templates import render_json
    from byok.core.policy.templates.forwarding import (
        ForwardingSetup,
        forwarding_cloudformation,
        forwarding_terraform,
    )

    setup = ForwardingSetup(tenant, key_arn, endpoint, client_role_arn)
    if output_format == "cloudformation":
        template = forwarding_cloudformation(setup)
        if json_output:
            emit_json({"format": "cloudformation", "template": template})
        else:
            write_exact(render_json(template))
        return
    if output_format == "terraform":
        config = forwarding_terraform(setup)
        emit_json({"format": "terraform", "main.tf": config}) if json_output else write_exact(
            config
        )
        return
    raise InvalidInput(
        "format", f"{output_format!r:.30} is not a format", fix="Use cloudformation or terraform."
    )
