"""``byok doc``, ``byok audit`` and ``byok monitor``: documents, the audit log, key probes.

Examples::

    byok doc put acme reports/q3.pdf ./q3.pdf
    byok doc get acme reports/q3.pdf --reason support --ticket SUP-1234 -o ./copy.pdf
    byok doc get acme reports/q3.pdf --reason service -o ./copy.pdf   # a vendor job
    byok doc ls acme --prefix reports/
    byok audit verify
    byok audit export acme -o acme-audit.jsonl
    byok monitor --once

The service (SQLAlchemy, boto3) is imported inside each command, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from byok.cli.files import atomic_output
from byok.cli.output import JSON_OPTION, console, emit_json, reports_errors, styled, table, text
from byok.errors import InvalidInput

if TYPE_CHECKING:
    from byok.core.key_use import KeyUse
    from byok.service.vendor import Vendor
    from byok.store.document_types import DocumentHead

__all__ = ["audit_app", "doc_app", "monitor_command"]

doc_app = typer.Typer(
    help="Vendor side: store and read a tenant's documents.", no_args_is_help=True
)
audit_app = typer.Typer(help="Vendor side: the tamper-evident audit log.", no_args_is_help=True)

TENANT = typer.Argument(..., help="Tenant id.")
NAME = typer.Argument(..., help="Document name (e.g. reports/q3.pdf).")
_REASONS = {"support": "vendor-support", "service": "vendor-service"}
TICKET = typer.Option(
    None, "--ticket", help="The support ticket this access is for (required with support)."
)


def _use(reason: str, ticket: str | None) -> KeyUse:
    """The access reason the customer sees in CloudTrail (byok:reason) and the audit log."""
    from byok.core.key_use import KeyUse

    if reason not in _REASONS:
        raise InvalidInput(
            "reason", f"{reason!r:.30} is not support or service",
            fix="--reason support --ticket ID to read for a support case; --reason service "
            "for the vendor's own jobs.",
        )  # fmt: skip
    return KeyUse(_REASONS[reason], ticket=ticket)


def _vendor(actor: str = "cli") -> Vendor:
    from byok.service.runtime import open_vendor

    return open_vendor(actor=actor)


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
    reason: str = typer.Option(
        "service", "--reason", help="Why: service (a vendor job) or support (needs --ticket)."
    ),
    ticket: str = TICKET,
    json_output: bool = JSON_OPTION,
) -> None:
    """Encrypt a file under the tenant's key and store it."""
    use = _use(reason, ticket)
    vendor = _vendor()
    if str(path) == "-":
        head = vendor.put_document(tenant, name, sys.stdin.buffer, use)
    else:
        with path.open("rb") as source:
            head = vendor.put_document(tenant, name, source, use)
    if json_output:
        emit_json(_head(head))
        return
    console.print(f"Stored {tenant}/{name} (generation {head.generation}, {head.size} bytes).")


@doc_app.command("get")
@reports_errors
def get(
    tenant: str = TENANT,
    name: str = NAME,
    reason: str = typer.Option(
        ...,
        "--reason",
        help="Why you read a tenant's document: support (with --ticket; the "
        "customer's key policy may refuse vendor support) or service (a vendor job). The "
        "customer sees it in CloudTrail (byok:reason) and the audit log records it.",
    ),
    ticket: str = TICKET,
    output: Path = typer.Option(
        None, "-o", "--output", dir_okay=False, help="Write here (default: stdout)."
    ),
    json_output: bool = typer.Option(
        False,
        "--json",
        help="With -o: print what was written as JSON (stdout carries the data "
        "without -o, so --json needs -o).",
    ),
) -> None:
    """Decrypt a document; each frame is verified before it is written.

    With -o the file appears only once the whole document is verified: it is written to a
    private (0600) temporary file in the same directory, synced and renamed; on any failure
    nothing is left behind. To stdout the data streams, so a failure (exit 30) can come after
    some verified frames were written.
    """
    if json_output and output is None:
        raise InvalidInput(
            "json", "needs -o: without it stdout carries the document", fix="Add -o FILE."
        )
    use = _use(reason, ticket)
    with _vendor().get_document(tenant, name, use) as document:
        if output is None:
            for chunk in document.chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        written = 0
        with atomic_output(output) as sink:
            for chunk in document.chunks:
                sink.write(chunk)
                written += len(chunk)
    if json_output:
        emit_json({"tenant": tenant, "name": name, "path": str(output), "bytes": written})
        return
    console.print(f"Wrote {tenant}/{name} to {output} ({written} bytes, verified).")


