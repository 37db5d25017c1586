"""Pure IAM policy evaluation: does a policy allow principal P action A on resource R in context C?

Follows AWS's documented evaluation logic (IAM User Guide, "Policy evaluation logic"):

1. every request starts as an implicit deny;
2. an explicit ``Deny`` in any applicable policy ends evaluation with a deny ("an explicit deny
   in any policy overrides any allows");
3. otherwise an ``Allow`` that matches turns the implicit deny into an allow;
4. for a request from another account, both the resource's policy and the caller's identity
   policies must allow ("Cross-account policy evaluation logic").

KMS and STS add their own rule about the resource policy (AWS KMS Developer Guide, "Key
policies"; IAM User Guide, "Roles terms and concepts", trust policy): the key policy / trust
policy is authoritative, and a statement naming the *account* (``arn:aws:iam::<id>:root`` or
``<id>``) delegates to that account's IAM policies rather than granting every principal in it.
:func:`kms_authorize` and :func:`assume_role_authorize` implement that.

Statement matching lives in :mod:`byok.core.policy.matching`, conditions in
:mod:`byok.core.policy.conditions`, the parser in :mod:`byok.core.policy.document`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from byok.core.arn import parse_account_id
from byok.core.policy.document import (
    Condition,
    PolicyDocument,
    PrincipalSet,
    Statement,
    parse_policy,
)
from byok.core.policy.grants import Grant, match_grant
from byok.core.policy.matching import (
    PrincipalMatch,
    Request,
    check_policy_type,
    match_statement,
)

__all__ = [
    "Condition",
    "Decision",
    "Explanation",
    "Grant",
    "PolicyDocument",
    "PrincipalMatch",
    "PrincipalSet",
    "Request",
    "Statement",
    "StatementMatch",
    "assume_role_authorize",
    "evaluate",
    "explain",
    "kms_authorize",
    "parse_policy",
    "validate_policy_type",
]


class Decision(enum.Enum):
    """The outcome of an evaluation, with AWS's three states."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"

    @property
    def allowed(self) -> bool:
        """True only for :attr:`ALLOW`."""
        return self is Decision.ALLOW


@dataclass(frozen=True)
class StatementMatch:
    """One statement that applied to a request.

    Attributes:
        index: position in the document's ``Statement`` list (0-based).
        sid: the statement's ``Sid``, if any.
        effect: ``"Allow"`` or ``"Deny"``.
        principal: how a resource policy's Principal matched (:class:`PrincipalMatch`);
            ``IDENTITY`` for identity policies.
    """

    index: int
    sid: str | None
    effect: str
    principal: PrincipalMatch

    @property
    def label(self) -> str:
        """``Sid`` if present, else ``#<index>``."""
        return self.sid if self.sid else f"#{self.index}"


@dataclass(frozen=True)
class Explanation:
    """Why one document decided as it did: the decision and every statement that applied."""

    decision: Decision
    allows: tuple[StatementMatch, ...] = field(default=())
    denies: tuple[StatementMatch, ...] = field(default=())

    @property
    def direct_allow(self) -> bool:
        """True if an Allow named the caller itself (or ``*``), not only its account."""
        return any(m.principal is not PrincipalMatch.ACCOUNT for m in self.allows)


def explain(policy: PolicyDocument, request: Request, *, resource_policy: bool) -> Explanation:
    """Evaluate one document and report which statements applied.

    ``resource_policy=True`` (key policy, trust policy): statements match through
    Principal/NotPrincipal; a principal naming the caller's account matches with
    :attr:`PrincipalMatch.ACCOUNT`. ``False`` (identity policy): statements must not carry a
    principal, and Resource/NotResource must match ``request.resource``.

    Returns:
        An :class:`Explanation`; its decision is EXPLICIT_DENY if any Deny applied, else ALLOW
        if any Allow applied, else IMPLICIT_DENY.

    Raises:
        InvalidInput: field ``policy`` if a statement does not fit the policy type (a Principal
            in an identity policy, no Resource in an identity policy, no Principal in a resource
            policy): AWS refuses such documents, and guessing could fail open.
    """
    allows: list[StatementMatch] = []
    denies: list[StatementMatch] = []
    for statement in policy.statements:
        how = match_statement(statement, request, resource_policy=resource_policy)
        if how is None:
            continue
        found = StatementMatch(statement.index, statement.sid, statement.effect, how)
        (denies if statement.effect == "Deny" else allows).append(found)
    if denies:
        decision = Decision.EXPLICIT_DENY
    elif allows:
        decision = Decision.ALLOW
    else:
        decision = Decision.IMPLICIT_DENY
    return Explanation(decision, tuple(allows), tuple(denies))


def validate_policy_type(
    policy: PolicyDocument, *, resource_policy: bool, field: str = "policy"
) -> None:
    """Check that every statement fits the policy type, e.g. before storing a key policy.

    ``resource_policy=True`` (key or trust policy): every statement has Principal or
    NotPrincipal. ``False`` (identity policy): no statement has one, and each has Resource or
    NotResource. These are the documents AWS itself refuses with MalformedPolicyDocument.

    Raises:
        InvalidInput: naming ``field`` and the first statement that does not fit.
    """
    for statement in policy.statements:
        check_policy_type(statement, resource_policy=resource_policy, field=field)


