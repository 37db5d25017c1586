#!/usr/bin/env python3
"""CLI start-up benchmark (issue 17): how long ``byok`` takes before it does anything.

Each command runs as a fresh process, as an operator runs it. Measured in the same run, side by
side: the baselines ``python -c pass`` (the interpreter's own floor), ``python -c "import
typer"``, and the smallest Typer app's ``--help`` and one command (the CLI framework's floor: no
Typer CLI starts faster); then ``byok --version``, ``byok --help``, ``byok tenant --help`` and
``byok customer policy ...`` (prints the exact policies, no AWS): these are the *simple*
commands whose slowest median is ``cli_startup_ms`` (target < 500 ms). For scale: ``byok tenant
list --json`` (opens the store: SQLAlchemy, the service) and the import of the whole stack the
CLI used to load up front (``cli_eager_imports_ms``).

Uses ``hyperfine`` when it is installed (``-N``: no shell, warm-up runs, the median), else
repeated subprocess runs (the median). Figures merge into ``bench/results.json``:
``cli_startup_ms``, ``cli_help_ms``, ``cli_version_ms``, ``cli_policy_ms``,
``cli_tenant_list_ms``, ``cli_eager_imports_ms``, the baselines ``cli_python_pass_ms``,
``cli_import_typer_ms``, ``cli_typer_floor_help_ms`` and ``cli_typer_floor_command_ms`` (the
smallest Typer app, ``bench/_typer_floor.py``: Rich help and Typer's pydantic coercion of option
values are the framework's own cost), and ``cli_startup_vs_typer_floor`` (slowest simple command
over the slower floor). Usage: ``python bench/cli.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Row, print_table, verdict
from _results import merge

TARGET_MS = 500.0
PY = sys.executable
BYOK = shutil.which("byok", path=str(Path(PY).parent)) or shutil.which("byok")
EAGER = "import byok.service.runtime, byok.api.server, byok.customer.setup, byok.localaws.server"
POLICY = ("customer policy --mode direct --vendor-account 444455556666 --tenant acme "
          "--account 111122223333")  # fmt: skip


FLOOR = str(Path(__file__).resolve().with_name("_typer_floor.py"))


def commands() -> dict[str, list[str]]:
    """Figure name -> argv."""
    byok = [BYOK] if BYOK else [PY, "-c", "from byok.cli.main import main; main()"]
    return {
        "cli_python_pass_ms": [PY, "-c", "pass"],
        "cli_import_typer_ms": [PY, "-c", "import typer"],
        "cli_typer_floor_help_ms": [PY, FLOOR, "--help"],
        "cli_typer_floor_command_ms": [PY, FLOOR, "hello", "--name", "acme"],
        "cli_version_ms": [*byok, "--version"],
        "cli_help_ms": [*byok, "--help"],
        "cli_tenant_help_ms": [*byok, "tenant", "--help"],
        "cli_policy_ms": [*byok, *POLICY.split()],
        "cli_tenant_list_ms": [*byok, "tenant", "list", "--json"],
        "cli_eager_imports_ms": [PY, "-c", EAGER],
    }


def with_hyperfine(argvs: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median milliseconds per command, measured by hyperfine (no shell)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        names = list(argvs)
        cmd = ["hyperfine", "-N", "--warmup", "2", "--runs", str(runs), "--style", "none",
               "--export-json", export.name, *(shlex.join(argvs[n]) for n in names)]  # fmt: skip
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        results = json.loads(Path(export.name).read_text())["results"]
    return {name: r["median"] * 1000 for name, r in zip(names, results, strict=True)}


def with_subprocess(
    argvs: dict[str, list[str]], runs: int, env: dict[str, str]
) -> dict[str, float]:
    """Median milliseconds per command, interleaved runs (the machine's load hits all alike)."""
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for round_ in range(runs + 2):
        for name, argv in argvs.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
            if round_ >= 2:  # two warm-up rounds
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="byok-bench-cli-") as home:
        env = {**os.environ, "BYOK_HOME": home}
        argvs = commands()
        subprocess.run(argvs["cli_tenant_list_ms"], check=True, env=env, stdout=subprocess.DEVNULL)
        tool = "hyperfine" if shutil.which("hyperfine") else "subprocess"
        measure = with_hyperfine if tool == "hyperfine" else with_subprocess
        ms = measure(argvs, args.runs, env)
    simple = ("cli_version_ms", "cli_help_ms", "cli_tenant_help_ms", "cli_policy_ms")
    startup = max(ms[name] for name in simple)
    typer_ms = ms["cli_import_typer_ms"]
    figures = {name: ms[name] for name in ms if name != "cli_tenant_help_ms"}
    floor = max(ms["cli_typer_floor_help_ms"], ms["cli_typer_floor_command_ms"])
    figures |= {"cli_startup_ms": startup, "cli_startup_vs_typer_floor": startup / floor}
    merge(figures)

    print(f"CLI start-up, median of {args.runs} fresh processes ({tool}; {os.cpu_count()} CPUs)")
    rows = [Row("python -c pass (interpreter floor)", f"{ms['cli_python_pass_ms']:.0f} ms"),
            Row('python -c "import typer"', f"{typer_ms:.0f} ms")]  # fmt: skip
    for name, label, floor, floor_label in (
        ("cli_version_ms", "byok --version", "cli_import_typer_ms", "import typer"),
        ("cli_help_ms", "byok --help", "cli_typer_floor_help_ms", "minimal Typer app --help"),
        ("cli_tenant_help_ms", "byok tenant --help", "cli_typer_floor_help_ms", "minimal --help"),
        ("cli_policy_ms", "byok customer policy ... (no AWS)", "cli_typer_floor_command_ms",
         "minimal Typer command"),
    ):  # fmt: skip
        rows.append(Row(label, f"{ms[name]:.0f} ms", f"{ms[floor]:.0f} ms ({floor_label})",
                        f"{ms[name] / ms[floor]:.2f}x", f"< {TARGET_MS:.0f} ms",
                        verdict(ms[name] < TARGET_MS)))  # fmt: skip
    rows.append(
        Row("byok tenant list --json (opens the store)", f"{ms['cli_tenant_list_ms']:.0f} ms")
    )
    rows.append(Row("import of the whole stack (the old eager start-up)",
                    f"{ms['cli_eager_imports_ms']:.0f} ms"))  # fmt: skip
    print_table(rows)
    print(f"cli_startup_ms = {startup:.0f} (slowest simple command; target < {TARGET_MS:.0f})")
    return 0 if startup < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
