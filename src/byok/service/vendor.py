"""The vendor's byok service: onboarding, documents and revocation over one store.

:class:`Vendor` wires the pieces (DESIGN.md): metadata :class:`~byok.store.database.Store`,
a :class:`~byok.store.blobs.BlobStore`, the AWS access layer, the envelope core and the audit
trail. The API and CLI only parse input, call a method here and map errors.

Fail closed: a document operation needs the tenant's key (from the cache, whose TTL is the
revocation bound, or from KMS). When the customer's AWS refuses, the tenant's cached keys are
purged at once, the tenant becomes ``KEY_UNAVAILABLE`` with the reason, and the typed error
reaches the caller. The first operation (or key-monitor sweep) that succeeds again returns the
tenant to ``ACTIVE``: no operator action is needed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from byok.aws.access import KeyAccessProvider
from byok.aws.clients import ClientFactory
from byok.aws.kms import KmsKeyWrapper
from byok.core.audit_chain import AuditEvent
from byok.core.bound_context import BoundContext
from byok.core.envelope import Envelope
from byok.core.format import parse_header
from byok.core.key_use import SERVICE_USE, KeyUse
from byok.core.keycache import TenantKeyCache
from byok.core.stream import Source
from byok.core.tenant_config import TenantKeyConfig, new_external_id, validate_tenant_id
from byok.core.tenant_keys import RotationPolicy
from byok.errors import ByokError, StateError
from byok.service import onboarding
from byok.service.audit import AuditTrail
from byok.service.availability import KeyAvailability
from byok.service.cluster import ClusterSync
from byok.service.documents import OpenDocument, expected_context, new_write_id, source_of
from byok.service.key_routing import KeyRouting
from byok.service.keystore import EnvelopeKeyStore
from byok.service.notify import TenantNotifier
from byok.service.onboarding import Principal
from byok.service.verification import VerificationReport
from byok.settings import Settings
from byok.store.audit import AuditLog
from byok.store.blobs import BlobStore
from byok.store.database import Store
from byok.store.document_types import document_name
from byok.store.documents import DocumentHead, DocumentPage, DocumentRepository
from byok.store.group_commit import WriteBatch
from byok.store.key_policies import KeyPolicyRepository, TenantPolicy
from byok.store.schema import TenantState
from byok.store.signals import SignalKind
from byok.store.tenant_keys import SqlTenantKeyStore
from byok.store.tenants import StoredKeyConfig, Tenant, TenantRepository
from byok.store.vendor_keys import VendorKeyDirectory

__all__ = ["Vendor"]

_SERVING = (TenantState.ACTIVE, TenantState.KEY_UNAVAILABLE)


@dataclass(frozen=True)
class _Serving:
    """A tenant's state and active configuration as last read, until ``expires``."""

    expires: float
    state: TenantState
    config: StoredKeyConfig | None
    policy: TenantPolicy


