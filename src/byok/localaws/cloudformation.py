"""CloudFormation in the local AWS: moto's stacks, with KMS keys made as AWS makes them.

moto 5.2.5 deploys ``AWS::KMS::Key``, ``AWS::KMS::Alias``, ``AWS::IAM::Role`` and
``AWS::IAM::RolePolicy``, but its ``AWS::KMS::Key`` breaks on CloudFormation's tag shape
(``Key``/``Value``; KMS's API uses ``TagKey``/``TagValue``), stores ``KeyPolicy`` as a JSON
object instead of policy text, keeps ``{"Ref": "AWS::NoValue"}`` list entries, and ignores
``KeyUsage``, ``KeySpec`` and ``MultiRegion``. :func:`install` wraps it so that the key gets
the policy text AWS would store (``AWS::NoValue`` entries removed), its tags, and a refusal of
properties it would otherwise silently drop (``MultiRegion: true``, another spec or usage).
moto has no ``AWS::IAM::RolePolicy`` at all (it skips the resource with a warning, so the role
would lack its permissions): :func:`install` adds it (put / delete the inline policy).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["install", "key_resource", "without_no_value"]

_NO_VALUE = {"Ref": "AWS::NoValue"}


def install() -> None:
    """Wrap moto's ``AWS::KMS::Key`` CloudFormation handler (idempotent)."""
    from moto.kms.models import Key

    current = Key.__dict__["create_from_cloudformation_json"]
    if getattr(current.__func__, "_byok", False):
        return
    original = current.__func__

    def create(cls: Any, /, *args: Any, **kw: Any) -> Any:
        name, template, account_id, region = args
        return original(cls, name, key_resource(template), account_id, region, **kw)

    create._byok = True  # type: ignore[attr-defined]
    Key.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
    _define_role_policy()


def key_resource(template: dict[str, Any]) -> dict[str, Any]:
    """The ``AWS::KMS::Key`` resource as moto can take it (see the module docstring).

    Raises:
        ValueError: a property moto would ignore is set to something other than its default.
    """
    properties = dict(template.get("Properties") or {})
    if properties.get("MultiRegion") not in (None, False, "false"):
        raise ValueError("AWS::KMS::Key MultiRegion: true is not supported by the local AWS")
    for name, default in (("KeySpec", "SYMMETRIC_DEFAULT"), ("KeyUsage", "ENCRYPT_DECRYPT")):
        if properties.get(name, default) != default:
            raise ValueError(f"AWS::KMS::Key {name} other than {default} is not supported")
    policy = properties.get("KeyPolicy")
    if not isinstance(policy, str):
        properties["KeyPolicy"] = json.dumps(without_no_value(policy))
    properties["Tags"] = [
        {"TagKey": str(t["Key"]), "TagValue": str(t["Value"])}
        for t in properties.get("Tags") or []
        if isinstance(t, dict) and "Key" in t
    ]
    return {**template, "Properties": properties}


def without_no_value(value: Any) -> Any:
    """Drop ``AWS::NoValue`` (moto resolves it to None, or leaves the Ref) from lists/objects."""
    if isinstance(value, list):
        return [without_no_value(v) for v in value if v is not None and v != _NO_VALUE]
    if isinstance(value, dict):
        return {
            k: without_no_value(v) for k, v in value.items() if v is not None and v != _NO_VALUE
        }
    return value


def _define_role_policy() -> None:
    """Register ``AWS::IAM::RolePolicy`` with moto's CloudFormation (importing the model module
    defines the subclass, which moto finds through ``CloudFormationModel.__subclasses__``)."""
    from byok.localaws import cfn_role_policy

    cfn_role_policy.register()
    _forget_model_caches()


def _forget_model_caches() -> None:
    """moto caches its model list (lru_cache): forget it so the new model is seen."""
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
