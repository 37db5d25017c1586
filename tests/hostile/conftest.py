"""The hostile-client suite's world: the real app over a real Vendor and local AWS, served
by the real server configuration (``byok.api.server.server_config``) on a loopback port.

Timeouts and bounds are shortened (1 s head and body timeouts, 2 uploads per token, 3 per
tenant) so the suite stays fast; everything else is what ``byok serve`` runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hostile_client import LIMITS, SERVER, Served

from api.api_world import make_world
from byok.api.server import BackgroundServer


@pytest.fixture(scope="module")
def served(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Tenants ``acme`` and ``globex`` onboarded, served over 127.0.0.1."""
    folder = tmp_path_factory.mktemp("hostile")
    world = make_world(
        local_aws, f"sqlite:///{folder / 'byok.db'}", folder / "blobs", limits=LIMITS
    )
    with world.client, BackgroundServer(world.client.app, limits=SERVER) as server:
        yield Served(
            world, server.host, server.port, f"sqlite:///{folder / 'byok.db'}", folder / "blobs"
        )
    world.vendor.store.close()
