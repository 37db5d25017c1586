"""Fixtures for the console tests: a world per module (see ``console_world``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_world import ConsoleWorld, make_world


@pytest.fixture(scope="module")
def world(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    """A vendor with an operator token; tests add tenants."""
    built = make_world(local_aws, tmp_path_factory.mktemp("console"))
    yield built
    built.vendor.store.close()
