"""KMS grants in the local AWS: validation, authorization context, RetireGrant, grant tokens.

moto 5.2.5 stores grants (CreateGrant, ListGrants, RevokeGrant, RetireGrant) but never uses
them to authorize, retires by token only within the caller's own account and region, and
accepts any grant token. Here (docs/local-aws.md, "KMS grants"):

* CreateGrant is validated (GranteePrincipal an ARN, Operations from AWS's list) and authorized
  as ``kms:CreateGrant`` with the condition keys ``kms:GranteePrincipal``,
  ``kms:RetiringPrincipal``, ``kms:GrantOperations`` and ``kms:GrantConstraintType``;
* every KMS authorization also considers the key's grants
  (:func:`byok.core.policy.evaluate.kms_authorize`, rules in :mod:`byok.core.policy.grants`);
* RetireGrant (by GrantToken, or KeyId + GrantId) is allowed to the grant's retiring
  principal, to its grantee when the grant allows RetireGrant, and to the root user of the
  key's account; it works across accounts and regions;
* ``GrantTokens`` on a request must each be the token of a grant on that key
  (``InvalidGrantTokenException`` otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from byok.core.policy.grants import GRANT_OPERATIONS, Grant
from byok.errors import InvalidInput
from byok.localaws.accounts import Caller
from byok.localaws.kms_keys import KeyIndex, KeyRef
from byok.localaws.wire import AwsError

__all__ = ["check_grant_tokens", "create_grant_context", "grants_of", "retire_grant"]

_CONSTRAINTS = ("EncryptionContextEquals", "EncryptionContextSubset", "SourceArn")


def grants_of(ref: KeyRef) -> list[Grant]:
    """The key's grants (moto's records) as the evaluator's :class:`Grant` values."""
    found = []
    for grant in list(getattr(ref.key, "grants", {}).values()):
        constraints = grant.constraints or {}
        if "SourceArn" in constraints:
            continue  # the local AWS never knows a request's source ARN: the grant allows nothing
        try:
            found.append(
                Grant(
                    grant_id=grant.id,
                    grantee_principal=str(grant.grantee_principal),
                    operations=frozenset(grant.operations or ()),
                    retiring_principal=grant.retiring_principal or None,
                    context_equals=constraints.get("EncryptionContextEquals"),
                    context_subset=constraints.get("EncryptionContextSubset"),
                    name=grant.name or "",
                    token=grant.token,
                )
            )
        except InvalidInput:
            continue  # a grant made before validation existed: it allows nothing
    return found


def create_grant_context(params: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Validate a CreateGrant request; return its extra condition keys.

    Raises:
        AwsError: ValidationException naming the parameter, as KMS does.
    """
    grantee = params.get("GranteePrincipal")
    if not isinstance(grantee, str) or not grantee.startswith("arn:"):
        raise AwsError("ValidationException", "GranteePrincipal must be a principal ARN.")
    operations = params.get("Operations")
    if (
        not isinstance(operations, list)
        or not operations
        or not all(isinstance(o, str) and o in GRANT_OPERATIONS for o in operations)
    ):
        raise AwsError(
            "ValidationException",
            f"Operations must be a non-empty list of: {', '.join(sorted(GRANT_OPERATIONS))}.",
        )
    constraints = params.get("Constraints") or {}
    if not isinstance(constraints, dict) or set(constraints) - set(_CONSTRAINTS):
        raise AwsError("ValidationException", f"Constraints may hold only {_CONSTRAINTS}.")
    for name, value in constraints.items():
        if name == "SourceArn":
            if not isinstance(value, str):
                raise AwsError("ValidationException", "SourceArn must be an ARN.")
            continue
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise AwsError("ValidationException", "A constraint is a map of strings to strings.")
    context: dict[str, str | list[str]] = {
        "kms:GranteePrincipal": grantee,
        "kms:GrantOperations": list(operations),
    }
    if isinstance(params.get("RetiringPrincipal"), str):
        context["kms:RetiringPrincipal"] = params["RetiringPrincipal"]
    if constraints:
        context["kms:GrantConstraintType"] = sorted(constraints)
    return context


def check_grant_tokens(params: Mapping[str, Any], ref: KeyRef) -> None:
    """Refuse grant tokens that are not tokens of a grant on this key.

    Raises:
        AwsError: InvalidGrantTokenException.
    """
    tokens = params.get("GrantTokens")
    if tokens is None:
        return
    known = {g.token for g in grants_of(ref)}
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t in known for t in tokens):
        raise AwsError("InvalidGrantTokenException", "The grant token is not valid.")


def retire_grant(
    index: KeyIndex, caller: Caller, region: str, params: Mapping[str, Any]
) -> list[KeyRef]:
    """Retire one grant (see the module docstring for who may); return the key it was on.

    Raises:
        AwsError: NotFoundException (no such grant), InvalidGrantTokenException,
            AccessDeniedException.
    """
    token, grant_id = params.get("GrantToken"), params.get("GrantId")
    if isinstance(token, str) and token:
        ref, grant = _by_token(index, token)
    elif isinstance(grant_id, str) and "KeyId" in params:
        ref = index.locate(params["KeyId"], caller.account, region)
        grant = _by_id(ref, grant_id)
    else:
        raise AwsError("ValidationException", "Give GrantToken, or KeyId and GrantId.")
    arns = caller.principal_arns
    allowed = (
        (grant.retiring_principal is not None and grant.retiring_principal in arns)
        or (grant.grantee_principal in arns and "RetireGrant" in grant.operations)
        or caller.arn == f"arn:aws:iam::{ref.account}:root"
    )
    if not allowed:
        raise AwsError(
            "AccessDeniedException",
            f"User: {caller.arn} is not authorized to perform: kms:RetireGrant on resource: "
            f"{ref.arn} because it is neither the grant's retiring principal, nor its grantee "
            "with RetireGrant, nor the key account's root user",
        )
    ref.key.grants.pop(grant.grant_id, None)
    return [ref]


def _by_token(index: KeyIndex, token: str) -> tuple[KeyRef, Grant]:
    for ref in index.all_keys():
        for grant in grants_of(ref):
            if grant.token == token:
                return ref, grant
    raise AwsError("InvalidGrantTokenException", "The grant token is not valid.")


def _by_id(ref: KeyRef, grant_id: str) -> Grant:
    for grant in grants_of(ref):
        if grant.grant_id == grant_id:
            return grant
    raise AwsError("NotFoundException", f"Grant ID {grant_id} not found")
