"""Each module of the customer toolkit exports exactly its public names."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "activity",
    "audit",
    "aws",
    "checks",
    "grant_checks",
    "plan",
    "setup",
]  # views: byok.cli.customer_views


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_and_public_functions_are_listed(name: str) -> None:
    module = importlib.import_module(f"byok.customer.{name}")
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    own = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and callable(v) and getattr(v, "__module__", "") == module.__name__
    }
    assert own <= exported, own - exported
