"""A tenant's key-access configuration: which CMK, and how the vendor may reach it.

The customer hands over (customer guide, section 3):

* Option A, ``direct``: the CMK key ARN (and so its region). The key policy lets the
  vendor's role use the key.
* Option B, ``assume-role``: the CMK key ARN, the ARN of a *client role* in the customer's
  account, and the External ID the role's trust policy requires.

:class:`TenantKeyConfig` is a pure, validated, immutable value. It never touches AWS: the
``byok.aws`` adapters turn it into KMS calls. An alias or a bare key id is refused, because
an alias can be re-pointed by whoever controls it and would silently change the root key.

External IDs follow AWS's rules (2 to 1,224 characters of ``[\\w+=,.@:/-]``). The vendor
generates one per tenant with :func:`new_external_id`; uniqueness across tenants is enforced by
the store (UNIQUE constraint) and can be checked here with :func:`ensure_external_id_unused`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from byok.core.arn import KeyArn, RoleArn, parse_key_arn, parse_role_arn
from byok.errors import InvalidInput

__all__ = [
    "DEFAULT_ALLOWED_REGIONS",
    "EXTERNAL_ID_PREFIX",
    "MODES",
    "AccessMode",
    "TenantKeyConfig",
    "ensure_external_id_unused",
    "new_external_id",
    "validate_external_id",
    "validate_tenant_id",
]

AccessMode = Literal["direct", "assume-role"]
MODES: Final[tuple[AccessMode, ...]] = ("direct", "assume-role")
DEFAULT_ALLOWED_REGIONS: Final[tuple[str, ...]] = ("us-east-1",)
EXTERNAL_ID_PREFIX: Final = "byok-"

# AWS: sts:AssumeRole ExternalId is 2-1224 characters of [\w+=,.@:/-] (ASCII word characters).
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
# Tenant ids are identifiers the vendor chose; they appear in session names and messages.
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FIELDS: Final = frozenset(
    {"tenant", "mode", "key_arn", "region", "client_role_arn", "external_id", "version"}
)
_EXTERNAL_ID_ENTROPY_BYTES: Final = 32


def validate_tenant_id(value: object, *, field: str = "tenant") -> str:
    """Return ``value`` if it is a tenant id (1-128 of ``[A-Za-z0-9._-]``, alphanumeric first).

    Raises:
        InvalidInput: naming ``field`` when it is not.
    """
    if not isinstance(value, str) or not _TENANT_RE.fullmatch(value):
        raise InvalidInput(
            field,
            "is not a tenant id",
            fix="Use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return value


def validate_external_id(value: object, *, field: str = "external_id") -> str:
    """Return ``value`` if it is a valid sts:ExternalId (2-1224 chars of ``[\\w+=,.@:/-]``).

    The value itself is never echoed in the error (it is shared with the customer only).

    Raises:
        InvalidInput: naming ``field`` when it is not.
    """
    if not isinstance(value, str) or not _EXTERNAL_ID_RE.fullmatch(value):
        raise InvalidInput(
            field,
            "is not a valid External ID (AWS allows 2 to 1,224 characters of "
            "letters, digits and _+=,.@:/-)",
            fix="Use the External ID byok generated for this tenant (`byok tenant show`).",
        )
    return value


def new_external_id(
    *,
    token: Callable[[int], str] = secrets.token_urlsafe,
    is_taken: Callable[[str], bool] | None = None,
    attempts: int = 5,
) -> str:
    """Generate an unguessable External ID: ``byok-`` + 256 random bits, URL-safe base64.

    ``secrets.token_urlsafe`` yields ``[A-Za-z0-9_-]``, all inside AWS's External ID charset.

    Args:
        token: source of randomness (injectable so tests are exact).
        is_taken: optional check against existing tenants; a taken value is drawn again.
        attempts: how many draws before giving up (a clash means broken randomness).

    Returns:
        The new External ID.

    Raises:
        InvalidInput: when ``attempts`` draws were all taken or malformed.
    """
    for _ in range(attempts):
        candidate = EXTERNAL_ID_PREFIX + token(_EXTERNAL_ID_ENTROPY_BYTES)
        if not _EXTERNAL_ID_RE.fullmatch(candidate):
            continue
        if is_taken is None or not is_taken(candidate):
            return candidate
    raise InvalidInput(
        "external_id",
        f"could not generate an unused External ID in {attempts} attempts",
        fix="Check the random source; a repeated External ID means it is broken.",
    )


def ensure_external_id_unused(
    external_id: str, tenant: str, owner_of: Callable[[str], str | None]
) -> None:
    """Refuse an External ID that another tenant already uses (confused-deputy defence).

    Args:
        external_id: the candidate.
        tenant: the tenant that wants it.
        owner_of: returns the tenant currently holding an External ID, or None.

    Raises:
        InvalidInput: when another tenant holds it (the other tenant is not named).
    """
    owner = owner_of(external_id)
    if owner is not None and owner != tenant:
        raise InvalidInput(
            "external_id",
            "is already used by another tenant",
            tenant=tenant,
            fix="Use a new External ID generated by byok for this tenant (`byok tenant new`).",
        )


@dataclass(frozen=True)
class TenantKeyConfig:
    """How byok reaches one tenant's CMK. Immutable; a change is a new ``version``.

    Attributes:
        tenant: the tenant id.
        mode: ``direct`` (Option A) or ``assume-role`` (Option B).
        key_arn: the CMK's key ARN (single- or multi-Region), canonical form.
        client_role_arn: Option B only: the customer's client role ARN.
        external_id: Option B only: the External ID (not shown in ``repr``).
        version: configuration version (>= 1); caches are keyed on it.
    """

    tenant: str
    mode: AccessMode
    key_arn: str
    client_role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    version: int = 1

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant)
        if self.mode not in MODES:
            raise InvalidInput("mode", "must be 'direct' or 'assume-role'", tenant=self.tenant)
        object.__setattr__(self, "key_arn", parse_key_arn(self.key_arn).arn)
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise InvalidInput("version", "must be an integer", tenant=self.tenant)
        if self.version < 1:
            raise InvalidInput("version", "must be 1 or more", tenant=self.tenant)
        if self.mode == "direct":
            self._check_direct()
        else:
            self._check_assume_role()

    def _check_direct(self) -> None:
        for name in ("client_role_arn", "external_id"):
            if getattr(self, name) is not None:
                raise InvalidInput(
                    name,
                    "is only used with mode 'assume-role'",
                    tenant=self.tenant,
                    fix="Remove it, or set mode to 'assume-role' (Option B).",
                )

    def _check_assume_role(self) -> None:
        fix = "Option B needs the client role ARN and the External ID in its trust policy."
        if self.client_role_arn is None:
            raise InvalidInput("client_role_arn", "is required", tenant=self.tenant, fix=fix)
        if self.external_id is None:
            raise InvalidInput("external_id", "is required", tenant=self.tenant, fix=fix)
        role = parse_role_arn(self.client_role_arn, field="client_role_arn")
        if role.partition != self.key.partition:
            raise InvalidInput(
                "client_role_arn", "is in another AWS partition than the key", tenant=self.tenant
            )
        object.__setattr__(self, "client_role_arn", role.arn)
        validate_external_id(self.external_id)

    @property
    def key(self) -> KeyArn:
        """The parsed key ARN."""
        return parse_key_arn(self.key_arn)

    @property
    def region(self) -> str:
        """The CMK's region, taken from the key ARN."""
        return self.key.region

    @property
    def key_account(self) -> str:
        """The AWS account that owns the CMK."""
        return self.key.account

    @property
    def client_role(self) -> RoleArn | None:
        """The parsed client role ARN (Option B), else None."""
        if self.client_role_arn is None:
            return None
        return parse_role_arn(self.client_role_arn, field="client_role_arn")

    def check_region(self, allowed_regions: Iterable[str] = DEFAULT_ALLOWED_REGIONS) -> None:
        """Refuse a key outside the vendor's allowed regions.

        Raises:
            InvalidInput: on field ``key_arn``, listing the allowed regions.
        """
        allowed = tuple(allowed_regions)
        if self.region not in allowed:
            raise InvalidInput(
                "key_arn",
                f"the key is in region {self.region}, which this service does not use",
                tenant=self.tenant,
                fix=f"Create the key in one of: {', '.join(allowed)}, and give its key ARN.",
            )

    @classmethod
    def create(
        cls,
        tenant: str,
        mode: str,
        key_arn: str,
        *,
        client_role_arn: str | None = None,
        external_id: str | None = None,
        version: int = 1,
        allowed_regions: Iterable[str] = DEFAULT_ALLOWED_REGIONS,
    ) -> TenantKeyConfig:
        """Build and fully validate a configuration, including the region allow-list.

        Returns:
            The configuration.

        Raises:
            InvalidInput: naming the first malformed field.
        """
        config = cls(
            tenant=tenant,
            mode=cast(AccessMode, mode),
            key_arn=key_arn,
            client_role_arn=client_role_arn,
            external_id=external_id,
            version=version,
        )
        config.check_region(allowed_regions)
        return config

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (includes the External ID: store it like other tenant settings)."""
        return {
            "tenant": self.tenant,
            "mode": self.mode,
            "key_arn": self.key_arn,
            "region": self.region,
            "client_role_arn": self.client_role_arn,
            "external_id": self.external_id,
            "version": self.version,
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        allowed_regions: Iterable[str] = DEFAULT_ALLOWED_REGIONS,
    ) -> TenantKeyConfig:
        """Parse :meth:`to_dict` output (or a customer submission) strictly.

        ``region`` is optional; when given it must match the key ARN's region.

        Returns:
            The configuration.

        Raises:
            InvalidInput: naming the unknown, missing or malformed field.
        """
        if not isinstance(data, Mapping):
            raise InvalidInput("config", "must be a JSON object")
        unknown = sorted(str(k) for k in data if k not in _FIELDS)
        if unknown:
            raise InvalidInput(unknown[0], "is not a known field", fix="Remove it.")
        for name in ("tenant", "mode", "key_arn"):
            if name not in data:
                raise InvalidInput(name, "is required")
        for name in ("tenant", "mode", "key_arn", "region", "client_role_arn", "external_id"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(name, "must be a string")
        config = cls.create(
            data["tenant"],
            data["mode"],
            data["key_arn"],
            client_role_arn=data.get("client_role_arn"),
            external_id=data.get("external_id"),
            version=data.get("version", 1),
            allowed_regions=allowed_regions,
        )
        region = data.get("region")
        if region is not None and region != config.region:
            raise InvalidInput(
                "region",
                f"{region!r} does not match the key ARN's region {config.region}",
                tenant=config.tenant,
                fix="Give the region the key lives in (it is part of the key ARN).",
            )
        return config
