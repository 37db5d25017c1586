"""Test-suite wide set-up.

* AWS variables are removed from the environment, so no test can reach real AWS by accident;
  tests that want AWS use the local AWS fixtures (``byok.localaws.pytest_plugin``).
* Tests marked ``aws`` (the opt-in real-AWS suite) run only when
  ``BYOK_AWS_CUSTOMER_PROFILE`` and ``BYOK_AWS_VENDOR_PROFILE`` name two AWS profiles;
  otherwise they are skipped with that reason.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["byok.localaws.pytest_plugin", "support.fixtures"]

_REAL_AWS_PROFILES = ("BYOK_AWS_CUSTOMER_PROFILE", "BYOK_AWS_VENDOR_PROFILE")
_SAVED = {k: os.environ[k] for k in _REAL_AWS_PROFILES if k in os.environ}
# The real-AWS suite reads the user's AWS files through BYOK_ names (docs/REAL-AWS.md).
for _name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    if os.environ.get(_name):
        os.environ.setdefault(f"BYOK_{_name}", os.environ[_name])
for _name in list(os.environ):
    if _name.startswith("AWS_"):
        del os.environ[_name]
# botocore must not find credentials or config files of the person running the tests.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [k for k in _REAL_AWS_PROFILES if k not in _SAVED]
    if not missing:
        return
    reason = (
        "real-AWS suite is opt-in: set " + " and ".join(missing) + " to two AWS profiles "
        "(customer account, vendor account) to run it"
    )
    for item in items:
        if item.get_closest_marker("aws") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
