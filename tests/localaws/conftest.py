"""Shared helpers of the local AWS tests: fresh accounts per test, error codes."""

from __future__ import annotations

import pytest

from byok.localaws.testing import LocalAws


@pytest.fixture
def customer(local_aws: LocalAws) -> str:
    """A fresh account that owns keys (the customer)."""
    return local_aws.new_account()


@pytest.fixture
def vendor(local_aws: LocalAws) -> str:
    """A fresh account that uses the customer's keys (the vendor)."""
    return local_aws.new_account()


@pytest.fixture
def key_arn(local_aws: LocalAws, customer: str) -> str:
    """A symmetric key of ``customer`` with AWS's default key policy."""
    return local_aws.create_key(customer)
