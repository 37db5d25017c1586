"""byok's AWS edge: the client factory, refreshable credentials, Option A/B key access, KMS.

Nothing outside this package imports boto3 for KMS or STS. See docs/ACCESS.md.
"""

from __future__ import annotations

from byok.aws.access import KeyAccessProvider
from byok.aws.clients import AwsSettings, CallCounter, ClientFactory, StaticCredentials
from byok.aws.credentials import RefreshingCredentials, TemporaryCredentials, role_session_name
from byok.aws.kms import KeyDescription, KmsKeyWrapper

__all__ = [
    "AwsSettings",
    "CallCounter",
    "ClientFactory",
    "KeyAccessProvider",
    "KeyDescription",
    "KmsKeyWrapper",
    "RefreshingCredentials",
    "StaticCredentials",
    "TemporaryCredentials",
    "role_session_name",
]
