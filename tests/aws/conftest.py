"""Fixtures for the Option A / Option B tests (the world itself is in ``aws_world``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_world import (
    Access,
    Customer,
    MakeAccess,
    Vendor,
    make_customer,
    make_vendor,
    vendor_settings,
)

from byok.aws.access import KeyAccessProvider
from byok.aws.clients import ClientFactory
from byok.aws.credentials import Clock, utc_now


@pytest.fixture(scope="module")
def vendor(local_aws: Any) -> Vendor:
    return make_vendor(local_aws)


@pytest.fixture
def customer(local_aws: Any, vendor: Vendor) -> Customer:
    return make_customer(local_aws, vendor)


@pytest.fixture
def make_access(local_aws: Any, vendor: Vendor) -> Iterator[MakeAccess]:
    def make(
        clock: Clock = utc_now, max_credential_age_s: float | None = None, **kw: Any
    ) -> Access:
        factory = ClientFactory(vendor_settings(local_aws, vendor, **kw))
        purged: list[str] = []
        provider = KeyAccessProvider(
            factory,
            on_access_lost=purged.append,
            clock=clock,
            max_credential_age_s=max_credential_age_s,
        )
        return Access(factory, provider, purged)

    yield make
    local_aws.clear_faults()
