"""Who is calling: the accounts convention, caller identities and their IAM policies.

The convention (docs/local-aws.md#accounts): an access key id ``ROOT`` + 12 digits, with any
secret, is the root user of that account. Every other identity is an ordinary moto identity
made through AWS calls: an IAM user's access key, or the temporary key of an assumed-role
session (moto stores it in the role's account). Anything else is unrecognised, as in AWS.

This module reads moto's backends directly; it runs only inside the emulator process.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from byok.core.policy.evaluate import PolicyDocument, parse_policy, validate_policy_type
from byok.errors import InvalidInput

__all__ = [
    "ROOT_KEY_RE",
    "Caller",
    "Identities",
    "identity_policies",
    "install_moto_patches",
    "parsed_policy",
    "role_by_arn",
]

ROOT_KEY_RE = re.compile(r"ROOT([0-9]{12})")
_PARTITION = "aws"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller.

    Attributes:
        kind: CloudTrail ``userIdentity.type``: ``Root``, ``IAMUser`` or ``AssumedRole``.
        arn: the caller's ARN (root ARN, user ARN, or assumed-role session ARN).
        account: the caller's account id.
        access_key_id: the access key id the request was signed with.
        principal_id: ``UserId`` as GetCallerIdentity reports it.
        name: user name, role session name, or ``root``.
        role_arn: for an assumed-role session, the role's ARN (the session issuer).
        expiration: for an assumed-role session, when its credentials expire.
    """

    kind: str
    arn: str
    account: str
    access_key_id: str
    principal_id: str
    name: str
    role_arn: str | None = None
    expiration: datetime | None = None

    @property
    def principal_arns(self) -> tuple[str, ...]:
        """Every ARN a policy may name this caller by (session ARN and its role ARN)."""
        return (self.arn, self.role_arn) if self.role_arn else (self.arn,)

    def user_identity(self) -> dict[str, Any]:
        """The CloudTrail ``userIdentity`` record of this caller."""
        identity: dict[str, Any] = {
            "type": self.kind,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": self.access_key_id,
        }
        if self.kind == "IAMUser":
            identity["userName"] = self.name
        if self.role_arn:
            role_id = self.principal_id.split(":", 1)[0]
            identity["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": self.role_arn,
                    "accountId": self.account,
                    "userName": self.role_arn.rsplit("/", 1)[-1],
                },
                "attributes": {"mfaAuthenticated": "false"},
            }
        return identity


def _root(access_key_id: str, account: str) -> Caller:
    return Caller("Root", f"arn:aws:iam::{account}:root", account, access_key_id, account, "root")


