"""The KMS part of the fidelity layer: locate, authorize, check state, serve, record.

For every KMS call (docs/local-aws.md#behaviour):

1. locate the key from the KeyId (key ARN of any account) or from the ciphertext
   (:mod:`byok.localaws.kms_keys`); unknown → ``NotFoundException``;
2. apply injected faults (:mod:`byok.localaws.faults`);
3. authorize with the product's pure evaluator, :func:`byok.core.policy.evaluate.kms_authorize`:
   the key policy plus the caller's IAM identity policies, context
   ``kms:EncryptionContext:<k>``, ``kms:EncryptionContextKeys``, ``kms:CallerAccount``;
4. check the key state; validate key policies (``MalformedPolicyDocumentException``, including
   AWS's lockout safety check);
5. hand the call to moto *as the key's owning account and region* (ReEncrypt, which may span
   two accounts, is served here from the two owners' backends);
6. record a CloudTrail event with the request id returned to the caller.

Operations AWS does not allow across accounts (DisableKey, PutKeyPolicy, ...) given another
account's key ARN answer ``NotFoundException``.

Not authorized (any identity of the account may call them): CreateKey, ListKeys, ListAliases,
GenerateRandom and other calls that name no key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from byok.core.policy.evaluate import Decision, Request, evaluate, kms_authorize
from byok.errors import InvalidInput
from byok.localaws.accounts import Caller, identity_policies, parsed_policy
from byok.localaws.faults import FaultSet
from byok.localaws.grants import check_grant_tokens, create_grant_context, grants_of, retire_grant
from byok.localaws.kms_keys import KeyIndex, KeyRef, check_state
from byok.localaws.kms_ops import (
    check_replicate,
    check_window,
    ciphertext_key,
    decrypt_blob,
    finish_replicate,
    fix_lifecycle_answer,
    normalize_mrk_id,
    re_encrypt_blob,
)
from byok.localaws.trail import EventLog
from byok.localaws.wire import AwsError, Call, Response, WsgiApp, call_app, json_response

__all__ = ["KmsFidelity"]

_ALIAS_OPERATIONS = frozenset({"CreateAlias", "UpdateAlias"})
_READ_ONLY_PREFIXES = (
    "Describe",
    "Get",
    "List",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "GenerateRandom",
)
_PARAMETERS = (
    ("KeyId", "keyId"),
    ("TargetKeyId", "targetKeyId"),
    ("AliasName", "aliasName"),
    ("SourceKeyId", "sourceKeyId"),
    ("DestinationKeyId", "destinationKeyId"),
    ("KeySpec", "keySpec"),
    ("NumberOfBytes", "numberOfBytes"),
    ("EncryptionAlgorithm", "encryptionAlgorithm"),
    ("EncryptionContext", "encryptionContext"),
    ("SourceEncryptionContext", "sourceEncryptionContext"),
    ("DestinationEncryptionContext", "destinationEncryptionContext"),
    ("PendingWindowInDays", "pendingWindowInDays"),
    ("Description", "description"),
    ("GranteePrincipal", "granteePrincipal"),
    ("RetiringPrincipal", "retiringPrincipal"),
    ("Operations", "operations"),
    ("Constraints", "constraints"),
    ("GrantId", "grantId"),
    ("Name", "name"),
    ("MultiRegion", "multiRegion"),
    ("ReplicaRegion", "replicaRegion"),
)
# AWS KMS API Reference, "Cross-account use: Yes" operations; every other operation works
# only on keys of the caller's own account.
_CROSS_ACCOUNT = frozenset(
    {
        "CreateGrant",
        "Decrypt",
        "DescribeKey",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "ReEncrypt",
        "RetireGrant",
        "RevokeGrant",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)
_LOCKOUT = "The new key policy will not allow you to update the key policy in the future."


class KmsFidelity:
    """Serves KMS calls with AWS's rules on top of moto (see the module docstring)."""

    def __init__(
        self, moto_app: WsgiApp, index: KeyIndex, trail: EventLog, faults: FaultSet
    ) -> None:
        self._app = moto_app
        self._index = index
        self._trail = trail
        self._faults = faults

    def handle(self, call: Call, caller: Caller) -> Response:
        """Serve one KMS call by ``caller`` and record it.

        Returns:
            The response (success or AWS error in JSON 1.1 form), with ``x-amzn-RequestId``.

        Raises:
            DropConnection: if a reset fault hits.
        """
        keys: list[KeyRef] = []
        params: dict[str, Any] = {}
        error: AwsError | None = None
        try:
            params = call.json_body()
            response = self._serve(call, caller, params, keys)
            if response.status >= 400:
                body = response.json() or {}
                error = AwsError(
                    str(body.get("__type", "InternalFailure")).split("#")[-1],
                    str(body.get("message", "")),
                    response.status,
                )
        except AwsError as exc:
            error = exc
            response = json_response(
                {"__type": exc.code, "message": exc.message}, call.request_id, exc.status
            )
        response.set_header("x-amzn-RequestId", call.request_id)
        self._record(call, caller, params, keys, error)
        return response

    def _serve(
        self, call: Call, caller: Caller, params: dict[str, Any], keys: list[KeyRef]
    ) -> Response:
        operation = call.operation
        if operation == "CreateKey":
            return self._create_key(call, caller, params, keys)
        if operation == "ReEncrypt":
            return self._re_encrypt(call, caller, params, keys)
        if operation == "RetireGrant":
            self._faults.inject("kms", operation, caller.account, call.region)
            keys.extend(retire_grant(self._index, caller, call.region, params))
            return json_response({}, call.request_id)
        name = "TargetKeyId" if operation in _ALIAS_OPERATIONS else "KeyId"
        if operation == "Decrypt":
            ref = self._decrypt_key(call, caller, params)
        elif name in params:
            ref = self._index.locate(params[name], caller.account, call.region)
        else:
            self._faults.inject("kms", operation, caller.account, call.region)
            return self._forward(call, params, caller.account, call.region)
        keys.append(ref)
        if ref.account != caller.account and operation not in _CROSS_ACCOUNT:
            # served in the caller's own account, where that key does not exist
            raise AwsError("NotFoundException", f"Key '{ref.arn}' does not exist")
        self._faults.inject("kms", operation, caller.account, call.region)
        extra = create_grant_context(params) if operation == "CreateGrant" else None
        check_grant_tokens(params, ref)
        self._authorize(caller, f"kms:{operation}", ref, params.get("EncryptionContext"), extra)
        check_state(operation, ref)
        if operation == "PutKeyPolicy":
            self._check_new_policy(caller, params, ref.arn)
        if operation == "ScheduleKeyDeletion":
            check_window(params)
        if operation == "Decrypt" and ref.key.multi_region:  # moto cannot: see kms_ops
            return self._decrypt_here(call, params, ref)
        if operation == "ReplicateKey":
            check_replicate(self._index, ref, params)
            if params.get("Policy") is not None:
                region = str(params["ReplicaRegion"])
                self._check_new_policy(caller, params, ref.arn.replace(ref.region, region, 1))
        # moto wants the bare id; the event records the KeyId as the caller sent it (as AWS).
        forwarded = {**params, name: ref.key.id} if name in params else params
        response = self._forward(call, forwarded, ref.account, ref.region)
        if operation == "ReplicateKey":
            return finish_replicate(ref, params, response)
        return fix_lifecycle_answer(operation, response, ref)

    def _decrypt_here(self, call: Call, params: dict[str, Any], ref: KeyRef) -> Response:
        _, raw = ciphertext_key(self._index, params.get("CiphertextBlob"), call.region)
        plaintext = decrypt_blob(ref, raw, params.get("EncryptionContext") or {})
        answer = {
            "KeyId": ref.arn,
            "Plaintext": base64.b64encode(plaintext).decode(),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }
        return json_response(answer, call.request_id)

    def _decrypt_key(self, call: Call, caller: Caller, params: dict[str, Any]) -> KeyRef:
        ref, _ = ciphertext_key(self._index, params.get("CiphertextBlob"), call.region)
        if "KeyId" in params:
            named = self._index.locate(params["KeyId"], caller.account, call.region)
            if named.key.id != ref.key.id:
                raise AwsError(
                    "IncorrectKeyException",
                    "The key ID in the request does not "
                    "identify a KMS key that can perform this operation.",
                )
        return ref

    def _forward(self, call: Call, params: dict[str, Any], account: str, region: str) -> Response:
        call.replace_body(json.dumps(params).encode())
        call.serve_as(account, region)
        return call_app(self._app, call.environ)

    def _create_key(
        self, call: Call, caller: Caller, params: dict[str, Any], keys: list[KeyRef]
    ) -> Response:
        if params.get("Policy") is not None:
            arn = f"arn:aws:kms:{call.region}:{caller.account}:key/new-key"
            self._check_new_policy(caller, params, arn)
        self._faults.inject("kms", "CreateKey", caller.account, call.region)
        # AWS defaults KeyUsage to ENCRYPT_DECRYPT and always reports it; moto 5.2.5 omits it
        # from KeyMetadata unless the request named it (docs/local-aws.md).
        if params.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":
            params.setdefault("KeyUsage", "ENCRYPT_DECRYPT")
        response = normalize_mrk_id(
            caller.account, call.region, self._forward(call, params, caller.account, call.region)
        )
        metadata = (response.json() or {}).get("KeyMetadata") if response.status == 200 else None
        if metadata:
            self._index.add(metadata["KeyId"], caller.account, call.region)
            found = self._index.find(metadata["KeyId"])
            keys.extend([found] if found else [])
        return response

    def _re_encrypt(
        self, call: Call, caller: Caller, params: dict[str, Any], keys: list[KeyRef]
    ) -> Response:
        source, raw = ciphertext_key(self._index, params.get("CiphertextBlob"), call.region)
        if "SourceKeyId" in params:
            named = self._index.locate(params["SourceKeyId"], caller.account, call.region)
            if named.key.id != source.key.id:
                raise AwsError(
                    "IncorrectKeyException",
                    "The source key ID in the request does "
                    "not identify the KMS key used to encrypt the ciphertext.",
                )
        target = self._index.locate(params.get("DestinationKeyId", ""), caller.account, call.region)
        keys.extend([source, target])
        self._faults.inject("kms", "ReEncrypt", caller.account, call.region)
        source_context = params.get("SourceEncryptionContext") or {}
        target_context = params.get("DestinationEncryptionContext") or {}
        self._authorize(caller, "kms:ReEncryptFrom", source, source_context)
        self._authorize(caller, "kms:ReEncryptTo", target, target_context)
        check_state("ReEncrypt", source)
        check_state("ReEncrypt", target)
        answer = re_encrypt_blob(raw, source, source_context, target, target_context)
        return json_response(answer, call.request_id)

    def _authorize(
        self,
        caller: Caller,
        action: str,
        ref: KeyRef,
        encryption_context: Any,
        extra: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        """Raise AccessDeniedException unless key policy, IAM policies and grants allow."""
        context: dict[str, str | list[str]] = {"kms:CallerAccount": caller.account, **(extra or {})}
        if isinstance(encryption_context, Mapping) and encryption_context:
            context.update(
                {f"kms:EncryptionContext:{k}": str(v) for k, v in encryption_context.items()}
            )
            context["kms:EncryptionContextKeys"] = [str(k) for k in encryption_context]
        try:
            key_policy = parsed_policy(ref.key.policy, resource_policy=True)
            identity = [parsed_policy(t, resource_policy=False) for t in identity_policies(caller)]
            request = Request(caller.principal_arns, caller.account, action, ref.arn, context)
            decision = kms_authorize(
                key_policy, identity, request, key_account=ref.account, grants=grants_of(ref)
            )
        except InvalidInput as exc:
            raise AwsError(
                "AccessDeniedException",
                f"User: {caller.arn} is not authorized to "
                f"perform: {action} on resource: {ref.arn} ({exc.message})",
            ) from exc
        if decision.allowed:
            return
        key_decision = evaluate(key_policy, request, resource_policy=True)
        identity_decisions = [evaluate(p, request, resource_policy=False) for p in identity]
        if key_decision is Decision.EXPLICIT_DENY:
            why = "with an explicit deny in a resource-based policy"
        elif Decision.EXPLICIT_DENY in identity_decisions:
            why = "with an explicit deny in an identity-based policy"
        elif key_decision is Decision.IMPLICIT_DENY:
            why = f"because no resource-based policy allows the {action} action"
        else:
            why = f"because no identity-based policy allows the {action} action"
        raise AwsError(
            "AccessDeniedException",
            f"User: {caller.arn} is not authorized to "
            f"perform: {action} on resource: {ref.arn} {why}",
        )

    def _check_new_policy(self, caller: Caller, params: dict[str, Any], key_arn: str) -> None:
        """Validate a key policy being set; apply AWS's policy lockout safety check."""
        text = params.get("Policy")
        if not isinstance(text, str):
            raise AwsError("MalformedPolicyDocumentException", "The policy must be a string.")
        try:
            policy = parsed_policy(text, resource_policy=True)
        except InvalidInput as exc:
            raise AwsError("MalformedPolicyDocumentException", exc.message) from exc
        if params.get("BypassPolicyLockoutSafetyCheck") is True:
            return
        identity = [parsed_policy(t, resource_policy=False) for t in identity_policies(caller)]
        request = Request(
            caller.principal_arns,
            caller.account,
            "kms:PutKeyPolicy",
            key_arn,
            {"kms:CallerAccount": caller.account},
        )
        owner = key_arn.split(":")[4]
        if not kms_authorize(policy, identity, request, key_account=owner).allowed:
            raise AwsError("MalformedPolicyDocumentException", _LOCKOUT)

    def _record(
        self,
        call: Call,
        caller: Caller,
        params: dict[str, Any],
        keys: list[KeyRef],
        error: AwsError | None,
    ) -> None:
        parameters = {new: params[old] for old, new in _PARAMETERS if old in params}
        if call.operation in ("Encrypt", "Decrypt", "ReEncrypt"):
            parameters.setdefault("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
        unique = {k.arn: k for k in keys}
        self._trail.record(
            caller=caller,
            source="kms.amazonaws.com",
            name=call.operation,
            region=keys[0].region if keys else call.region,
            request_id=call.request_id,
            owners=[k.account for k in unique.values()],
            resources=[k.resource() for k in unique.values()],
            parameters=parameters or None,
            error=error,
            read_only=call.operation.startswith(_READ_ONLY_PREFIXES),
            user_agent=call.environ.get("HTTP_USER_AGENT", ""),
            source_ip=call.environ.get("REMOTE_ADDR", "127.0.0.1"),
        )
