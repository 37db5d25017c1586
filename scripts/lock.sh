#!/bin/sh
# Regenerate requirements.lock: the exact version of every package `make test` installs
# (pip-compile from pip-tools, resolving pyproject.toml's [dev] extra against PyPI).
# `make` installs with `pip install -c requirements.lock -e .[dev]`, so CI gets exactly the
# versions that were tested; after changing a dependency or floor in pyproject.toml, run
# this, run `make test`, and commit both files together.
set -eu
cd "$(dirname "$0")/.."
PIP_COMPILE="${PIP_COMPILE:-.venv/bin/pip-compile}"
if [ ! -x "$PIP_COMPILE" ]; then
    .venv/bin/python -m pip install --quiet pip-tools
fi
"$PIP_COMPILE" --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
    --extra dev --output-file requirements.lock pyproject.toml
# byok itself is installed editable from the checkout: drop its own path-specific pin.
sed -i '/^byok @ /,/^    # via byok (pyproject.toml)$/d' requirements.lock
