"""``byok doc``, ``byok audit`` and ``byok monitor``: documents, the audit log, key probes.

Examples::

    byok doc put acme reports/q3.pdf ./q3.pdf
    byok doc get acme reports/q3.pdf -o ./copy.pdf
    byok doc ls acme --prefix reports/
    byok audit verify
    byok audit export acme -o acme-audit.jsonl
    byok monitor --once
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import typer
from rich.table import Table

from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors
from byok.service.monitor import KeyMonitor
from byok.service.runtime import open_vendor
from byok.store.documents import DocumentHead

__all__ = ["audit_app", "doc_app", "monitor_command"]

doc_app = typer.Typer(
    help="Vendor side: store and read a tenant's documents.", no_args_is_help=True
)
audit_app = typer.Typer(help="Vendor side: the tamper-evident audit log.", no_args_is_help=True)

TENANT = typer.Argument(..., help="Tenant id.")
NAME = typer.Argument(..., help="Document name (e.g. reports/q3.pdf).")


def _head(head: DocumentHead) -> dict[str, object]:
    return {
        "tenant": head.tenant, "name": head.name, "generation": head.generation,
        "stored_bytes": head.size, "sha256": head.sha256, "tk_id": head.tk_id,
        "updated_at": head.updated_at.isoformat(),
    }  # fmt: skip


@doc_app.command("put")
@reports_errors
def put(
    tenant: str = TENANT,
    name: str = NAME,
    path: Path = typer.Argument(..., help="File to store, or - for standard input."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Encrypt a file under the tenant's key and store it."""
    vendor = open_vendor(actor="cli")
    if str(path) == "-":
        head = vendor.put_document(tenant, name, sys.stdin.buffer)
    else:
        with path.open("rb") as source:
            head = vendor.put_document(tenant, name, source)
    if json_output:
        emit_json(_head(head))
        return
    console.print(f"Stored {tenant}/{name} (generation {head.generation}, {head.size} bytes).")


@doc_app.command("get")
@reports_errors
def get(
    tenant: str = TENANT,
    name: str = NAME,
    output: Path = typer.Option(None, "-o", "--output", help="Write here (default: stdout)."),
) -> None:
    """Decrypt a document; each frame is verified before it is written."""
    with open_vendor(actor="cli").get_document(tenant, name) as document:
        if output is None:
            for chunk in document.chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        partial = output.with_name(output.name + ".partial")
        with partial.open("wb") as sink:
            for chunk in document.chunks:
                sink.write(chunk)
        partial.replace(output)  # only a fully verified document gets the real name


@doc_app.command("head")
@reports_errors
def head(tenant: str = TENANT, name: str = NAME) -> None:
    """Show a document's stored metadata (as JSON)."""
    emit_json(_head(open_vendor(actor="cli").head_document(tenant, name)))


@doc_app.command("ls")
@reports_errors
def ls(
    tenant: str = TENANT,
    prefix: str = typer.Option("", help="Only names starting with this."),
    limit: int = typer.Option(100, min=1, max=1000, help="Page size."),
    cursor: str = typer.Option(None, help="Continue after a previous page."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List a tenant's documents, one page at a time."""
    page = open_vendor(actor="cli").list_documents(
        tenant, prefix=prefix, cursor=cursor, limit=limit
    )
    if json_output:
        emit_json({"items": [_head(h) for h in page.items], "next_cursor": page.next_cursor})
        return
    table = Table("name", "generation", "stored bytes", "updated")
    for item in page.items:
        table.add_row(item.name, str(item.generation), str(item.size), item.updated_at.isoformat())
    console.print(table)
    if page.next_cursor:
        console.print(f"More: --cursor {page.next_cursor}")


@doc_app.command("rm")
@reports_errors
def rm(tenant: str = TENANT, name: str = NAME) -> None:
    """Delete a document."""
    open_vendor(actor="cli").delete_document(tenant, name)
    console.print(f"Deleted {tenant}/{name}.")


@audit_app.command("verify")
@reports_errors
def audit_verify(json_output: bool = JSON_OPTION) -> None:
    """Recompute the hash chain; exit 30 if any event was edited, removed or reordered."""
    result = open_vendor(actor="cli").audit.verify()
    if json_output:
        emit_json(result.__dict__)
    elif result.ok:
        console.print(
            f"[green]Audit chain intact[/]: {result.events} events, head {result.head_hash}"
        )
    else:
        console.print(
            f"[red]Audit chain BROKEN[/] at event {result.first_bad_seq}: {result.reason}"
        )
    if not result.ok:
        raise typer.Exit(30)


@audit_app.command("export")
@reports_errors
def audit_export(
    tenant: str = TENANT,
    output: Path = typer.Option(None, "-o", "--output", help="Write here (default: stdout)."),
) -> None:
    """Export one tenant's audit events as JSON Lines (each with prev_hash and hash)."""
    audit = open_vendor(actor="cli").audit
    if output is None:
        audit.export_jsonl(tenant, sys.stdout)
        return
    with output.open("w", encoding="utf-8") as sink:
        summary = audit.export_jsonl(tenant, sink)
    console.print(f"Wrote {summary.events} events to {output} (last hash {summary.head_hash}).")


@audit_app.command("anchor")
@reports_errors
def audit_anchor(
    tenant: str = typer.Argument(None, help="Tenant id (default: every ACTIVE tenant)."),
    force: bool = typer.Option(False, "--force", help="Anchor even if nothing is new."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Anchor the tenant's audit head in the customer's CloudTrail (one kms:Encrypt).

    The call's encryption context carries byok:audit-head and byok:audit-seq, so the
    customer can check an export with `byok customer activity --verify-audit`.
    """
    from byok.service.audit_anchor import AuditAnchorer

    anchorer = AuditAnchorer(open_vendor(actor="cli"))
    results = [anchorer.anchor(tenant, force=force)] if tenant else anchorer.anchor_serving()
    if json_output:
        emit_json([r.to_dict() for r in results])
        return
    for r in results:
        what = f"anchored (KMS request {r.request_id})" if r.anchored else "already anchored"
        console.print(f"{r.tenant}: head {r.head} at event {r.seq} {what}", markup=False)


@reports_errors
def monitor_command(
    once: bool = typer.Option(False, "--once", help="Run one sweep and exit."),
    interval: float = typer.Option(None, help="Seconds between sweeps (default: settings)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Probe every active tenant's key (detects revocation for idle tenants, and recovery)."""
    monitor = KeyMonitor(open_vendor(actor="monitor"), interval_s=interval)
    if not once:
        console.print(f"Key monitor every {monitor.interval_s:g}s; Ctrl-C to stop.")
        monitor.start()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            monitor.stop()
            return
    result = monitor.sweep()
    states = {tenant: str(state) for tenant, state in result.states.items()}
    if json_output:
        emit_json({"ran": result.ran, "states": states})
    elif not result.ran:
        console.print("Another process holds the key-monitor lease; nothing done.")
    else:
        for tenant, state in states.items():
            console.print(f"{tenant}: {state}")
