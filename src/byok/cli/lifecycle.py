"""Lifecycle commands: ``byok tenant migrate|rotate-tk|offboard|export``, ``byok fsck`` and
``byok customer decrypt-export`` (docs/OPERATIONS.md).

Examples::

    byok tenant configure acme --mode direct --key-arn arn:aws:kms:...:key/NEW
    byok tenant verify acme && byok tenant migrate acme --to-version 2
    byok tenant rotate-tk acme
    byok tenant export acme ./acme-bundle
    byok tenant offboard acme --confirm acme
    byok customer decrypt-export ./acme-bundle ./acme-plain --profile acme-admin
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from byok.cli.output import (
    JSON_OPTION,
    console,
    emit_json,
    human,
    print_fields,
    reports_errors,
    styled,
    text,
)

if TYPE_CHECKING:
    from byok.service.progress import Progress
    from byok.service.vendor import Vendor

# The service (SQLAlchemy, boto3) is imported inside each command: `--help` stays fast.

__all__ = ["decrypt_export_command", "fsck_command", "register"]

TENANT = typer.Argument(..., help="Tenant id.")


def _vendor() -> Vendor:
    from byok.service.runtime import open_vendor

    return open_vendor(actor="cli")


def _progress(json_output: bool) -> Progress:
    """A progress bar on stderr for people; none under --json."""
    from byok.service.progress import QUIET, RichProgress

    return QUIET if json_output else RichProgress()


def register(tenant_app: typer.Typer, customer_app: typer.Typer, app: typer.Typer) -> None:
    """Add the lifecycle commands to the tenant, customer and root command groups."""
    tenant_app.command("migrate")(migrate_command)
    tenant_app.command("rotate-tk")(rotate_command)
    tenant_app.command("offboard")(offboard_command)
    tenant_app.command("export")(export_command)
    customer_app.command("decrypt-export")(decrypt_export_command)
    app.command("fsck")(fsck_command)


@reports_errors
def migrate_command(
    tenant: str = TENANT,
    to_version: int = typer.Option(..., help="The VERIFIED configuration version to move to."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Move a tenant to another key: activate a verified configuration, re-wrap every TK.

    Documents are never re-encrypted: one KMS call per tenant key. Reads and writes keep
    working throughout; the job is resumable (run it again after a crash) and idempotent.
    """
    from byok.service.lifecycle import migrate_tenant

    report = migrate_tenant(
        _vendor(), tenant, to_version=to_version, progress=_progress(json_output)
    )
    if json_output:
        emit_json(report.to_dict())
        return
    done = styled("complete", "green") if report.complete else styled("INCOMPLETE", "red")
    console.print(text(f"Migration of {tenant} to v{to_version}: ", done,
                       "" if report.complete else " (run it again to finish)"))  # fmt: skip
    console.print(f"  {sum(report.rewrapped.values())} of {report.total} tenant keys re-wrapped "
                  f"({human(report.rewrapped)}); {report.already_done} were already done; "
                  f"KMS calls: {human(report.kms_calls)}; {report.seconds:.1f}s.")  # fmt: skip
    if report.complete and report.old_key_arns:
        console.print(f"The old key(s) can now be disabled: {', '.join(report.old_key_arns)}")


@reports_errors
def rotate_command(tenant: str = TENANT, json_output: bool = JSON_OPTION) -> None:
    """Make a new tenant key now (one kms:GenerateDataKey); older ones stay for reading."""
    from byok.service.lifecycle import rotate_tenant_key

    report = rotate_tenant_key(_vendor(), tenant)
    if json_output:
        emit_json(report.to_dict())
        return
    console.print(f"New tenant key {report.tk_id} for {tenant} under {report.key_arn}.")
    if report.retired_tk_id:
        console.print(f"{report.retired_tk_id} is retired: still used to read older documents.")


@reports_errors
def offboard_command(
    tenant: str = TENANT,
    confirm: str = typer.Option(..., help="Repeat the tenant id: this destroys its data."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Crypto-shred a tenant (delete its wrapped keys first), then its documents and rows."""
    from byok.service.offboarding import offboard_tenant

    report = offboard_tenant(_vendor(), tenant, confirm=confirm, progress=_progress(json_output))
    if json_output:
        emit_json(report.to_dict())
        return
    console.print(text("Offboarded ", styled(tenant, "bold"), "."))
    fields = report.to_dict()
    prose = {"still_decryptable": "Still decryptable", "customer_action": "Ask the customer"}
    print_fields(fields, skip=("tenant", *prose))
    for name, title in prose.items():
        if fields.get(name):
            console.print(text((f"{title}:", "bold"), " ", fields[name]))


@reports_errors
def export_command(
    tenant: str = TENANT,
    out_dir: Path = typer.Argument(..., help="New or empty folder for the bundle."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write the tenant's export bundle: documents as stored, wrapped keys, hashed manifest.

    The customer decrypts it with only its own AWS credentials: `byok customer decrypt-export`.
    """
    from byok.service.export import export_tenant

    manifest = export_tenant(_vendor(), tenant, out_dir, progress=_progress(json_output))
    summary = {"tenant": tenant, "documents": len(manifest.documents), "keys": manifest.keys,
               "bundle": str(out_dir)}  # fmt: skip
    if json_output:
        emit_json(summary)
        return
    console.print(f"Exported {summary['documents']} documents and {manifest.keys} wrapped keys "
                  f"to {out_dir}.")  # fmt: skip


@reports_errors
def decrypt_export_command(
    bundle: Path = typer.Argument(..., exists=True, file_okay=False, help="The export bundle."),
    out_dir: Path = typer.Argument(..., help="New or empty folder for the plaintext."),
    profile: str = typer.Option(None, help="Your AWS profile (a principal with kms:Decrypt)."),
    endpoint_url: str = typer.Option(
        None, envvar="BYOK_AWS_ENDPOINT_URL", help="AWS endpoint (the local AWS in tests)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Decrypt a vendor's export bundle with only your own AWS credentials (no vendor needed).

    Verifies the manifest hashes, unwraps each tenant key with kms:Decrypt on your key, and
    authenticates every document.
    """
    from byok.aws.clients import AwsSettings, ClientFactory
    from byok.portable.decrypt import decrypt_export

    factory = ClientFactory(AwsSettings(endpoint_url=endpoint_url, profile=profile))
    summary = decrypt_export(bundle, out_dir, factory)
    if json_output:
        emit_json({"tenant": summary.tenant, "documents": summary.documents,
                   "plaintext_bytes": summary.plaintext_bytes,
                   "keys_unwrapped": summary.keys_unwrapped})  # fmt: skip
        return
    console.print(f"Decrypted {summary.documents} documents ({summary.plaintext_bytes} bytes) "
                  f"of {summary.tenant} into {out_dir} with {summary.keys_unwrapped} "
                  "kms:Decrypt calls.")  # fmt: skip


@reports_errors
def fsck_command(
    repair: bool = typer.Option(False, help="Delete orphans older than the grace period."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Check the store: blobs without rows, rows without blobs, unfinished removals."""
    from byok.store.fsck import fsck

    vendor = _vendor()
    report = fsck(vendor.store, vendor.documents.blobs, repair=repair)
    if json_output:
        emit_json(report.__dict__)
        return
    for name, value in report.__dict__.items():
        console.print(f"{name:>20}: {value if isinstance(value, int) else len(value)}")
    verdict = styled("clean", "green") if report.clean else styled("needs attention", "red")
    console.print(text(verdict, "" if report.clean else " (run with --repair)"))
    if not report.clean:
        raise typer.Exit(42)
