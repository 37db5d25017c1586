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

__all__ = ["install"]

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
        properties["KeyPolicy"] = json.dumps(_without_no_value(policy))
    properties["Tags"] = [
        {"TagKey": str(t["Key"]), "TagValue": str(t["Value"])}
        for t in properties.get("Tags") or []
        if isinstance(t, dict) and "Key" in t
    ]
    return {**template, "Properties": properties}


def _without_no_value(value: Any) -> Any:
    """Drop ``AWS::NoValue`` (moto resolves it to None, or leaves the Ref) from lists/objects."""
    if isinstance(value, list):
        return [_without_no_value(v) for v in value if v is not None and v != _NO_VALUE]
    if isinstance(value, dict):
        return {
            k: _without_no_value(v) for k, v in value.items() if v is not None and v != _NO_VALUE
        }
    return value


def _define_role_policy() -> None:
    """Register ``AWS::IAM::RolePolicy`` with moto's CloudFormation (a subclass registers)."""
    from moto.core.common_models import CloudFormationModel
    from moto.iam.models import iam_backends

    if any(
        m.cloudformation_type() == "AWS::IAM::RolePolicy"
        for m in CloudFormationModel.__subclasses__()
    ):
        return

    class RolePolicy(CloudFormationModel):
        def __init__(self, role_name: str, policy_name: str) -> None:
            self.role_name, self.policy_name = role_name, policy_name

        @property
        def physical_resource_id(self) -> str:
            return self.policy_name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "PolicyName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::IAM::RolePolicy"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> RolePolicy:
            properties = cloudformation_json["Properties"]
            document = properties["PolicyDocument"]
            if not isinstance(document, str):
                document = json.dumps(_without_no_value(document))
            backend = iam_backends[account_id]["aws"]
            backend.put_role_policy(properties["RoleName"], properties["PolicyName"], document)
            return cls(properties["RoleName"], properties["PolicyName"])

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> RolePolicy:
            cls.delete_from_cloudformation_json(
                "",
                {
                    "Properties": {
                        "RoleName": original_resource.role_name,
                        "PolicyName": original_resource.policy_name,
                    }
                },
                account_id,
                region_name,
            )
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            properties = cloudformation_json["Properties"]
            backend = iam_backends[account_id]["aws"]
            backend.delete_role_policy(properties["RoleName"], properties["PolicyName"])

        def is_created(self) -> bool:
            return True

    _forget_model_caches()


def _forget_model_caches() -> None:
    """moto caches its model list (lru_cache): forget it so the new model is seen."""
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