class Vendor:
    """Everything the vendor does with tenants' keys and documents.

    Args:
        settings: vendor settings (revocation bound, allowed regions ...).
        store: the metadata store.
        blobs: where encrypted documents go.
        factory: the AWS client factory (real AWS or the local AWS).
        rotation: tenant-key rotation policy.
        actor: who acts, for the audit log.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        blobs: BlobStore,
        factory: ClientFactory,
        rotation: RotationPolicy | None = None,
        actor: str = "service",
    ) -> None:
        self.settings = settings
        self.store = store
        self.factory = factory
        self.tenants = TenantRepository(store)
        self.documents = DocumentRepository(store, blobs)
        # Composite wrap: wrapped TKs are stored sealed under a per-tenant vendor key kept
        # outside the database (docs/SECURITY.md#offboarding-and-backups).
        self.tenant_keys = SqlTenantKeyStore(
            store, VendorKeyDirectory(settings.resolved_vendor_key_dir)
        )
        self.audit = AuditTrail(AuditLog(store), actor=actor)
        self.notifier = TenantNotifier(store)
        self.cache = TenantKeyCache(ttl_s=settings.revocation_bound_s)
        self.envelope = Envelope(
            EnvelopeKeyStore(self.tenant_keys, self._active_version),
            cache=self.cache,
            rotation=rotation,
            audit=self.audit.key_event,
        )
        self._serving: dict[str, _Serving] = {}
        self._serving_ttl = min(1.0, settings.revocation_bound_s)
        self.access = KeyAccessProvider(
            factory,
            on_access_lost=self._purge,
            max_credential_age_s=settings.revocation_bound_s,
        )
        # Reads unwrap each TK with the CMK that wraps its row (needed while a key
        # migration runs: docs/OPERATIONS.md#key-migration).
        self.routing = KeyRouting(self)
        self.policies = KeyPolicyRepository(store)
        self.availability = KeyAvailability(self)
        # Other nodes' key purges and state changes reach this process (byok.store.signals).
        self.cluster = ClusterSync(self)

    # -- onboarding ------------------------------------------------------------------------

    def create_tenant(self, tenant: str, *, name: str | None = None) -> Tenant:
        """Create a PENDING tenant with a fresh, unique External ID.

        Returns:
            The tenant; show ``external_id`` to the customer for its trust policy.

        Raises:
            InvalidInput, Conflict: a malformed tenant id; the tenant exists.
        """
        validate_tenant_id(tenant)
        external_id = new_external_id(
            is_taken=lambda v: self.tenants.owner_of_external_id(v) is not None
        )
        created = self.tenants.create(tenant, name=name or tenant, external_id=external_id)
        self.audit.record("tenant:create", tenant=tenant)
        return created

    def submit_config(
        self,
        tenant: str,
        *,
        mode: str,
        key_arn: str,
        client_role_arn: str | None = None,
        external_id: str | None = None,
        principal: Principal | None = None,
    ) -> StoredKeyConfig:
        """Store a new PENDING key configuration version (validated; not yet used).

        Raises:
            InvalidInput, NotFound: a malformed field (named); no such tenant.
        """
        config = TenantKeyConfig.create(
            tenant=tenant, mode=mode, key_arn=key_arn, client_role_arn=client_role_arn,
            external_id=external_id, allowed_regions=self.settings.allowed_regions,
        )  # fmt: skip
        return onboarding.submit_config(self, tenant, config, principal or self.operator)

    def verify(self, tenant: str, version: int | None = None) -> VerificationReport:
        """Run every verification check on a configuration version (default: the newest).

        The report is stored with the version (VERIFIED or FAILED; a passed version claims
        its key and client role for the tenant); a PENDING tenant whose configuration passed
        becomes VERIFIED (:func:`byok.service.onboarding.verify_config`).

        Returns:
            The :class:`VerificationReport`.

        Raises:
            NotFound: no such tenant or version.
        """
        return onboarding.verify_config(self, tenant, version)

    def approve(
        self, tenant: str, version: int, principal: Principal | None = None
    ) -> StoredKeyConfig:
        """Approve a configuration version as a second principal (re-rooting needs one).

        Raises:
            ApprovalRequired: ``principal`` may not approve, or submitted it itself.
            StateError, NotFound: see :func:`byok.service.onboarding.approve_config`.
        """
        return onboarding.approve_config(self, tenant, version, principal or self.operator)

    def activate(
        self, tenant: str, version: int | None = None, principal: Principal | None = None
    ) -> Tenant:
        """Make a VERIFIED configuration version the one in use; the tenant becomes ACTIVE.

        Raises:
            ApprovalRequired: the version moves the tenant to another AWS account and no
                second principal approved it.
            StateError: the version is not verified (only a verified configuration is used).
            NotFound: no such tenant or version.
        """
        return onboarding.activate_config(self, tenant, version, principal or self.operator)

    @property
    def operator(self) -> Principal:
        """This process acting as the vendor's operator (CLI, jobs): ``Principal(actor)``."""
        return Principal(self.audit.actor, onboarding.OPERATOR)

    # -- documents -------------------------------------------------------------------------

    def put_document(
        self, tenant: str, name: str, source: Source, use: KeyUse = SERVICE_USE
    ) -> DocumentHead:
        """Encrypt ``source`` (streamed, any size) and store it as ``name``.

        ``use`` states why (its access reason and ticket); the scope comes from the tenant's
        scope rules by ``name``, the period from its period unit (docs/SECURITY.md).

        Returns:
            The committed version's head.

        Raises:
            CustomerAccessError: the customer's key refused (tenant now KEY_UNAVAILABLE).
            UseRefused: the customer's key policy refuses this scope, period or reason (the
                tenant stays ACTIVE; the refused use is listed on its policy).
            TransientKmsError: KMS trouble; nothing was stored.
            StateError: the tenant is not active.
            InvalidInput, NotFound, Conflict, StorageError: from the store.
        """
        name = document_name(name)  # NFC: one document per visible name
        wrapper = self.active_wrapper(tenant)
        use = self._scoped(tenant, name, use)
        write_id = new_write_id()  # bound into the header and the row: docs/FORMAT.md
        with self.availability.guard(tenant, "document:put", name):
            context = BoundContext(tenant, name, write_id)
            chunks = self.envelope.iter_encrypt(tenant, wrapper, context, source, use)
            header = next(chunks)
            tk_id = parse_header(header).tk_id
            event = self.audit.event(
                "document:put", tenant=tenant, document=name, tk_id=tk_id,
                detail=use.audit_detail(),
            )  # fmt: skip
            body = itertools.chain((header,), chunks)
            # The document's row and its audit event commit together, or neither does.
            head = self.documents.put(
                tenant, name, body, tk_id=tk_id, write_id=write_id, also=_appender(event)
            )
        return head

    def get_document(self, tenant: str, name: str, use: KeyUse = SERVICE_USE) -> OpenDocument:
        """Open ``name`` for reading; the header and key are checked before this returns.

        ``use`` states why (its access reason, and for vendor support the ticket): the tenant
        key is unwrapped for that reason, and the audit event records it.

        Returns:
            An :class:`OpenDocument`; iterate ``chunks`` (each verified before it is yielded).

        Raises:
            NotFound: no such document for this tenant.
            IntegrityError: the stored document is not authentic, or not the row's version
                (rolled back or swapped in the blob store).
            CustomerAccessError, TransientKmsError, StateError: as :meth:`put_document`.
        """
        name = document_name(name)
        wrapper = self.routing.reader(tenant, self.active_wrapper(tenant))
        reader = self.documents.get(tenant, name)
        try:  # the blob must be the row's version: its write id (or pre-v2, its digest)
            with self.availability.guard(tenant, "document:get", name):
                chunks = self.envelope.iter_decrypt(
                    tenant, wrapper, expected_context(reader.head), source_of(reader), use
                )
        except BaseException:
            reader.close()
            raise
        head = reader.head
        self.audit.record(
            "document:get", tenant=tenant, document=name, tk_id=head.tk_id, size=head.size,
            detail={k: v for k, v in use.audit_detail().items() if k != "scope"},
        )  # fmt: skip
        return OpenDocument(head, chunks, reader.close)

    def head_document(self, tenant: str, name: str) -> DocumentHead:
        """The stored head of ``name`` (no key needed). Raises NotFound."""
        return self.documents.head(tenant, document_name(name))

    def list_documents(
        self, tenant: str, *, prefix: str = "", cursor: str | None = None, limit: int = 100
    ) -> DocumentPage:
        """One page of the tenant's documents by name."""
        prefix = document_name(prefix, field="prefix") if prefix else prefix
        return self.documents.list(tenant, prefix=prefix, cursor=cursor, limit=limit)

    def delete_document(self, tenant: str, name: str) -> DocumentHead:
        """Delete ``name``. Raises NotFound."""
        name = document_name(name)
        head = self.documents.delete(tenant, name)
        self.audit.record("document:delete", tenant=tenant, document=name, tk_id=head.tk_id)
        return head

    # -- key availability ------------------------------------------------------------------

    def check_key(self, tenant: str, *, unwrap: bool = False) -> TenantState:
        """Probe the tenant's key now (key monitor); returns its state after the probe."""
        if self.tenants.get(tenant).state in _SERVING:
            self.probe_key(tenant, unwrap=unwrap)
        return self.tenants.get(tenant).state

    def probe_key(self, tenant: str, *, unwrap: bool = False) -> ByokError | None:
        """The error a probe of the key meets, None when access is proven (see
        :meth:`byok.service.availability.KeyAvailability.probe_key`)."""
        return self.availability.probe_key(tenant, unwrap=unwrap)

    def serving_unavailable(self, tenant: str) -> bool:
        """False when this process last saw the tenant in a state other than KEY_UNAVAILABLE
        (the hot path of a successful operation then reads nothing)."""
        cached = self._serving.get(tenant)
        return cached is None or cached.state == TenantState.KEY_UNAVAILABLE

    def audit_kms(
        self, tenant: str, operation: str, request_id: str | None, purpose: str = "verification"
    ) -> None:
        """Audit one successful KMS call (it lines up with the customer's CloudTrail)."""
        self.audit.record(
            operation, tenant=tenant, kms_request_id=request_id, detail={"purpose": purpose}
        )

    def forget_tenant(self, tenant: str) -> None:
        """Drop everything this process holds for ``tenant``: cached state and configuration,
        plaintext TKs, credentials and clients (after offboarding or a configuration change)."""
        self._serving.pop(tenant, None)
        self.envelope.purge_tenant(tenant)
        self.access.invalidate(tenant)
        self.routing.forget(tenant)

    def forget_state(self, tenant: str) -> None:
        """Re-read the tenant's state and configuration at its next use (another node
        changed them)."""
        self._serving.pop(tenant, None)

    def purge_everywhere(self, tenant: str) -> None:
        """Forget the tenant's keys here and signal every node to do the same."""
        self.forget_tenant(tenant)
        with self.store.write() as session:
            self.store.signals.publish(session, SignalKind.TENANT_KEYS_PURGED, tenant=tenant)

    def _purge(self, tenant: str) -> None:
        self.envelope.purge_tenant(tenant)

    def active_wrapper(self, tenant: str) -> KmsKeyWrapper:
        """The KMS wrapper of the tenant's active configuration (no AWS call yet).

        State and configuration come from a short-lived (<= 1 s) cache.

        The cache only saves database reads on the hot path: key access itself is decided by
        the TK cache and KMS. Another process's state change is seen within a second.
        """
        now = time.monotonic()
        cached = self._serving.get(tenant)
        if cached is None or cached.expires <= now:
            tenant_row = self.tenants.get(tenant)
            stored = self.tenants.active_config(tenant)
            policy = self.policies.get(tenant)
            cached = _Serving(now + self._serving_ttl, tenant_row.state, stored, policy)
            self._serving[tenant] = cached
            grace = min(policy.outage_grace_s, self.cache.ttl_s)
            self.cache.set_outage_grace(tenant, grace)  # customer-chosen; default 0
        if cached.state not in _SERVING:
            offboarded = cached.state == TenantState.OFFBOARDED
            raise StateError(
                f"the tenant is {cached.state}, not ACTIVE", tenant=tenant,
                fix="The tenant was offboarded: its keys and documents are destroyed."
                if offboarded
                else "Verify and activate a key configuration first (`byok tenant verify`).",
            )  # fmt: skip
        if cached.config is None:
            raise StateError("the tenant has no active key configuration", tenant=tenant)
        return self.access.wrapper_for(cached.config.config)

    def _scoped(self, tenant: str, name: str, use: KeyUse) -> KeyUse:
        """``use`` in the scope of ``name`` and the tenant's period unit (its policy as read
        with its state, at most a second old)."""
        cached = self._serving.get(tenant)
        policy = cached.policy if cached is not None else self.policies.get(tenant)
        return use.in_scope(policy.scope_for(name), policy.period_unit)

    def _active_version(self, tenant: str) -> int:
        stored = self.tenants.active_config(tenant)
        if stored is None:
            raise StateError("the tenant has no active key configuration", tenant=tenant)
        return stored.version


def _appender(event: AuditEvent) -> Callable[[WriteBatch, DocumentHead], object]:
    return lambda batch, head: batch.audit.append(replace(event, bytes=head.size))
