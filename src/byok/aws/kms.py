"""AWS KMS as a :class:`~byok.core.keywrap.KeyWrapper` for one tenant's CMK.

* ``generate_data_key``: ``kms:GenerateDataKey`` (``AES_256``) under the encryption context.
* ``unwrap``: ``kms:Decrypt`` with ``KeyId`` pinned to the configured key ARN, so a wrapped key
  made under some other key is refused by KMS instead of silently decrypted with whatever key
  the ciphertext names (the answer's ``KeyId`` is checked again here).
* ``rewrap``: ``kms:ReEncrypt`` to the destination wrapper's key when both use the same AWS
  principal (the key never leaves KMS); otherwise ``kms:Decrypt`` here and ``kms:Encrypt``
  with the destination's principal.
* ``describe_key``: ``kms:DescribeKey``, for verification and for telling a disabled key from
  one pending deletion.
* read failover (multi-Region keys only): when ``kms:Decrypt`` in the key's Region fails
  *transiently* (throttled, 5xx, unreachable, after retries), ``unwrap`` tries the related
  replica (same ``mrk-`` id, same account) in each other allowed Region, pinned to that
  replica's ARN. A refusal (access denied, disabled, pending deletion) never fails over, so a
  customer's revocation of the primary is not bypassed; a replica carries its own key policy,
  so the customer revokes on each replica too (docs/OPERATIONS.md, docs/local-aws.md).

Every result carries the KMS request id (``ResponseMetadata.RequestId``) for the audit log.
Every failure is mapped once by :mod:`byok.aws.errors`; a "no access" failure
(:class:`~byok.errors.CustomerAccessError`) is reported through ``on_access_lost`` so the
tenant's cached keys are purged at once.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from byok.aws.errors import AccessContext, error_code, map_kms_error
from byok.core.keywrap import DataKey, KeyWrapper, UnwrappedKey
from byok.core.refusals import LEVER_KEYS
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import (
    ByokError,
    ConfigurationError,
    CustomerAccessError,
    IntegrityError,
    KeyAccessDenied,
    KeyUnsuitable,
    TransientKmsError,
)

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

__all__ = ["DATA_KEY_BYTES", "KeyDescription", "KmsKeyWrapper", "replica_arn"]

DATA_KEY_BYTES = 32
_T = TypeVar("_T")


@dataclass(frozen=True)
class KeyDescription:
    """What ``kms:DescribeKey`` says about a CMK (no secrets)."""

    key_arn: str
    account: str
    region: str
    key_state: str
    key_spec: str
    key_usage: str
    enabled: bool
    multi_region: bool
    request_id: str | None = None

    def ensure_usable(self, tenant: str | None = None) -> None:
        """Refuse a key byok cannot use as a root key.

        Raises:
            KeyUnsuitable: not ``SYMMETRIC_DEFAULT`` / ``ENCRYPT_DECRYPT``.
        """
        if self.key_spec != "SYMMETRIC_DEFAULT" or self.key_usage != "ENCRYPT_DECRYPT":
            raise KeyUnsuitable(
                f"key {self.key_arn} is {self.key_spec}/{self.key_usage}, "
                "not SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT",
                tenant=tenant,
                operation="kms:DescribeKey",
            )


class KmsKeyWrapper:
    """One tenant's CMK behind the :class:`~byok.core.keywrap.KeyWrapper` protocol.

    Build it with :meth:`byok.aws.access.KeyAccessProvider.wrapper_for`, which supplies the
    client signed by the right principal (Option A or B) and caches it per configuration.

    Args:
        config: the tenant's key configuration.
        client: a KMS client in the key's region (from :class:`byok.aws.clients.ClientFactory`).
        principal: the ARN KMS sees (for messages), if known.
        on_access_lost: called with the tenant id when KMS says "no access".
    """

    def __init__(
        self,
        config: TenantKeyConfig,
        client: KMSClient,
        *,
        principal: str | None = None,
        on_access_lost: Callable[[str], object] | None = None,
        failover: Callable[[str], KMSClient] | None = None,
        failover_regions: Sequence[str] = (),
    ) -> None:
        self._config = config
        self._client = client
        self._failover = failover
        self._failover_regions = tuple(r for r in failover_regions if r != config.region)
        self._principal = principal
        self._on_access_lost = on_access_lost
        self._context = AccessContext(config.tenant, config.key_arn, config.mode, principal)

    def __repr__(self) -> str:
        return f"KmsKeyWrapper(tenant={self.tenant!r}, key_arn={self.key_arn!r})"

    @property
    def key_arn(self) -> str:
        """The configured CMK ARN."""
        return self._config.key_arn

    @property
    def tenant(self) -> str:
        """The tenant this wrapper serves."""
        return self._config.tenant

    @property
    def config(self) -> TenantKeyConfig:
        """The configuration it was built from."""
        return self._config

    @property
    def principal(self) -> str | None:
        """The AWS principal that signs its calls (vendor role or customer client role)."""
        return self._principal

    def for_probing(self) -> KmsKeyWrapper:
        """The same key, principal and client without the "no access" hook: for checks that
        expect a refusal (verification's other-tenant probe), which must purge nothing.

        Returns:
            A new :class:`KmsKeyWrapper`.
        """
        return KmsKeyWrapper(self._config, self._client, principal=self._principal)

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        """Make a 256-bit data key wrapped by the CMK under ``context`` (kms:GenerateDataKey).

        Returns:
            The key, its wrapped copy and the KMS request id.

        Raises:
            CustomerAccessError: the customer's set-up refuses the vendor (cache purged).
            TransientKmsError: throttled or unavailable after bounded retries.
        """
        answer = self._call(
            "kms:GenerateDataKey",
            lambda: self._client.generate_data_key(
                KeyId=self.key_arn, KeySpec="AES_256", EncryptionContext=dict(context)
            ),
            context,
        )
        plaintext = answer["Plaintext"]
        if len(plaintext) != DATA_KEY_BYTES:
            raise IntegrityError(tenant=self.tenant, operation="kms:GenerateDataKey")
        return DataKey(plaintext, answer["CiphertextBlob"], self.key_arn, _rid(answer))

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> UnwrappedKey:
        """Recover a data key with the configured CMK only (kms:Decrypt, KeyId pinned).

        Returns:
            The plaintext key, the key ARN and the KMS request id.

        Raises:
            IntegrityError: the wrapped key or its context does not authenticate, or it was
                made under another key.
            CustomerAccessError: the customer's set-up refuses the vendor (cache purged).
            TransientKmsError: throttled or unavailable after bounded retries.
        """
        try:
            answer = self._call(
                "kms:Decrypt",
                lambda: self._client.decrypt(
                    CiphertextBlob=wrapped, EncryptionContext=dict(context), KeyId=self.key_arn
                ),
                context,
            )
            self._check_key_id(answer.get("KeyId"), "kms:Decrypt")
        except TransientKmsError:
            answer = self._decrypt_on_replica(wrapped, context)
            if answer is None:
                raise
        plaintext = answer["Plaintext"]
        if len(plaintext) != DATA_KEY_BYTES:
            raise IntegrityError(tenant=self.tenant, operation="kms:Decrypt")
        return UnwrappedKey(plaintext, self.key_arn, _rid(answer))

    def rewrap(
        self, wrapped: bytes, context: Mapping[str, str], destination: KeyWrapper
    ) -> DataKey:
        """Re-wrap a data key under ``destination``'s CMK with the same context.

        Returns:
            The new wrapped copy; ``plaintext`` is empty when ReEncrypt kept it inside KMS.

        Raises:
            ConfigurationError: ``destination`` is not a KMS wrapper.
            IntegrityError, CustomerAccessError, TransientKmsError: as for :meth:`unwrap`.
        """
        if not isinstance(destination, KmsKeyWrapper):
            raise ConfigurationError(
                "a KMS tenant key can only be re-wrapped under another KMS key",
                tenant=self.tenant,
                operation="kms:ReEncrypt",
            )
        if destination.principal != self._principal:
            # Different principals: each uses only the key it was granted.
            recovered = self.unwrap(wrapped, context)
            return destination.encrypt(recovered.plaintext, context)
        answer = self._call(
            "kms:ReEncrypt",
            lambda: self._client.re_encrypt(
                CiphertextBlob=wrapped,
                SourceEncryptionContext=dict(context),
                SourceKeyId=self.key_arn,
                DestinationKeyId=destination.key_arn,
                DestinationEncryptionContext=dict(context),
            ),
        )
        self._check_key_id(answer.get("SourceKeyId"), "kms:ReEncrypt")
        return DataKey(b"", answer["CiphertextBlob"], destination.key_arn, _rid(answer))

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        """Wrap an existing data key with this CMK (kms:Encrypt).

        Returns:
            A :class:`DataKey` holding ``plaintext`` and its new wrapped copy.

        Raises:
            CustomerAccessError, TransientKmsError: as for :meth:`generate_data_key`.
        """
        answer = self._call(
            "kms:Encrypt",
            lambda: self._client.encrypt(
                KeyId=self.key_arn, Plaintext=plaintext, EncryptionContext=dict(context)
            ),
            context,
        )
        return DataKey(plaintext, answer["CiphertextBlob"], self.key_arn, _rid(answer))

    def describe_key(self) -> KeyDescription:
        """Read the CMK's metadata (kms:DescribeKey).

        Returns:
            A :class:`KeyDescription`.

        Raises:
            CustomerAccessError, TransientKmsError: as for :meth:`generate_data_key`.
        """
        answer = self._call(
            "kms:DescribeKey", lambda: self._client.describe_key(KeyId=self.key_arn)
        )
        meta = answer["KeyMetadata"]
        arn = meta.get("Arn", self.key_arn)
        spec = meta.get("KeySpec", meta.get("CustomerMasterKeySpec", ""))
        usage = meta.get("KeyUsage") or ""
        if not usage and spec == "SYMMETRIC_DEFAULT":
            # ENCRYPT_DECRYPT is the only usage a SYMMETRIC_DEFAULT key can have; some
            # emulators leave the field out.
            usage = "ENCRYPT_DECRYPT"
        return KeyDescription(
            key_arn=arn,
            account=meta.get("AWSAccountId", ""),
            region=arn.split(":")[3] if arn.count(":") >= 5 else "",
            key_state=meta.get("KeyState", "Unknown"),
            key_spec=spec,
            key_usage=usage,
            enabled=bool(meta.get("Enabled", False)),
            multi_region=bool(meta.get("MultiRegion", False)),
            request_id=_rid(answer),
        )

    def _call(
        self, operation: str, send: Callable[[], _T], context: Mapping[str, str] | None = None
    ) -> _T:
        try:
            return send()
        except ByokError as exc:  # e.g. a credential refresh (sts:AssumeRole) that failed
            self._report(exc)
            if exc.tenant is not None:
                raise
            raise _with_tenant(exc, self.tenant) from exc
        except (ClientError, BotoCoreError) as exc:
            state = self._key_state() if error_code(exc) == "KMSInvalidStateException" else None
            mapped = map_kms_error(exc, context=self._context, operation=operation, key_state=state)
            self._report(mapped, context)
            if not isinstance(exc, ParamValidationError):
                raise mapped from exc
        # Raised outside the handler so that no __context__ carries botocore's message, which
        # quotes parameter values (possibly key bytes).
        raise mapped

    def _decrypt_on_replica(self, wrapped: bytes, context: Mapping[str, str]) -> Any:
        """kms:Decrypt on the first related replica that answers (multi-Region keys), or None.

        Any failure of a replica (absent, refused, unavailable) moves to the next Region and is
        not reported as "access lost": the primary's transient error is what the caller sees.
        """
        if self._failover is None or "/mrk-" not in self.key_arn:
            return None
        for region in self._failover_regions:
            replica = replica_arn(self.key_arn, region)
            try:
                answer = self._failover(region).decrypt(
                    CiphertextBlob=wrapped, EncryptionContext=dict(context), KeyId=replica
                )
            except (ClientError, BotoCoreError):
                continue
            answered = answer.get("KeyId")
            if isinstance(answered, str) and _same_key(answered, replica):
                return answer
        return None

    def _key_state(self) -> str | None:
        """Best effort: the key's state, to tell pending deletion from other invalid states."""
        try:
            return str(self._client.describe_key(KeyId=self.key_arn)["KeyMetadata"]["KeyState"])
        except (ClientError, BotoCoreError, ByokError, KeyError):
            return None

    def _report(self, error: ByokError, context: Mapping[str, str] | None = None) -> None:
        if isinstance(error, KeyAccessDenied) and any(k in (context or {}) for k in LEVER_KEYS):
            # Maybe the customer refuses only this scope, period or reason: the envelope asks
            # KMS which (byok.core.refusals) and purges only for a whole-key denial.
            return
        if isinstance(error, CustomerAccessError) and self._on_access_lost is not None:
            self._on_access_lost(self.tenant)

    def _check_key_id(self, answered: object, operation: str) -> None:
        # KMS answers with the ARN of the key it used; anything else means it was not ours.
        if not isinstance(answered, str) or not _same_key(answered, self.key_arn):
            raise IntegrityError(tenant=self.tenant, operation=operation)


def replica_arn(key_arn: str, region: str) -> str:
    """The ARN of a multi-Region key's related key in ``region`` (same account and id)."""
    parts = key_arn.split(":", 5)
    return ":".join([*parts[:3], region, *parts[4:]])


def _same_key(answered: str, configured: str) -> bool:
    """Compare the answered key ARN (or id) with the configured ARN, constant time."""
    expected = configured if answered.startswith("arn:") else configured.rsplit("/", 1)[-1]
    return hmac.compare_digest(answered.encode(), expected.encode())


def _with_tenant(error: ByokError, tenant: str) -> ByokError:
    """A copy of ``error`` naming ``tenant`` (errors of the shared vendor hop name none).

    A copy, not a mutation: one failed vendor-hop refresh is raised to many tenants' threads.
    """
    clone = type(error).__new__(type(error))
    clone.__dict__.update(error.__dict__)
    clone.tenant = tenant
    clone.args = (clone._render(),)
    return clone


def _rid(answer: Mapping[str, Any]) -> str | None:
    rid = answer.get("ResponseMetadata", {}).get("RequestId")
    return str(rid) if rid else None
