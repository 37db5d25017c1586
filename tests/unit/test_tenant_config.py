"""TenantKeyConfig: a pure, validated value (no AWS)."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byok.core.tenant_config import (
    EXTERNAL_ID_PREFIX,
    TenantKeyConfig,
    ensure_external_id_unused,
    new_external_id,
    validate_external_id,
    validate_tenant_id,
)
from byok.errors import InvalidInput

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRK = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/byok-client-role"
EXT = "byok-0123456789abcdef"


def _field(exc: pytest.ExceptionInfo[InvalidInput]) -> str:
    return exc.value.field


def test_direct_config_exposes_region_and_account() -> None:
    config = TenantKeyConfig.create("acme", "direct", KEY)
    assert config.region == "us-east-1"
    assert config.key_account == "111122223333"
    assert config.client_role is None
    assert config.version == 1


def test_multi_region_key_arn_is_accepted() -> None:
    config = TenantKeyConfig.create("acme", "direct", MRK)
    assert config.key.multi_region


def test_assume_role_config_requires_role_and_external_id() -> None:
    config = TenantKeyConfig.create(
        "acme", "assume-role", KEY, client_role_arn=ROLE, external_id=EXT, version=3
    )
    assert config.client_role is not None
    assert config.client_role.name == "byok-client-role"
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.create("acme", "assume-role", KEY, external_id=EXT)
    assert _field(exc) == "client_role_arn"
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.create("acme", "assume-role", KEY, client_role_arn=ROLE)
    assert _field(exc) == "external_id"


def test_direct_mode_refuses_option_b_fields() -> None:
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.create("acme", "direct", KEY, client_role_arn=ROLE)
    assert _field(exc) == "client_role_arn"
    assert "assume-role" in exc.value.fix


@pytest.mark.parametrize(
    "bad",
    [
        "alias/byok",
        "arn:aws:kms:us-east-1:111122223333:alias/byok",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "",
        "arn:aws:kms:us-east-1:1111:key/x",
    ],
)
def test_alias_bare_id_and_junk_are_refused_with_key_arn_fix(bad: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.create("acme", "direct", bad)
    assert _field(exc) == "key_arn"
    assert "key ARN" in exc.value.fix


def test_region_outside_allow_list_is_refused_naming_allowed_regions() -> None:
    west = KEY.replace("us-east-1", "eu-west-1")
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.create("acme", "direct", west)
    assert _field(exc) == "key_arn"
    assert "eu-west-1" in exc.value.message and "us-east-1" in exc.value.fix
    config = TenantKeyConfig.create("acme", "direct", west, allowed_regions=("eu-west-1",))
    assert config.region == "eu-west-1"


@pytest.mark.parametrize("mode", ["Direct", "assume_role", "", "B"])
def test_unknown_mode_is_refused(mode: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.create("acme", mode, KEY)
    assert _field(exc) == "mode"


@pytest.mark.parametrize("version", [0, -1, True, "2"])
def test_version_must_be_positive_int(version: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig("acme", "direct", KEY, version=version)  # type: ignore[arg-type]
    assert _field(exc) == "version"


@pytest.mark.parametrize("tenant", ["", "-acme", "a b", "a" * 129, "ten/ant", None])
def test_bad_tenant_ids_are_refused(tenant: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_tenant_id(tenant)
    assert _field(exc) == "tenant"


@pytest.mark.parametrize("value", ["ab", "x" * 1224, "a+b=c,d.e@f:g/h-i_j", EXT, "ZZ:arn/aws"])
def test_external_id_valid_shapes(value: str) -> None:
    assert validate_external_id(value) == value


@pytest.mark.parametrize(
    "value", ["a", "x" * 1225, "has space", "semi;colon", "ünïcode", "new\nline", None, 12]
)
def test_external_id_invalid_shapes_never_echo_value(value: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_external_id(value)
    assert _field(exc) == "external_id"
    if isinstance(value, str) and len(value) > 2:
        assert value not in str(exc.value)


def test_new_external_id_is_prefixed_long_and_valid() -> None:
    values = {new_external_id() for _ in range(200)}
    assert len(values) == 200
    for value in values:
        assert value.startswith(EXTERNAL_ID_PREFIX)
        assert len(value) >= len(EXTERNAL_ID_PREFIX) + 43  # 256 bits, base64url
        assert validate_external_id(value) == value


def test_new_external_id_uses_injected_randomness_and_skips_taken() -> None:
    draws = iter(["first", "second"])
    taken = {EXTERNAL_ID_PREFIX + "first"}
    value = new_external_id(token=lambda _n: next(draws), is_taken=taken.__contains__)
    assert value == EXTERNAL_ID_PREFIX + "second"
    with pytest.raises(InvalidInput):
        new_external_id(token=lambda _n: "same", is_taken=lambda _v: True, attempts=3)


def test_external_id_reuse_across_tenants_is_refused_without_naming_owner() -> None:
    owners = {EXT: "globex"}
    ensure_external_id_unused(EXT, "globex", owners.get)
    ensure_external_id_unused("byok-unused", "acme", owners.get)
    with pytest.raises(InvalidInput) as exc:
        ensure_external_id_unused(EXT, "acme", owners.get)
    assert _field(exc) == "external_id"
    assert "globex" not in str(exc.value)


def test_external_id_not_in_repr() -> None:
    config = TenantKeyConfig.create(
        "acme", "assume-role", KEY, client_role_arn=ROLE, external_id=EXT
    )
    assert EXT not in repr(config)
    assert ROLE in repr(config)


def test_json_round_trip_both_modes() -> None:
    for config in (
        TenantKeyConfig.create("acme", "direct", MRK, version=2),
        TenantKeyConfig.create("acme", "assume-role", KEY, client_role_arn=ROLE, external_id=EXT),
    ):
        data = config.to_dict()
        assert data["region"] == "us-east-1"
        assert TenantKeyConfig.from_dict(data) == config


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"tenant": None}, "tenant"),
        ({"key_arn": 5}, "key_arn"),
        ({"region": "us-west-2"}, "region"),
        ({"version": "1"}, "version"),
        ({"mode": "assume-role"}, "client_role_arn"),
        ({"external_id": "!"}, "external_id"),
    ],
)
def test_from_dict_names_the_bad_field(patch: dict[str, object], field: str) -> None:
    data: dict[str, object] = {"tenant": "acme", "mode": "direct", "key_arn": KEY}
    data.update(patch)
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.from_dict(data)
    assert _field(exc) == field


def test_from_dict_missing_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        TenantKeyConfig.from_dict({"tenant": "acme", "mode": "direct"})
    assert _field(exc) == "key_arn"


_EXT_ALPHABET = string.ascii_letters + string.digits + "_+=,.@:/-"


@given(st.text(alphabet=_EXT_ALPHABET, min_size=2, max_size=64))
def test_any_aws_charset_external_id_round_trips(value: str) -> None:
    config = TenantKeyConfig.create(
        "acme", "assume-role", KEY, client_role_arn=ROLE, external_id=value
    )
    assert TenantKeyConfig.from_dict(config.to_dict()).external_id == value


@given(st.text(min_size=0, max_size=40))
def test_external_id_validator_matches_aws_rule(value: str) -> None:
    ok = re.fullmatch(r"[A-Za-z0-9_+=,.@:/-]{2,1224}", value) is not None
    try:
        validate_external_id(value)
    except InvalidInput:
        assert not ok
    else:
        assert ok
