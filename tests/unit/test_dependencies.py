"""Dependency floors exclude releases with published advisories, and requirements.lock pins
exactly what the tests run with (finding 10 of issue 12)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

#: The last release with a published advisory, per package (docs/OPERATIONS.md#dependencies).
VULNERABLE = {
    "python-multipart": "0.0.31",  # GHSA-v9pg-7xvm-68hf and the 0.0.2x DoS advisories
    "starlette": "0.49.0",  # CVE-2025-62727 (Range header DoS), CVE-2024-47874
    "fastapi": "0.115.2",  # allowed starlette < 0.40
    "h11": "0.15.0",  # CVE-2025-43859
    "jinja2": "3.1.5",  # CVE-2025-27516
    "cryptography": "44.0.0",  # CVE-2024-12797
    "werkzeug": "3.0.5",  # CVE-2024-49767
}


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        found += [Requirement(r) for r in extra if not r.startswith("byok")]
    return {_name(r.name): r for r in found}


def _locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", (ROOT / "requirements.lock").read_text(),
                      re.M)  # fmt: skip
    return {_name(name): version for name, version in pins}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize(("package", "vulnerable"), sorted(VULNERABLE.items()))
def test_floors_exclude_releases_with_advisories(package: str, vulnerable: str) -> None:
    requirement = _requirements()[package]
    assert not requirement.specifier.contains(vulnerable), f"{package} allows {vulnerable}"


def test_the_lock_pins_every_dependency_within_its_floor() -> None:
    locked = _locked()
    for name, requirement in _requirements().items():
        if name in {"asherah", "py-spy"}:  # the bench extra: not installed by make test
            continue
        assert name in locked, f"{name} is not in requirements.lock (run scripts/lock.sh)"
        assert requirement.specifier.contains(locked[name], prereleases=True), name
    assert "byok" not in locked  # installed editable from the checkout
    for name, vulnerable in VULNERABLE.items():
        assert Version(locked[name]) > Version(vulnerable), name


def test_the_environment_is_the_locked_one() -> None:
    """What `make` installed (pip install -c requirements.lock) is what is locked."""
    different = {}
    for name, version in _locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            different[name] = "missing"
            continue
        if Version(installed) != Version(version):
            different[name] = installed
    assert different == {}, "run `make` (or pip install -c requirements.lock -e .[dev])"


def test_unused_multipart_parsing_is_only_the_consoles() -> None:
    """python-multipart stays only because the console parses forms (request.form())."""
    users = [p for p in (ROOT / "src" / "byok").rglob("*.py") if "request.form()" in p.read_text()]
    assert users and all("console" in p.parts for p in users)
