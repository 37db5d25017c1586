"""KMS grants: which grant, if any, allows a request (AWS KMS Developer Guide, "Grants in AWS KMS").

A grant names one KMS key, a *grantee principal*, the *operations* it allows and optional
*constraints* on the encryption context:

* ``EncryptionContextEquals``: the request's encryption context must equal it exactly;
* ``EncryptionContextSubset``: every pair of it must be in the request's context (the request
  may carry more).

AWS authorizes a KMS request with the key policy, IAM policies *and* grants together
(:func:`byok.core.policy.evaluate.kms_authorize`). Where the guide leaves a case open, byok
takes the less permissive reading (docs/local-aws.md, "KMS grants"):

* an explicit ``Deny`` in the key policy or an IAM policy still wins over a grant;
* a grantee in another account than the key's also needs its own IAM policy to allow the
  operation, as for a key-policy statement naming it;
* a grant whose grantee is an *account* (``arn:aws:iam::<id>:root``) is a delegation: it allows
  that account's root user, and other principals of the account only with an IAM allow;
* constraints apply to every operation: an operation without an encryption context satisfies
  ``EncryptionContextEquals`` only if the constraint is empty;
* a grant never allows ``CreateGrant`` here (AWS lets a grant allow a narrower CreateGrant),
  so a grant cannot be re-delegated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from byok.errors import InvalidInput

__all__ = ["GRANT_OPERATIONS", "Grant", "GrantMatch", "match_grant"]

# AWS KMS API Reference, CreateGrant: Operations (valid values).
GRANT_OPERATIONS = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "Sign",
        "Verify",
        "GetPublicKey",
        "CreateGrant",
        "RetireGrant",
        "DescribeKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateMac",
        "VerifyMac",
        "DeriveSharedSecret",
    }
)
_ROOT_RE = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::([0-9]{12}):root")
_FIX = "Give GranteePrincipal as an IAM ARN and Operations from the CreateGrant list."


@dataclass(frozen=True)
class Grant:
    """One grant on a key (as CreateGrant made it)."""

    grant_id: str
    grantee_principal: str
    operations: frozenset[str]
    retiring_principal: str | None = None
    context_equals: Mapping[str, str] | None = None
    context_subset: Mapping[str, str] | None = None
    name: str = ""
    token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        unknown = sorted(self.operations - GRANT_OPERATIONS)
        if unknown or not self.operations:
            raise InvalidInput("Operations", f"not a grant operation: {unknown}", fix=_FIX)
        if not self.grantee_principal.startswith("arn:"):
            raise InvalidInput("GranteePrincipal", "must be an ARN", fix=_FIX)

    def context_allows(self, context: Mapping[str, str]) -> bool:
        """True if ``context`` (the request's encryption context) meets the constraints."""
        if self.context_equals is not None and dict(context) != dict(self.context_equals):
            return False
        if self.context_subset is not None:
            return all(context.get(k) == v for k, v in self.context_subset.items())
        return True


@dataclass(frozen=True)
class GrantMatch:
    """A grant that applies: ``delegated`` if it names the caller's account, not the caller
    (then an IAM allow is needed unless the caller is that account's root user)."""

    grant: Grant
    delegated: bool


def match_grant(
    grants: Sequence[Grant],
    *,
    principal_arns: Sequence[str],
    principal_account: str,
    operation: str,
    encryption_context: Mapping[str, str],
) -> GrantMatch | None:
    """The first grant naming the caller (or its account) that allows ``operation`` (a bare KMS
    operation name such as ``Decrypt``) with this encryption context, or None."""
    delegated: GrantMatch | None = None
    for grant in grants:
        if operation not in grant.operations or operation == "CreateGrant":
            continue
        if not grant.context_allows(encryption_context):
            continue
        if _names(grant.grantee_principal, principal_arns):
            return GrantMatch(grant, delegated=False)
        root = _ROOT_RE.fullmatch(grant.grantee_principal)
        if root is not None and root.group(1) == principal_account and delegated is None:
            delegated = GrantMatch(grant, delegated=True)
    return delegated


def _names(grantee: str, principal_arns: Sequence[str]) -> bool:
    # IAM user and role names are unique case-insensitively (as in the policy evaluator).
    folded = grantee.lower()
    return any(a == grantee or (":iam::" in a and a.lower() == folded) for a in principal_arns)
