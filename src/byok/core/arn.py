"""Amazon Resource Names that byok accepts from customers, validated strictly.

Only the shapes byok needs: a KMS key ARN (single- or multi-Region), an IAM role ARN and
an account id. Anything else (an alias, a bare key id, a malformed account) is refused with
:class:`~byok.errors.InvalidInput` naming the field and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from byok.errors import InvalidInput

__all__ = [
    "KeyArn",
    "RoleArn",
    "parse_account_id",
    "parse_key_arn",
    "parse_role_arn",
    "validate_role_name",
]

_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$")
_KEY_ID_RE = re.compile(
    r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
# IAM role names: 1-64 of [\w+=,.@-]; paths: / or /.../ with printable ASCII, at most 512.
_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_ROLE_PATH_RE = re.compile(r"^/([\x21-\x7e]*/)?$")
_MAX_ARN = 2048

_KEY_ARN_EXAMPLE = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
_ROLE_ARN_EXAMPLE = "arn:aws:iam::111122223333:role/byok-client-role"


@dataclass(frozen=True)
class KeyArn:
    """A validated KMS key ARN."""

    partition: str
    region: str
    account: str
    key_id: str

    @property
    def arn(self) -> str:
        """The canonical ARN string."""
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{self.key_id}"

    @property
    def multi_region(self) -> bool:
        """True for a multi-Region key (``mrk-`` key id)."""
        return self.key_id.startswith("mrk-")

    def __str__(self) -> str:
        return self.arn


@dataclass(frozen=True)
class RoleArn:
    """A validated IAM role ARN."""

    partition: str
    account: str
    path: str
    name: str

    @property
    def arn(self) -> str:
        """The canonical ARN string."""
        return f"arn:{self.partition}:iam::{self.account}:role{self.path}{self.name}"

    def __str__(self) -> str:
        return self.arn


def validate_role_name(value: object, *, field: str = "role_name") -> str:
    """Return ``value`` if it is an IAM role name (1-64 of ``[\\w+=,.@-]``, no path).

    Raises:
        InvalidInput: naming ``field`` when it is not.
    """
    if not isinstance(value, str) or not _ROLE_NAME_RE.fullmatch(value):
        raise InvalidInput(
            field,
            f"{_shown(value)} is not an IAM role name",
            fix="Give the role's name only (not its ARN): 1-64 letters, digits or _+=,.@-.",
        )
    return value


def parse_account_id(value: object, *, field: str = "account_id") -> str:
    """Return ``value`` if it is a 12-digit AWS account id.

    Raises:
        InvalidInput: naming ``field`` when it is not.
    """
    if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
        raise InvalidInput(
            field,
            f"{_shown(value)} is not an AWS account id",
            fix="Give the 12-digit account id, e.g. 111122223333.",
        )
    return value


def parse_key_arn(value: object, *, field: str = "key_arn") -> KeyArn:
    """Parse and validate a KMS key ARN (single- or multi-Region).

    Raises:
        InvalidInput: for anything else, including aliases and bare key ids, with a fix.
    """
    fix = f"Give the full key ARN, e.g. {_KEY_ARN_EXAMPLE} (KMS console: key details, ARN)."
    if not isinstance(value, str) or not value or len(value) > _MAX_ARN:
        raise InvalidInput(field, f"{_shown(value)} is not a KMS key ARN", fix=fix)
    if value.startswith("alias/") or ":alias/" in value:
        raise InvalidInput(
            field,
            "an alias is not accepted: aliases can be re-pointed to another key",
            fix=fix,
        )
    if _KEY_ID_RE.fullmatch(value):
        raise InvalidInput(field, "a bare key id is not accepted", fix=fix)
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms":
        raise InvalidInput(field, f"{_shown(value)} is not a KMS key ARN", fix=fix)
    _, partition, _, region, account, resource = parts
    if partition not in _PARTITIONS:
        raise InvalidInput(field, f"unknown partition {partition!r}", fix=fix)
    if not _REGION_RE.fullmatch(region):
        raise InvalidInput(field, f"{region!r} is not an AWS region", fix=fix)
    if not _ACCOUNT_RE.fullmatch(account):
        raise InvalidInput(field, f"{account!r} is not a 12-digit account id", fix=fix)
    if not resource.startswith("key/") or not _KEY_ID_RE.fullmatch(resource[4:]):
        raise InvalidInput(field, f"resource {resource!r} is not key/<key-id>", fix=fix)
    return KeyArn(partition, region, account, resource[4:])


def parse_role_arn(value: object, *, field: str = "role_arn") -> RoleArn:
    """Parse and validate an IAM role ARN (``arn:aws:iam::<account>:role[/path/]<name>``).

    Raises:
        InvalidInput: naming ``field`` with the expected shape.
    """
    fix = f"Give the role ARN, e.g. {_ROLE_ARN_EXAMPLE} (IAM console: role summary, ARN)."
    if not isinstance(value, str) or not value or len(value) > _MAX_ARN:
        raise InvalidInput(field, f"{_shown(value)} is not an IAM role ARN", fix=fix)
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or parts[3] != "":
        raise InvalidInput(field, f"{_shown(value)} is not an IAM role ARN", fix=fix)
    _, partition, _, _, account, resource = parts
    if partition not in _PARTITIONS:
        raise InvalidInput(field, f"unknown partition {partition!r}", fix=fix)
    if not _ACCOUNT_RE.fullmatch(account):
        raise InvalidInput(field, f"{account!r} is not a 12-digit account id", fix=fix)
    if not resource.startswith("role/"):
        raise InvalidInput(field, f"resource {resource!r} is not role/<name>", fix=fix)
    path, _, name = resource[4:].rpartition("/")
    path += "/"
    if not _ROLE_PATH_RE.fullmatch(path) or len(path) > 512:
        raise InvalidInput(field, f"role path {path!r} is not valid", fix=fix)
    if not _ROLE_NAME_RE.fullmatch(name):
        raise InvalidInput(field, f"role name {name!r} is not valid", fix=fix)
    return RoleArn(partition, account, path, name)


def _shown(value: object) -> str:
    """A short, safe rendering of user input for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
