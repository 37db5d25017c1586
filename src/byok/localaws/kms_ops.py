"""KMS operations the fidelity layer serves (or fixes) itself: ReEncrypt across owners,
multi-Region keys, deletion answers (docs/local-aws.md).

Multi-Region keys (AWS KMS Developer Guide, "Multi-Region keys"): related keys share a key id
(``mrk-...``) and key material in several Regions, each with its own key policy, grants and
state; ciphertext made under one decrypts under any related key, and KMS uses the related key
in the Region the Decrypt call is made in. moto 5.2.5 makes ``mrk-`` ids of 40 characters
(``mrk-`` and a dashed UUID; AWS: ``mrk-`` and 32 hex digits), writes only the first 36 of them
into its ciphertext (so it cannot decrypt its own MRK ciphertext), and its ReplicateKey shares
grants and the multi-Region configuration between the primary and the replica. Here:

* :func:`normalize_mrk_id` renames each new multi-Region key to AWS's id format (which fits
  moto's ciphertext header whole);
* :func:`ciphertext_key` resolves an ``mrk-`` id (a truncated one too) to the related key of
  the call's Region (none there: the ciphertext's key "does not exist in this region");
* :func:`decrypt_blob` decrypts with the located key's material whatever the id in the blob;
* :func:`check_replicate` / :func:`finish_replicate` validate ReplicateKey (a multi-Region
  primary, another Region, no replica there yet, a valid ``Policy``) and give the replica its
  own grants, policy and ``REPLICA`` configuration.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from byok.localaws.kms_keys import KeyIndex, KeyRef, ciphertext_bytes, kms_backend
from byok.localaws.wire import AwsError, Response

__all__ = [
    "check_replicate",
    "check_window",
    "ciphertext_key",
    "decrypt_blob",
    "finish_replicate",
    "fix_lifecycle_answer",
    "normalize_mrk_id",
    "re_encrypt_blob",
]

_MRK = "mrk-"
_KEY_ID_LEN = 36
_NOT_HERE = (
    "The ciphertext refers to a customer master key that does not exist, does not exist in "
    "this region, or you are not allowed to access."
)


def ciphertext_key(index: KeyIndex, blob: Any, region: str) -> tuple[KeyRef, bytes]:
    """The key a ciphertext was made under (for an MRK: the related key in ``region``).

    Raises:
        AwsError: InvalidCiphertextException, or AccessDeniedException if the key (or, for an
            MRK, a related key in ``region``) does not exist.
    """
    raw = ciphertext_bytes(blob)
    named = raw[:_KEY_ID_LEN].decode("ascii", "replace")
    if not named.startswith(_MRK):
        return index.locate_ciphertext(blob)
    related = [r for r in index.all_keys() if r.key.id.startswith(named) and r.region == region]
    if len({r.key.id for r in related}) != 1:  # none here (or an ambiguous truncated id)
        raise AwsError("AccessDeniedException", _NOT_HERE)
    return related[0], raw


def normalize_mrk_id(account: str, region: str, response: Response) -> Response:
    """Rename a key CreateKey just made with a moto-style ``mrk-`` id to AWS's format."""
    body: dict[str, Any] = (response.json() or {}) if response.status == 200 else {}
    meta = body.get("KeyMetadata") or {}
    old = str(meta.get("KeyId", ""))
    if not old.startswith(_MRK) or len(old) == _KEY_ID_LEN:
        return response
    new = _MRK + old[len(_MRK) :].replace("-", "")
    backend = kms_backend(account, region)
    key = backend.keys.pop(old)
    key.id, key.arn = new, key.arn.replace(old, new)
    key.multi_region_configuration["PrimaryKey"]["Arn"] = key.arn
    backend.keys[new] = key
    tags = backend.tagger.list_tags_for_resource(old).get("Tags") or []
    if tags:
        backend.tagger.tag_resource(new, tags)
        backend.tagger.delete_all_tags_for_resource(old)
    body["KeyMetadata"] = key.to_dict()["KeyMetadata"]
    response.body = json.dumps(body).encode()
    return response


