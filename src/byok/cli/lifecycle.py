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

import typer

from byok.aws.clients import AwsSettings, ClientFactory
from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors
from byok.portable.decrypt import decrypt_export
from byok.service.export import export_tenant
from byok.service.lifecycle import migrate_tenant, rotate_tenant_key
from byok.service.offboarding import offboard_tenant
from byok.service.progress import QUIET, RichProgress
from byok.service.runtime import open_vendor
from byok.store.fsck import fsck

__all__ = ["decrypt_export_command", "fsck_command", "register"]

TENANT = typer.Argument(..., help="Tenant id.")


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
    vendor = open_vendor(actor="cli")
    report = migrate_tenant(
        vendor, tenant, to_version=to_version, progress=QUIET if json_output else RichProgress()
    )
    if json_output:
        emit_json(report.to_dict())
        return
    done = "complete" if report.complete else "INCOMPLETE: run it again"
    console.print(f"Migration of {tenant} to v{to_version}: {done}; "
                  f"{sum(report.rewrapped.values())} tenant keys re-wrapped {report.rewrapped}, "
                  f"KMS calls {report.kms_calls}, {report.seconds:.1f}s.")  # fmt: skip
    if report.complete and report.old_key_arns:
        console.print(f"The old key(s) can now be disabled: {', '.join(report.old_key_arns)}")


@reports_errors
def rotate_command(tenant: str = TENANT, json_output: bool = JSON_OPTION) -> None:
    """Make a new tenant key now (one kms:GenerateDataKey); older ones stay for reading."""
    report = rotate_tenant_key(open_vendor(actor="cli"), tenant)
    if json_output:
        emit_json(report.to_dict())
        return
    console.print(f"New tenant key for {tenant}: {report.to_dict()}")


@reports_errors
def offboard_command(
    tenant: str = TENANT,
    confirm: str = typer.Option(..., help="Repeat the tenant id: this destroys its data."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Crypto-shred a tenant (delete its wrapped keys first), then its documents and rows."""
    report = offboard_tenant(
        open_vendor(actor="cli"), tenant, confirm=confirm,
        progress=QUIET if json_output else RichProgress(),
    )  # fmt: skip
    if json_output:
        emit_json(report.to_dict())
        return
    console.print(f"Offboarded {tenant}: {report.to_dict()}")


@reports_errors
def export_command(
    tenant: str = TENANT,
    out_dir: Path = typer.Argument(..., help="New or empty folder for the bundle."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write the tenant's export bundle: documents as stored, wrapped keys, hashed manifest.

    The customer decrypts it with only its own AWS credentials: `byok customer decrypt-export`.
    """
    manifest = export_tenant(
        open_vendor(actor="cli"), tenant, out_dir, progress=QUIET if json_output else RichProgress()
    )
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
    vendor = open_vendor(actor="cli")
    report = fsck(vendor.store, vendor.documents.blobs, repair=repair)
    if json_output:
        emit_json(report.__dict__)
        return
    for name, value in report.__dict__.items():
        console.print(f"{name:>20}: {value if isinstance(value, int) else len(value)}")
    console.print("clean" if report.clean else "[red]needs attention[/] (run with --repair)")
    if not report.clean:
        raise typer.Exit(42)
