"""STYLE.md guideline 1: the pure core imports no AWS SDK, database or web framework."""

from __future__ import annotations

import ast
from pathlib import Path

import byok
import byok.errors

CORE = Path(byok.__file__).parent / "core"
FORBIDDEN = (
    "boto3",
    "botocore",
    "sqlalchemy",
    "psycopg",
    "fastapi",
    "starlette",
    "moto",
    "typer",
    "click",
    "rich",
    "werkzeug",
    "byok.aws",
    "byok.store",
    "byok.localaws",
    "byok.service",
    "byok.api",
    "byok.cli",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_modules_import_nothing_impure() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert modules, "no core modules found"
    offenders = {
        str(path.relative_to(CORE)): sorted(
            name
            for name in _imports(path)
            if name.split(".")[0] in FORBIDDEN
            or any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        )
        for path in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_errors_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(byok.errors).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == "byok.errors"
    } | {"ERROR_TABLE"}
    assert set(byok.errors.__all__) == public


def test_every_error_class_has_a_mapping_and_a_fix() -> None:
    classes = [getattr(byok.errors, n) for n in byok.errors.__all__]
    errors = [c for c in classes if isinstance(c, type) and issubclass(c, byok.errors.ByokError)]
    assert set(errors) == set(byok.errors.ERROR_TABLE)
    for cls in errors:
        assert cls.default_fix and cls.default_fix.endswith(".")
