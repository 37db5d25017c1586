"""Fixtures of the real-AWS suite: one backend per module, three ways to get it.

``backend`` is parametrised:

* ``local``: :class:`LocalBackend` on the session's local AWS (marked ``localaws``; runs in
  ``make test``);
* ``rehearsal``: the :class:`RealBackend` code itself (profiles, config files, clean-up),
  given two profiles whose ``endpoint_url`` is the local AWS (marked ``localaws``; runs in
  ``make test``), so the real backend is never dead code;
* ``real``: :class:`RealBackend` on ``BYOK_AWS_CUSTOMER_PROFILE`` / ``BYOK_AWS_VENDOR_PROFILE``
  (marked ``aws``; tests/conftest.py skips it, with the reason, when they are unset).

The fixture is module-scoped so one run makes at most two KMS keys, and so ``RealBackend``
restores the real AWS config files only while its own tests run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from realaws_backends import (
    Backend,
    LocalBackend,
    RealAwsConfig,
    RealBackend,
    rehearsal_config,
)

from byok.service.vendor import Vendor

BACKENDS = [
    pytest.param("local", marks=pytest.mark.localaws),
    pytest.param("rehearsal", marks=pytest.mark.localaws),
    pytest.param("real", marks=pytest.mark.aws),
]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """An open backend; everything it created is cleaned up when the module's tests end."""
    if request.param == "local":
        made: Backend = LocalBackend(request.getfixturevalue("local_aws"))
    elif request.param == "rehearsal":
        folder = tmp_path_factory.mktemp("aws-profiles")
        made = RealBackend(rehearsal_config(request.getfixturevalue("local_aws"), folder))
    else:
        made = RealBackend(RealAwsConfig.from_env())
    with made:
        yield made


@pytest.fixture
def vendor(backend: Backend, tmp_path: Path) -> Iterator[Vendor]:
    """A fresh vendor service (its own database) on the module's backend."""
    service = backend.new_vendor(tmp_path)
    yield service
    service.store.close()
