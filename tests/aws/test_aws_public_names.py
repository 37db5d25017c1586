"""Each byok.aws module's ``__all__`` lists exactly its public names (httpx style)."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

MODULES = [
    "byok.aws.access",
    "byok.aws.clients",
    "byok.aws.credentials",
    "byok.aws.errors",
    "byok.aws.kms",
    "byok.core.tenant_config",
]
# Module-level names that are implementation constants or aliases, not API.
NOT_API = {"USER_AGENT", "DEFAULT_ADVISORY_S", "DEFAULT_MANDATORY_S", "Refresher"}


def _defined_names(module: object) -> set[str]:
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")} - NOT_API


@pytest.mark.parametrize("name", MODULES)
def test_all_matches_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert set(module.__all__) == _defined_names(module)


def test_package_reexports_resolve() -> None:
    package = importlib.import_module("byok.aws")
    for name in package.__all__:
        assert getattr(package, name) is not None
