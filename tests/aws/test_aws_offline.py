"""Factory, provider and wrapper behaviour that needs no AWS at all (nothing listens).

The endpoint is a closed loopback port: requests that would be sent fail fast with a
connection error, which is itself one of the cases under test.
"""

from __future__ import annotations

import pytest

from byok import __version__
from byok.aws.access import KeyAccessProvider
from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import ConfigurationError, InvalidInput, KmsUnavailable

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/byok-client-role"
CLOSED = "http://127.0.0.1:9"


def _factory(**kw: object) -> ClientFactory:
    settings = AwsSettings(
        endpoint_url=CLOSED,
        base_credentials=StaticCredentials("AKIDEXAMPLE", "not-a-real-secret"),
        connect_timeout_s=0.5,
        **kw,  # type: ignore[arg-type]
    )
    return ClientFactory(settings)


def test_settings_validate_and_carry_user_agent_and_retries() -> None:
    config = AwsSettings().botocore_config()
    assert getattr(config, "retries") == {"total_max_attempts": 4, "mode": "adaptive"}  # noqa: B009
    assert getattr(config, "user_agent_extra") == f"byok/{__version__}"  # noqa: B009
    with pytest.raises(InvalidInput):
        AwsSettings(max_attempts=0)
    with pytest.raises(InvalidInput):
        AwsSettings(read_timeout_s=0)
    with pytest.raises(InvalidInput):
        AwsSettings(document_storage_role_arn="document-storage-role")


def test_secrets_not_in_settings_repr() -> None:
    settings = AwsSettings(base_credentials=StaticCredentials("AKIDEXAMPLE", "s3cr3t", "t0k3n"))
    assert "s3cr3t" not in repr(settings) and "t0k3n" not in repr(settings)


def test_unreachable_endpoint_is_unavailable_after_bounded_attempts() -> None:
    factory = _factory(max_attempts=3)
    wrapper = KeyAccessProvider(factory).wrapper_for(TenantKeyConfig("acme", "direct", KEY))
    with pytest.raises(KmsUnavailable) as exc:
        wrapper.generate_data_key({"tenant": "acme"})
    assert exc.value.tenant == "acme" and exc.value.operation == "kms:GenerateDataKey"
    assert factory.counts() == {"kms:GenerateDataKey": 1}
    assert factory.counter.attempts() == {"kms:GenerateDataKey": 3}
    factory.counter.reset()
    assert factory.counts() == {}


def test_chained_credentials_are_deferred_and_sts_failure_is_typed() -> None:
    factory = _factory(
        max_attempts=2, document_storage_role_arn="arn:aws:iam::444455556666:role/dsr"
    )
    purged: list[str] = []
    provider = KeyAccessProvider(factory, on_access_lost=purged.append)
    config = TenantKeyConfig(
        "acme", "assume-role", KEY, client_role_arn=ROLE, external_id="byok-x1"
    )
    wrapper = provider.wrapper_for(config)
    assert factory.counts() == {}  # building clients and credentials called nothing
    with pytest.raises(KmsUnavailable) as exc:
        wrapper.generate_data_key({"tenant": "acme"})
    assert exc.value.operation == "sts:AssumeRole"
    assert exc.value.tenant == "acme" and "tenant 'acme'" in str(exc.value)
    # Calls: KMS, the client-role AssumeRole and the vendor-role AssumeRole. Only the last
    # was sent (twice: bounded attempts); each earlier one waited for the next hop's
    # credentials in order to sign, and never went out.
    assert factory.counts() == {"kms:GenerateDataKey": 1, "sts:AssumeRole": 2}
    assert factory.counter.attempts() == {"sts:AssumeRole": 2}
    assert purged == []  # unreachable is not "no access"


def test_invalid_parameters_never_echo_values() -> None:
    wrapper = KeyAccessProvider(_factory()).wrapper_for(TenantKeyConfig("acme", "direct", KEY))
    secret_number = 98765432109876543210  # a wrong type: botocore's message quotes it
    with pytest.raises(ConfigurationError) as exc:
        wrapper.encrypt(secret_number, {"tenant": "acme"})  # type: ignore[arg-type]
    assert str(secret_number) not in str(exc.value)
    assert exc.value.__cause__ is None and exc.value.__context__ is None


def test_provider_caches_per_version_and_enforces_allowed_regions() -> None:
    provider = KeyAccessProvider(_factory(), allowed_regions=("us-east-1",))
    first = provider.wrapper_for(TenantKeyConfig("acme", "direct", KEY))
    assert provider.wrapper_for(TenantKeyConfig("acme", "direct", KEY)) is first
    assert provider.wrapper_for(TenantKeyConfig("acme", "direct", KEY, version=2)) is not first
    provider.invalidate("acme")
    assert provider.wrapper_for(TenantKeyConfig("acme", "direct", KEY, version=2)) is not first
    west = KEY.replace("us-east-1", "eu-west-1")
    with pytest.raises(InvalidInput) as exc:
        provider.wrapper_for(TenantKeyConfig("acme", "direct", west))
    assert exc.value.field == "key_arn"


def test_wrapper_repr_names_no_secret() -> None:
    wrapper = KeyAccessProvider(_factory()).wrapper_for(TenantKeyConfig("acme", "direct", KEY))
    assert repr(wrapper) == f"KmsKeyWrapper(tenant='acme', key_arn='{KEY}')"