def decrypt_blob(ref: KeyRef, raw: bytes, context: dict[str, str]) -> bytes:
    """Decrypt moto's ciphertext ``raw`` with ``ref``'s key material.

    Raises:
        AwsError: InvalidCiphertextException (wrong context, tampered blob, other key).
    """
    from moto.kms.utils import decrypt

    named = raw[:_KEY_ID_LEN].decode("ascii", "replace")
    if not ref.key.id.startswith(named):
        raise AwsError("InvalidCiphertextException", "The ciphertext is invalid.")
    try:
        plaintext, _ = decrypt({named: ref.key}, raw, context)
    except Exception as exc:  # moto's InvalidCiphertextException and friends
        raise AwsError("InvalidCiphertextException", "The ciphertext is invalid.") from exc
    return bytes(plaintext)


def re_encrypt_blob(
    raw: bytes,
    source: KeyRef,
    source_context: dict[str, str],
    target: KeyRef,
    target_context: dict[str, str],
) -> dict[str, Any]:
    """Decrypt with the source key, encrypt under the target owner's backend.

    moto's own ReEncrypt serves one account only; a tenant moving to a key of another
    account (or region) needs the two owners' backends.
    """
    plaintext = decrypt_blob(source, raw, source_context)
    try:
        blob, target_arn = kms_backend(target.account, target.region).encrypt(
            key_id=target.key.id, plaintext=plaintext, encryption_context=target_context
        )
    except Exception as exc:  # moto's JsonRESTError family carries error_type and message
        code = getattr(exc, "error_type", None)
        if code is None:
            raise
        raise AwsError(str(code), str(getattr(exc, "message", ""))) from exc
    return {
        "CiphertextBlob": base64.b64encode(blob).decode(),
        "SourceKeyId": source.arn,
        "KeyId": target_arn,
        "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }


def check_replicate(index: KeyIndex, ref: KeyRef, params: dict[str, Any]) -> None:
    """Refuse a ReplicateKey AWS refuses.

    Raises:
        AwsError: UnsupportedOperationException (not a multi-Region primary),
            ValidationException (same Region, no Region), AlreadyExistsException.
    """
    config = getattr(ref.key, "multi_region_configuration", None)
    if not ref.key.multi_region or config is None or config["PrimaryKey"]["Arn"] != ref.arn:
        raise AwsError(
            "UnsupportedOperationException",
            f"{ref.arn} is not a multi-Region primary key.",
        )
    target = params.get("ReplicaRegion")
    if not isinstance(target, str) or not target or target == ref.region:
        raise AwsError("ValidationException", "ReplicaRegion must be another Region.")
    if any(r.key.id == ref.key.id and r.region == target for r in index.all_keys()):
        raise AwsError(
            "AlreadyExistsException",
            f"Replica key {ref.key.id} already exists in {target}.",
        )


def finish_replicate(ref: KeyRef, params: dict[str, Any], response: Response) -> Response:
    """Give the new replica its own grants, policy and configuration; answer its policy."""
    if response.status != 200:
        return response
    target = str(params["ReplicaRegion"])
    replica = kms_backend(ref.account, target).keys[ref.key.id]
    primary_config = copy.deepcopy(ref.key.multi_region_configuration)
    primary_config["MultiRegionKeyType"] = "PRIMARY"
    ref.key.multi_region_configuration = primary_config
    replica.multi_region_configuration = dict(
        copy.deepcopy(primary_config), MultiRegionKeyType="REPLICA"
    )
    replica.grants = {}
    replica.key_state, replica.enabled = "Enabled", True
    if isinstance(params.get("Policy"), str):
        replica.policy = params["Policy"]
    body = response.json() or {}
    body["ReplicaPolicy"] = replica.policy
    body["ReplicaKeyMetadata"] = replica.to_dict()["KeyMetadata"]
    response.body = json.dumps(body).encode()
    return response


def check_window(params: dict[str, Any]) -> None:
    days = params.get("PendingWindowInDays", 30)
    if not isinstance(days, int) or not 7 <= days <= 30:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{days}' at "
            "'pendingWindowInDays' failed to satisfy constraint: Member must have "
            "value between 7 and 30",
        )


def fix_lifecycle_answer(operation: str, response: Response, ref: KeyRef) -> Response:
    """moto answers deletion calls with the bare id; AWS with the key ARN and the state."""
    if operation not in ("ScheduleKeyDeletion", "CancelKeyDeletion") or response.status != 200:
        return response
    body = response.json() or {}
    body["KeyId"] = ref.arn
    if operation == "ScheduleKeyDeletion":
        body["KeyState"] = "PendingDeletion"
    response.body = json.dumps(body).encode()
    return response
