"""``byok tenant scopes``: a tenant's scopes (name prefixes) and period unit.

Examples::

    byok tenant scopes acme                                  # show rules and refused uses
    byok tenant scopes acme --rule legal/=legal --rule hr/=hr --period-unit day
    byok tenant scopes acme --clear                          # every document in 'default'

The customer sees each scope and period in its CloudTrail (``byok:scope``, ``byok:period``)
and can refuse one with ``byok customer policy --deny-scope`` / ``--deny-period``.
"""

from __future__ import annotations

import typer

from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors, text

__all__ = ["register"]


def register(tenant_app: typer.Typer) -> None:
    """Add ``scopes`` to ``byok tenant``."""
    tenant_app.command("scopes")(scopes)


@reports_errors
def scopes(
    tenant: str = typer.Argument(..., help="Tenant id."),
    rule: list[str] = typer.Option(
        None,
        "--rule",
        help="PREFIX=SCOPE: documents named PREFIX... are in SCOPE "
        "(repeat; replaces the tenant's rules). Scope: 1-64 letters, digits, '.', '_', '-'.",
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove every rule (all in 'default')."),
    period_unit: str = typer.Option(
        None, "--period-unit", help="month (default), day or hour: how finely keys are cut."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show or set which scope each document is in, and how keys are cut in time.

    A change applies to new writes on every node within a second; existing documents keep
    the key (and scope and period) they were written under. Without options: show them, with
    the uses the customer's key policy refuses now (the tenant stays ACTIVE for the rest).
    """
    from byok.service.runtime import open_vendor
    from byok.service.scopes import configure_scopes, parse_rule

    vendor = open_vendor(actor="cli")
    rules = [] if clear else ([parse_rule(r) for r in rule] if rule else None)
    policy = configure_scopes(vendor, tenant, rules=rules, period_unit=period_unit)
    view = policy.to_dict()
    if json_output:
        emit_json({"tenant": tenant, "scope_rules": view["scope_rules"],
                   "period_unit": view["period_unit"], "refused": view["refused"]})  # fmt: skip
        return
    console.print(text("Tenant ", tenant, f": keys cut by {policy.period_unit} (UTC)"))
    for prefix, scope in policy.scope_rules:
        console.print(text("  ", prefix, "*  →  scope ", scope))
    console.print("  everything else  →  scope default")
    for entry in policy.refused:
        console.print(text(f"  REFUSED by the customer's key policy since {entry['since']}: ",
                           entry["dimension"], " ", entry["value"]))  # fmt: skip