@doc_app.command("head")
@reports_errors
def head(tenant: str = TENANT, name: str = NAME, json_output: bool = JSON_OPTION) -> None:
    """Show a document's stored metadata (no key needed)."""
    found = _head(_vendor().head_document(tenant, name))
    if json_output:
        emit_json(found)
        return
    for key, value in found.items():
        console.print(f"{key:>12}: {value}")


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
    page = _vendor().list_documents(tenant, prefix=prefix, cursor=cursor, limit=limit)
    if json_output:
        emit_json({"items": [_head(h) for h in page.items], "next_cursor": page.next_cursor})
        return
    rows = [(i.name, i.generation, i.size, i.updated_at.isoformat()) for i in page.items]
    console.print(table("name", "generation", "stored bytes", "updated", rows=rows, fold=True))
    if page.next_cursor:
        console.print(f"More: --cursor {page.next_cursor}")


@doc_app.command("rm")
@reports_errors
def rm(tenant: str = TENANT, name: str = NAME, json_output: bool = JSON_OPTION) -> None:
    """Delete a document."""
    deleted = _vendor().delete_document(tenant, name)
    if json_output:
        emit_json({"deleted": True} | _head(deleted))
        return
    console.print(f"Deleted {tenant}/{name} (generation {deleted.generation}).")


@audit_app.command("verify")
@reports_errors
def audit_verify(json_output: bool = JSON_OPTION) -> None:
    """Recompute the hash chain; exit 30 if any event was edited, removed or reordered."""
    result = _vendor().audit.verify()
    if json_output:
        emit_json(result.__dict__)
    elif result.ok:
        console.print(
            text(
                ("Audit chain intact", "green"),
                f": {result.events} events, head {result.head_hash}",
            )
        )
    else:
        console.print(
            text(
                ("Audit chain BROKEN", "red"), f" at event {result.first_bad_seq}: {result.reason}"
            )
        )
    if not result.ok:
        raise typer.Exit(30)


@audit_app.command("export")
@reports_errors
def audit_export(
    tenant: str = TENANT,
    output: Path = typer.Option(
        None, "-o", "--output", dir_okay=False, help="Write here, 0600 (default: stdout)."
    ),
    json_output: bool = typer.Option(
        False,
        "--json",
        help="With -o: print the summary as JSON. Without -o the events are "
        "JSON Lines on stdout either way.",
    ),
) -> None:
    """Export one tenant's audit events as JSON Lines (each with prev_hash and hash)."""
    audit = _vendor().audit
    if output is None:
        audit.export_jsonl(tenant, sys.stdout)
        return
    with atomic_output(output, "w") as sink:
        summary = audit.export_jsonl(tenant, sink)
    if json_output:
        emit_json({"tenant": tenant, "events": summary.events, "head_hash": summary.head_hash,
                   "path": str(output)})  # fmt: skip
        return
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

    anchorer = AuditAnchorer(_vendor())
    results = [anchorer.anchor(tenant, force=force)] if tenant else anchorer.anchor_serving()
    if json_output:
        emit_json([r.to_dict() for r in results])
        return
    for r in results:
        what = f"anchored (KMS request {r.request_id})" if r.anchored else "already anchored"
        console.print(f"{r.tenant}: head {r.head} at event {r.seq} {what}")


@reports_errors
def monitor_command(
    once: bool = typer.Option(
        False,
        "--once",
        help="Probe every tenant's key now and exit (runs even while a server "
        "holds the monitor lease).",
    ),
    interval: float = typer.Option(None, help="Seconds between sweeps (default: settings)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Probe every active tenant's key (detects revocation for idle tenants, and recovery).

    Without --once: sweep every interval while this process holds the key-monitor lease (one
    process of a cluster sweeps at a time). With --once: one sweep now, without the lease, so
    it works while `byok serve` runs the monitor (a probe is what any request for the tenant
    does; the lease only stops servers repeating it every interval).
    """
    from byok.service.monitor import KeyMonitor

    monitor = KeyMonitor(_vendor("monitor"), interval_s=interval)
    if not once:
        if json_output:  # one line a supervisor can parse; the sweeps log as usual
            emit_json({"monitor": "running", "interval_s": monitor.interval_s})
        else:
            console.print(f"Key monitor every {monitor.interval_s:g}s; Ctrl-C to stop.")
        monitor.start()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            monitor.stop()
        return
    holder = monitor.lease_holder()
    result = monitor.sweep(take_lease=False)
    states = {tenant: str(state) for tenant, state in result.states.items()}
    changed = {t: [str(a), str(b)] for t, (a, b) in result.changed.items()}
    if json_output:
        emit_json({"ran": result.ran, "lease_holder": holder, "states": states,
                   "changed": changed})  # fmt: skip
        return
    if holder is not None:
        console.print(f"(The key-monitor lease is held by {holder}; this one-off sweep ran "
                      "without it.)")  # fmt: skip
    if not states:
        console.print("No ACTIVE or KEY_UNAVAILABLE tenant to probe.")
    for tenant, state in states.items():
        style = "green" if state == "ACTIVE" else "red"
        was = f" (was {changed[tenant][0]})" if tenant in changed else ""
        console.print(text(f"{tenant}: ", styled(state, style), was))