def evaluate(policy: PolicyDocument, request: Request, *, resource_policy: bool) -> Decision:
    """Evaluate one policy document on its own (see :func:`explain` for the matching rules).

    A resource policy that allows only through the caller's account principal counts as ALLOW
    here; whether that suffices depends on the service (:func:`kms_authorize`).

    Returns:
        The :class:`Decision` of this document alone.

    Raises:
        InvalidInput: as :func:`explain`.
    """
    return explain(policy, request, resource_policy=resource_policy).decision


def kms_authorize(
    key_policy: PolicyDocument,
    identity_policies: Sequence[PolicyDocument],
    request: Request,
    *,
    key_account: str,
    grants: Sequence[Grant] = (),
) -> Decision:
    """Authorize a KMS request the way AWS KMS does: key policy (authoritative), IAM, grants.

    AWS KMS Developer Guide, "Key policies": "Unless the key policy explicitly allows it, you
    cannot use IAM policies to allow access to a KMS key"; an IAM policy can always *deny*.
    Same account: the key policy allowing the caller (its ARN or ``*``) suffices; allowing the
    account (root) needs an identity policy allow too, except for the root user itself.
    Another account: the key policy must allow the caller or its account, and the caller's
    identity policies must allow as well (root user of that account: implicit).
    ``kms:CallerAccount`` is added to the context when absent, as KMS always sets it.
    Without a policy allow or deny, ``grants`` on the key may allow the request (AWS KMS
    Developer Guide, "Grants in AWS KMS"; the encryption context is read from the
    ``kms:EncryptionContext:<k>`` keys): :mod:`byok.core.policy.grants` has the rules.

    Returns:
        EXPLICIT_DENY if any document denies (a grant never lifts it), ALLOW per the rules
        above, else IMPLICIT_DENY.

    Raises:
        InvalidInput: as :func:`explain`, or field ``key_account`` if it is not 12 digits.
    """
    request = request.with_default_context({"kms:CallerAccount": request.principal_account})
    decision = _authorize(key_policy, identity_policies, request, key_account)
    if decision is not Decision.IMPLICIT_DENY or not grants:
        return decision
    return _grant_decision(grants, identity_policies, request, key_account)


def _grant_decision(
    grants: Sequence[Grant],
    identity_policies: Sequence[PolicyDocument],
    request: Request,
    key_account: str,
) -> Decision:
    """ALLOW if a grant allows the request (rules: :mod:`byok.core.policy.grants`)."""
    prefix = "kms:encryptioncontext:"
    context = {
        k[len(prefix) :]: v
        for k, v in request.context.items()
        if k.lower().startswith(prefix) and isinstance(v, str)
    }
    found = match_grant(
        grants,
        principal_arns=request.principal_arns,
        principal_account=request.principal_account,
        operation=request.action.split(":", 1)[1],
        encryption_context=context,
    )
    if found is None:
        return Decision.IMPLICIT_DENY
    needs_identity = found.delegated or request.principal_account != key_account
    if not needs_identity or request.is_root_user:
        return Decision.ALLOW
    identity = [evaluate(p, request, resource_policy=False) for p in identity_policies]
    return Decision.ALLOW if Decision.ALLOW in identity else Decision.IMPLICIT_DENY


def assume_role_authorize(
    trust_policy: PolicyDocument,
    identity_policies: Sequence[PolicyDocument],
    request: Request,
    *,
    role_account: str,
) -> Decision:
    """Authorize ``sts:AssumeRole`` on a role the way AWS STS does.

    IAM User Guide, "Cross-account policy evaluation logic" and "How to use trust policies in
    IAM roles": same account, a trust policy naming the caller (its ARN, or its role for a
    session) suffices; a trust policy naming the account needs an identity policy allow as
    well. Another account: the trust policy must allow the caller or its account *and* the
    caller's identity policies must allow (the other account's root user: implicit). Conditions
    such as ``sts:ExternalId`` are evaluated from ``request.context``.

    Returns:
        EXPLICIT_DENY if any document denies, ALLOW per the rules above, else IMPLICIT_DENY.

    Raises:
        InvalidInput: as :func:`explain`, or field ``role_account`` if it is not 12 digits.
    """
    return _authorize(trust_policy, identity_policies, request, role_account, "role_account")


def _authorize(
    resource_policy: PolicyDocument,
    identity_policies: Sequence[PolicyDocument],
    request: Request,
    owner_account: str,
    owner_field: str = "key_account",
) -> Decision:
    """Combine a resource policy with the caller's identity policies (rules: see callers)."""
    parse_account_id(owner_account, field=owner_field)
    resource = explain(resource_policy, request, resource_policy=True)
    identity = [evaluate(p, request, resource_policy=False) for p in identity_policies]
    if resource.decision is Decision.EXPLICIT_DENY or Decision.EXPLICIT_DENY in identity:
        return Decision.EXPLICIT_DENY
    if resource.decision is not Decision.ALLOW:
        return Decision.IMPLICIT_DENY
    identity_allows = request.is_root_user or Decision.ALLOW in identity
    same_account = request.principal_account == owner_account
    if same_account and resource.direct_allow:
        return Decision.ALLOW
    return Decision.ALLOW if identity_allows else Decision.IMPLICIT_DENY
