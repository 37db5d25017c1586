"""Key and role ARNs from customers are validated strictly, with a fix in every error."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byok.core.arn import parse_account_id, parse_key_arn, parse_role_arn
from byok.errors import InvalidInput

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRK = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"


def test_key_arn_parts() -> None:
    arn = parse_key_arn(KEY)
    assert (arn.partition, arn.region, arn.account) == ("aws", "us-east-1", "111122223333")
    assert arn.key_id == "1234abcd-12ab-34cd-56ef-1234567890ab"
    assert str(arn) == KEY and not arn.multi_region


def test_multi_region_key_arn() -> None:
    arn = parse_key_arn(MRK)
    assert arn.multi_region and arn.region == "eu-west-1"


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("alias/byok", "alias is not accepted"),
        ("arn:aws:kms:us-east-1:111122223333:alias/byok", "alias is not accepted"),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "bare key id"),
        ("arn:aws:kms:us-east-1:11112222333:key/" + KEY.rsplit("/", 1)[1], "12-digit"),
        ("arn:aws:kms:useast1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "region"),
        ("arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "not a KMS"),
        ("arn:aws:kms:us-east-1:111122223333:key/nothex", "resource"),
        (KEY.replace("arn:aws:", "arn:evil:"), "partition"),
        ("", "not a KMS key ARN"),
        (None, "not a KMS key ARN"),
        ("x" * 5000, "not a KMS key ARN"),
    ],
)
def test_bad_key_arns_name_the_field_and_the_fix(value: object, needle: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_key_arn(value, field="cmk_arn")
    assert caught.value.field == "cmk_arn"
    assert needle in str(caught.value)
    assert "full key ARN" in caught.value.fix
    assert len(str(caught.value)) < 400


def test_role_arn_with_path() -> None:
    role = parse_role_arn("arn:aws:iam::111122223333:role/byok/clients/acme-role")
    assert (role.account, role.path, role.name) == ("111122223333", "/byok/clients/", "acme-role")
    assert str(role) == "arn:aws:iam::111122223333:role/byok/clients/acme-role"


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam:us-east-1:111122223333:role/r",
        "arn:aws:iam::111122223333:role/",
        "arn:aws:iam::111122223333:role/bad name",
        "arn:aws:iam::1111:role/r",
        "arn:aws:sts::111122223333:assumed-role/r/s",
    ],
)
def test_bad_role_arns(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_role_arn(value)
    assert caught.value.field == "role_arn"


def test_account_ids() -> None:
    assert parse_account_id("000000000001") == "000000000001"
    for bad in ("12345678901", "1234567890123", "abcdefghijkl", 111122223333):
        with pytest.raises(InvalidInput):
            parse_account_id(bad)


@given(st.text(max_size=300))
def test_parsers_only_raise_invalid_input(value: str) -> None:
    for parse in (parse_key_arn, parse_role_arn, parse_account_id):
        with contextlib.suppress(InvalidInput):
            parse(value)


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " "])
def test_trailing_whitespace_is_refused(suffix: str) -> None:
    for parse, value in (
        (parse_key_arn, KEY),
        (parse_role_arn, "arn:aws:iam::111122223333:role/r"),
        (parse_account_id, "111122223333"),
    ):
        with pytest.raises(InvalidInput):
            parse(value + suffix)
