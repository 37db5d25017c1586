"""``AWS::IAM::RolePolicy`` for moto's CloudFormation (moto 5.2.5 has none).

Imported only inside the local AWS's server process (it imports moto), by
:func:`byok.localaws.cloudformation.install`.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.iam.models import iam_backends

__all__ = ["RolePolicy", "register"]

_PARTITION = "aws"


def register() -> None:
    """Nothing to do beyond importing this module: defining the subclass registers it."""


class RolePolicy(CloudFormationModel):
    """An inline policy of a role, put on create and removed on delete."""

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
        from byok.localaws.cloudformation import without_no_value

        properties = cloudformation_json["Properties"]
        document = properties["PolicyDocument"]
        if not isinstance(document, str):
            document = json.dumps(without_no_value(document))
        backend = iam_backends[account_id][_PARTITION]
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
        backend = iam_backends[account_id][_PARTITION]
        backend.delete_role_policy(original_resource.role_name, original_resource.policy_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        properties = cloudformation_json["Properties"]
        backend = iam_backends[account_id][_PARTITION]
        backend.delete_role_policy(properties["RoleName"], properties["PolicyName"])

    def is_created(self) -> bool:
        return True
