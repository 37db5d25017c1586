"""The typed inputs of the customer toolkit: who the vendor is and what the customer sets up.

:class:`VendorIdentity` names the vendor's AWS account and its two roles (customer guide,
section 2): the role that Option A's key policy names (the guide's "customer-facing role"),
and the *document-storage role* that Option B's client-role trust policy names. By default
both are ``document-storage-role``: byok's vendor service calls KMS as that one role in both
modes (``BYOK_VENDOR_ROLE_NAME``), so a policy built from the defaults names the role that
actually calls (the guide: "the vendor will provide the role ARN"). :class:`CustomerSetup`
is one tenant's choice: the mode, the key (an existing key ARN, or None to create one), the
customer account, the client role and External ID (Option B), key administrators and whether
the policies are bound to this tenant's encryption context (the default; ``hardening=False``
is the guide's weaker, unconditioned statement).

Both validate on construction and raise :class:`~byok.errors.InvalidInput` naming the field
and the fix, so the generators never see a malformed value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Final

from byok.core.arn import (
    KeyArn,
    parse_account_id,
    parse_key_arn,
    parse_role_arn,
    validate_role_name,
)
from byok.core.policy.templates.levers import AccessLevers
from byok.core.tenant_config import (
    MODES,
    AccessMode,
    validate_external_id,
    validate_tenant_id,
)
from byok.errors import InvalidInput

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_VENDOR_ROLE",
    "CustomerSetup",
    "VendorIdentity",
    "handover_config",
    "partition_of_region",
    "validate_admin_arn",
    "validate_role_name",
]

DEFAULT_REGION: Final = "us-east-1"
#: The vendor role byok's service calls KMS as (``byok.settings.Settings.vendor_role_name``).
DEFAULT_VENDOR_ROLE: Final = "document-storage-role"

# IAM role names: 1-64 of [\w+=,.@-] (ASCII word characters).
# KMS alias names: alias/ + letters, digits, '/', '_', '-'; alias/aws/ is reserved for AWS.
_ALIAS_RE = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")
_USER_ARN_RE = re.compile(r"arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):user(/[\x21-\x7e]*)")
_REGION_RE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}")
_DESCRIPTION_MAX = 8192


def partition_of_region(region: str) -> str:
    """The AWS partition of ``region``: ``aws-cn`` for ``cn-*``, ``aws-us-gov`` for
    ``us-gov-*``, else ``aws``.

    Returns:
        The partition name used in ARNs.
    """
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def validate_admin_arn(value: object, *, account: str, field: str = "admins") -> str:
    """Return ``value`` if it is an IAM role or user ARN in ``account`` (a key administrator).

    Administrators from another account are refused: they would let that account manage,
    re-grant or delete the key. A comma is refused too, because CloudFormation's
    ``CommaDelimitedList`` parameter would split the ARN.

    Raises:
        InvalidInput: naming ``field`` when it is not.
    """
    fix = "Give IAM role or user ARNs of your own account, e.g. arn:aws:iam::<id>:role/KeyAdmin."
    if not isinstance(value, str):
        raise InvalidInput(field, f"{value!r:.80} is not an ARN", fix=fix)
    user = _USER_ARN_RE.fullmatch(value)
    owner = user.group(2) if user else parse_role_arn(value, field=field).account
    if owner != account:
        raise InvalidInput(
            field, f"{value} is in account {owner}, not the key's account {account}", fix=fix
        )
    if "," in value:
        raise InvalidInput(field, f"{value} contains a comma", fix=fix)
    return value


@dataclass(frozen=True)
class VendorIdentity:
    """The vendor's AWS identity as the customer's policies name it.

    Attributes:
        account: the vendor's 12-digit AWS account id.
        customer_facing_role: Option A: the role the key policy lets use the key; it must be
            the role the vendor calls KMS as (byok: its ``document-storage-role``).
        document_storage_role: Option B: the role that assumes the customer's client role.
        partition: ``aws`` unless the vendor runs in China or GovCloud.

    Raises:
        InvalidInput: on construction, naming the malformed field.
    """

    account: str
    customer_facing_role: str = DEFAULT_VENDOR_ROLE
    document_storage_role: str = DEFAULT_VENDOR_ROLE
    partition: str = "aws"

    def __post_init__(self) -> None:
        parse_account_id(self.account, field="vendor_account")
        validate_role_name(self.customer_facing_role, field="customer_facing_role")
        validate_role_name(self.document_storage_role, field="document_storage_role")
        if self.partition not in ("aws", "aws-cn", "aws-us-gov"):
            raise InvalidInput(
                "partition",
                f"unknown partition {self.partition!r:.40}",
                fix="Use aws, aws-cn or aws-us-gov.",
            )

    def role_arn(self, mode: AccessMode) -> str:
        """The ARN of the vendor role a customer policy names in ``mode``.

        Returns:
            The customer-facing role ARN for ``direct``, the document-storage role ARN for
            ``assume-role``.
        """
        name = self.customer_facing_role if mode == "direct" else self.document_storage_role
        return f"arn:{self.partition}:iam::{self.account}:role/{name}"


@dataclass(frozen=True)
class CustomerSetup:
    """One tenant's key set-up, as the customer chooses it.

    Attributes:
        tenant: the tenant id the vendor gave (it is the encryption-context value).
        mode: ``direct`` (Option A) or ``assume-role`` (Option B).
        customer_account: the customer's 12-digit AWS account id (owns key and client role).
        key_arn: an existing key to adopt, or None to create one (templates, full key policy).
        external_id: Option B only: the External ID the vendor generated for this tenant.
        client_role_name: Option B only: the name of the role created in the customer account.
        admins: key administrators (IAM role/user ARNs of ``customer_account``).
        hardening: limit the key to this tenant's encryption context and caller account
            (default). False gives the guide's unconditioned statement, which lets the vendor
            use the key under *any* tenant's context: weaker, and byok's verification refuses
            such a key (check ``key_refuses_other_tenants``).
        region: the key's region; None means the key ARN's region, or us-east-1.
        key_alias: alias of a new key; None means ``alias/byok-<tenant>``.
        description: description of a new key; None means a standard one naming the tenant.
        levers: scopes, periods and access reasons the key policy denies the key user
            (:mod:`byok.core.policy.templates.levers`).

    Raises:
        InvalidInput: on construction, naming the malformed or contradictory field.
    """

    tenant: str
    mode: AccessMode
    customer_account: str
    key_arn: str | None = None
    external_id: str | None = None
    client_role_name: str = "byok-client-role"
    admins: tuple[str, ...] = field(default=())
    hardening: bool = True
    region: str | None = None
    key_alias: str | None = None
    description: str | None = None
    levers: AccessLevers = field(default_factory=AccessLevers)

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant)
        if self.mode not in MODES:
            raise InvalidInput(
                "mode",
                f"{self.mode!r:.40} is not a mode",
                fix="Use 'direct' (Option A) or 'assume-role' (Option B).",
            )
        parse_account_id(self.customer_account, field="customer_account")
        if not isinstance(self.hardening, bool):
            raise InvalidInput("hardening", "must be true or false")
        self._check_key()
        self._check_mode_fields()
        if isinstance(self.admins, str) or not isinstance(self.admins, tuple | list):
            raise InvalidInput("admins", "must be a list of ARNs")
        object.__setattr__(self, "admins", tuple(self.admins))
        for arn in self.admins:
            validate_admin_arn(arn, account=self.customer_account)
        if len(set(self.admins)) != len(self.admins):
            raise InvalidInput("admins", "lists an ARN twice", fix="List each administrator once.")
        alias = self.alias
        if not _ALIAS_RE.fullmatch(alias) or alias.startswith("alias/aws/"):
            raise InvalidInput(
                "key_alias",
                f"{alias!r:.80} is not a KMS alias name",
                fix="Use alias/ followed by letters, digits, '/', '_' or '-'.",
            )
        desc = self.key_description
        if not desc or len(desc) > _DESCRIPTION_MAX:
            raise InvalidInput("description", f"must be 1 to {_DESCRIPTION_MAX} characters")

    def _check_key(self) -> None:
        if self.region is not None and (
            not isinstance(self.region, str) or not _REGION_RE.fullmatch(self.region)
        ):
            raise InvalidInput(
                "region",
                f"{self.region!r:.40} is not an AWS region",
                fix="Give a region such as us-east-1.",
            )
        if self.key_arn is None:
            return
        key = parse_key_arn(self.key_arn)
        if key.account != self.customer_account:
            raise InvalidInput(
                "key_arn",
                f"the key is in account {key.account}, not {self.customer_account}",
                fix="Give a key of your own account, or correct customer_account.",
            )
        if self.region is not None and self.region != key.region:
            raise InvalidInput(
                "region",
                f"{self.region} is not the key's region {key.region}",
                fix="Omit region (it is part of the key ARN) or give the key's region.",
            )

    def _check_mode_fields(self) -> None:
        # The shared validators match with ``$``, which also accepts one trailing newline;
        # a value copied into a policy must be exact, so refuse line breaks here too.
        for name in ("tenant", "external_id"):
            value = getattr(self, name)
            if isinstance(value, str) and ("\n" in value or "\r" in value):
                raise InvalidInput(
                    name,
                    "contains a line break",
                    fix="Remove the line break copied with the value.",
                )
        if self.mode == "direct":
            if self.external_id is not None:
                raise InvalidInput(
                    "external_id",
                    "is used only with mode 'assume-role'",
                    fix="Omit the External ID for Option A, or use assume-role.",
                )
            return
        if self.external_id is None:
            raise InvalidInput(
                "external_id",
                "is required for mode 'assume-role'",
                fix="Use the External ID the vendor generated for this tenant.",
            )
        validate_external_id(self.external_id)
        validate_role_name(self.client_role_name, field="client_role_name")

    @property
    def key(self) -> KeyArn | None:
        """The parsed existing key, or None when a new key is to be created."""
        return None if self.key_arn is None else parse_key_arn(self.key_arn)

    @property
    def key_region(self) -> str:
        """The key's region: the key ARN's, else ``region``, else us-east-1."""
        key = self.key
        if key is not None:
            return key.region
        return self.region if self.region is not None else DEFAULT_REGION

    @property
    def partition(self) -> str:
        """The AWS partition of the key's region."""
        return partition_of_region(self.key_region)

    @property
    def alias(self) -> str:
        """The alias of a new key (``alias/byok-<tenant>`` unless given)."""
        if self.key_alias is not None:
            return self.key_alias
        return "alias/byok-" + self.tenant.replace(".", "-")

    @property
    def key_description(self) -> str:
        """The description of a new key."""
        if self.description is not None:
            return self.description
        return f"byok: document encryption key of tenant {self.tenant}"

    @property
    def root_arn(self) -> str:
        """The customer account's root principal ARN."""
        return f"arn:{self.partition}:iam::{self.customer_account}:root"

    @property
    def client_role_arn(self) -> str | None:
        """Option B: the client role's ARN; None for Option A."""
        if self.mode == "direct":
            return None
        return f"arn:{self.partition}:iam::{self.customer_account}:role/{self.client_role_name}"


def handover_config(setup: CustomerSetup, key_arn: str | None = None) -> dict[str, Any]:
    """What the customer hands to the vendor (guide, section 3), in the shape
    :meth:`byok.core.tenant_config.TenantKeyConfig.from_dict` accepts.

    Returns:
        ``tenant, mode, key_arn, region`` (+ ``client_role_arn, external_id`` for Option B).

    Raises:
        InvalidInput: field ``key_arn`` if neither ``key_arn`` nor ``setup.key_arn`` is given.
    """
    arn = key_arn if key_arn is not None else setup.key_arn
    if arn is None:
        raise InvalidInput(
            "key_arn", "is needed for the hand-over", fix="Give the ARN of the key once it exists."
        )
    adopted = replace(setup, key_arn=arn)  # validates its account and region
    config: dict[str, Any] = {
        "tenant": setup.tenant,
        "mode": setup.mode,
        "key_arn": arn,
        "region": adopted.key_region,
    }
    if setup.mode == "assume-role":
        config["client_role_arn"] = setup.client_role_arn
        config["external_id"] = setup.external_id
    return config
