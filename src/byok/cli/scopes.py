"""``byok tenant scopes``: a tenant's scopes (name prefixes) and period unit.

Examples::

    byok tenant scopes acme                                  # show rules and refused uses
    byok tenant scopes acme --rule legal/=legal --rule hr/=hr --period-unit day
    byok tenant scopes acme --clear                          # every document in 'default'
    byok tenant restate-keys acme          # keys made before scopes and reasons: state them

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
    tenant_app.command("restate-keys")(restate_keys)


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


@reports_errors
def restate_keys(
    tenant: str = typer.Argument(..., help="Tenant id."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Re-wrap tenant keys made before byok stated scope, period and reason.

    Three KMS calls per such key (Decrypt under its old context, Encrypt under the new one and
    for its customer-request copy); documents are untouched. Run it before the customer turns
    on `--require-context`, which refuses keys that state none. Safe to run again.
    """
    from byok.service.progress import QUIET, RichProgress
    from byok.service.restate import restate_tenant_keys
    from byok.service.runtime import open_vendor

    progress = QUIET if json_output else RichProgress()
    report = restate_tenant_keys(open_vendor(actor="cli"), tenant, progress=progress)
    if json_output:
        emit_json(report.to_dict())
        return
    console.print(text(f"{len(report.restated)} tenant keys of ", tenant, " restated, "
                       f"{report.already} already stated scope, period and reason."))  # fmt: skip
    if report.lost_races:
        console.print(f"{report.lost_races} changed meanwhile: run it again.")
