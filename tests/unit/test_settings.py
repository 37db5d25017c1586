"""``BYOK_PUBLIC_URL``: the address printed to customers must be one their AWS can call."""

from __future__ import annotations

import pytest

from byok.errors import InvalidInput
from byok.settings import Settings


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("https://byok.vendor.example", "https://byok.vendor.example"),
        ("https://byok.vendor.example/", "https://byok.vendor.example"),
        ("HTTPS://byok.vendor.example:8443/api/", "https://byok.vendor.example:8443/api"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.3.2.1", "http://127.3.2.1"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_https_anywhere_and_http_on_loopback_are_accepted(raw: str, stored: str) -> None:
    assert Settings.from_env({"BYOK_PUBLIC_URL": raw}).public_url == stored


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("http://byok.vendor.example", "loopback only"),
        ("http://10.0.0.5:8080", "loopback only"),
        ("http://localhost.evil.example", "loopback only"),
        ("ftp://byok.vendor.example", "https://"),
        ("byok.vendor.example", "https://"),
        ("https://", "https://"),
        ("https://user:pass@byok.vendor.example", "user name"),
        ("https://byok.vendor.example/?tenant=x", "query"),
        ("https://byok.vendor.example/#x", "fragment"),
        ("https://byok.vendor.example:port", "not a URL"),
        ("https://byok.vendor.example/a b", "spaces"),
        ("https://byok.vendor.example/\x00", "spaces"),
        ("https://" + "a" * 1100 + ".example", "too long"),
    ],
)
def test_anything_else_is_refused_naming_the_setting(raw: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Settings.from_env({"BYOK_PUBLIC_URL": raw})
    assert refused.value.field == "BYOK_PUBLIC_URL"
    assert words in refused.value.message and "https://byok.vendor.example" in refused.value.fix


def test_unset_or_empty_means_none() -> None:
    assert Settings.from_env({}).public_url is None
    assert Settings.from_env({"BYOK_PUBLIC_URL": ""}).public_url is None
    with pytest.raises(InvalidInput):  # built directly, as tests and embedders do
        Settings(public_url="http://byok.vendor.example")