class Identities:
    """Resolves access key ids to callers; cached, and rechecked against moto on every call."""

    def __init__(self) -> None:
        self._cache: dict[str, Caller] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cached identity (after a reset)."""
        with self._lock:
            self._cache.clear()

    def resolve(self, access_key_id: str | None) -> Caller | None:
        """Return the caller signing with ``access_key_id``, or None if AWS would not know it.

        Root keys (``ROOT`` + account) always resolve. An IAM user's key resolves while it
        exists and is Active; a session key while moto knows the session.
        """
        if not access_key_id:
            return None
        root = ROOT_KEY_RE.fullmatch(access_key_id)
        if root:
            return _root(access_key_id, root[1])
        cached = self._cache.get(access_key_id)
        if cached is not None and _key_active(cached.account, access_key_id):
            return cached
        found = _lookup(access_key_id)
        with self._lock:
            if found is None:
                self._cache.pop(access_key_id, None)
            else:
                self._cache[access_key_id] = found
        return found

    def account_of(self, access_key_id: str) -> str | None:
        """The account an access key belongs to (used by moto's patched account lookup)."""
        caller = self.resolve(access_key_id)
        return caller.account if caller else None


def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    per_account = dict.get(iam_backends, account)
    return None if per_account is None else dict.get(per_account, _PARTITION)


def _key_active(account: str, access_key_id: str) -> bool:
    backend = _iam(account)
    key = None if backend is None else backend.access_keys.get(access_key_id)
    return key is not None and key.status == "Active"


def _accounts() -> Iterator[str]:
    from moto.iam.models import iam_backends

    yield from list(iam_backends.keys())


def _lookup(access_key_id: str) -> Caller | None:
    from moto.sts.models import sts_backends

    for account in _accounts():
        if not _key_active(account, access_key_id):
            continue
        sts = dict.get(sts_backends, account)
        backend = None if sts is None else dict.get(sts, _PARTITION)
        session = (
            None if backend is None else backend.get_assumed_role_from_access_key(access_key_id)
        )
        if session is not None:
            return Caller(
                "AssumedRole",
                session.arn,
                account,
                access_key_id,
                session.user_id,
                session.session_name,
                session.role_arn,
                session.expiration,
            )
        user = _iam(account).get_user_from_access_key_id(access_key_id)
        if user is not None:
            return Caller("IAMUser", user.arn, account, access_key_id, user.id, user.name)
    return None


def role_by_arn(role_arn: str) -> Any:
    """moto's role with this exact ARN, or None if there is none."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    backend = _iam(parts[4])
    if backend is None:
        return None
    return next((r for r in list(backend.roles.values()) if r.arn == role_arn), None)


def role_arn_by_name(account: str, role_name: str) -> str | None:
    """The ARN of ``account``'s role named ``role_name``, or None if there is none."""
    backend = _iam(account)
    if backend is None or not role_name:
        return None
    role = next((r for r in list(backend.roles.values()) if r.name == role_name), None)
    return None if role is None else str(role.arn)


def _default_document(policy: Any) -> str:
    version = next((v for v in policy.versions if v.is_default), None)
    document = "" if version is None else version.document
    return document if isinstance(document, str) else json.dumps(document)


def identity_policies(caller: Caller) -> list[str]:
    """The JSON texts of the caller's IAM identity policies (managed + inline, groups too).

    The root user has none (it is implicitly allowed everything in its own account). A session
    of a role that was deleted has none, so it is refused, as in AWS.
    """
    if caller.kind == "Root":
        return []
    holders: list[Any] = []
    backend = _iam(caller.account)
    if caller.role_arn:
        role = role_by_arn(caller.role_arn)
        holders = [] if role is None else [role]
    elif backend is not None and caller.name in backend.users:
        user = backend.users[caller.name]
        groups = [g for g in backend.groups.values() if user in g.users]
        holders = [user, *groups]
    texts: list[str] = []
    for holder in holders:
        texts.extend(_default_document(p) for p in list(holder.managed_policies.values()))
        texts.extend(
            str(t) if isinstance(t, str) else json.dumps(t) for t in list(holder.policies.values())
        )
    return texts


@functools.lru_cache(maxsize=4096)
def _parse(text: str, resource_policy: bool) -> PolicyDocument | InvalidInput:
    try:
        document = parse_policy(text)
        validate_policy_type(document, resource_policy=resource_policy)
    except InvalidInput as exc:
        return exc
    return document


def parsed_policy(text: str, *, resource_policy: bool) -> PolicyDocument:
    """Parse a policy document, cached by its text (benchmarks send thousands of calls).

    Returns:
        The :class:`PolicyDocument`.

    Raises:
        InvalidInput: if the text is not a valid policy of that type (cached too).
    """
    result = _parse(text, resource_policy)
    if isinstance(result, InvalidInput):
        raise result
    return result


_PATCHED = threading.Lock()
_installed: list[Identities] = []


_AWS_MRK_ID = re.compile(r"mrk-[0-9a-f]{32}")


def install_moto_patches(identities: Identities) -> None:
    """Patch moto inside the emulator process (test infrastructure only).

    * ``get_account_id_from``: ``ROOT`` + 12 digits maps to that account (the convention);
    * ``KmsResponse._validate_cmk_id``: accepts AWS's ``mrk-<32 hex>`` key ids;
    * ``kms.responses.validate_policy``: off, the fidelity layer authorizes every KMS call
      with the real evaluator (moto's own check denies on any Deny statement, whoever it
      names).
    """
    import moto.iam.models as iam_models
    import moto.kms.responses as kms_responses

    with _PATCHED:
        _installed[:] = [identities]
        if getattr(iam_models.get_account_id_from, "_byok", False):
            return
        original = iam_models.get_account_id_from

        def get_account_id_from(access_key: str) -> str:
            found = _installed[0].account_of(access_key) if _installed else None
            return found if found is not None else str(original(access_key))

        get_account_id_from._byok = True  # type: ignore[attr-defined]
        iam_models.get_account_id_from = get_account_id_from
        kms_responses.validate_policy = lambda key, action: None  # type: ignore[attr-defined]
        _accept_aws_mrk_ids(kms_responses)


def _accept_aws_mrk_ids(kms_responses: Any) -> None:
    """moto's KeyId check knows only its own ``mrk-<dashed uuid>`` ids; the layer gives
    multi-Region keys AWS's ``mrk-<32 hex>`` ids (byok.localaws.kms_ops.normalize_mrk_id)."""
    original = kms_responses.KmsResponse._validate_cmk_id

    def validate(self: Any, key_id: str) -> None:
        if _AWS_MRK_ID.fullmatch(key_id):
            key_id = f"arn:aws:kms:{self.region}:{self.current_account}:key/{key_id}"
        original(self, key_id)

    kms_responses.KmsResponse._validate_cmk_id = validate
