"""Fixtures of the customer-toolkit tests: one vendor per module, a fresh customer per test."""

from __future__ import annotations

from typing import Any

import pytest
from customer_world import Vendor, customer_aws, make_vendor

from byok.customer.aws import CustomerAws


@pytest.fixture(scope="module")
def vendor(local_aws: Any) -> Vendor:
    return make_vendor(local_aws)


@pytest.fixture
def account(local_aws: Any) -> str:
    return str(local_aws.new_account())


@pytest.fixture
def aws(local_aws: Any, account: str) -> CustomerAws:
    return customer_aws(local_aws, account)
