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
``cli_import_typer_ms``, ``cli_typer_floor_*_ms`` (the smallest Typer app,
``bench/_typer_floor.py``: Rich help and Typer's pydantic coercion of option values are the
framework's own cost), ``cli_startup_vs_typer_floor`` (slowest simple command over the slowest
floor), ``cli_startup_cpu_ms`` (the same command's CPU time, user+sys: what the wall-clock
time approaches on an idle machine) and ``cli_load_average``.
Usage: ``python bench/cli.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
        "cli_typer_floor_sub_help_ms": [PY, FLOOR, "hello", "--help"],
        "cli_typer_floor_command_ms": [PY, FLOOR, "hello", "--name", "acme"],
        "cli_version_ms": [*byok, "--version"],
        "cli_help_ms": [*byok, "--help"],
        "cli_tenant_help_ms": [*byok, "tenant", "--help"],
        "cli_policy_ms": [*byok, *POLICY.split()],
        "cli_tenant_list_ms": [*byok, "tenant", "list", "--json"],
        "cli_eager_imports_ms": [PY, "-c", EAGER],
    }


Timing = dict[str, tuple[float, float]]  # name -> (wall median ms, CPU user+sys mean ms)


def with_hyperfine(argvs: dict[str, list[str]], runs: int, env: dict[str, str]) -> Timing:
    """Wall-clock median and CPU time per command, measured by hyperfine (no shell)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        names = list(argvs)
        cmd = ["hyperfine", "-N", "--warmup", "2", "--runs", str(runs), "--style", "none",
               "--export-json", export.name, *(shlex.join(argvs[n]) for n in names)]  # fmt: skip
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        results = json.loads(Path(export.name).read_text())["results"]
    return {
        name: (r["median"] * 1000, (r["user"] + r["system"]) * 1000)
        for name, r in zip(names, results, strict=True)
    }


def with_subprocess(argvs: dict[str, list[str]], runs: int, env: dict[str, str]) -> Timing:
    """The same by repeated runs, interleaved (the machine's load hits every command alike)."""
    wall: dict[str, list[float]] = {name: [] for name in argvs}
    cpu: dict[str, list[float]] = {name: [] for name in argvs}
    for round_ in range(runs + 2):
        for name, argv in argvs.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if round_ >= 2:  # two warm-up rounds
                wall[name].append(elapsed * 1000)
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                cpu[name].append(used * 1000)
    return {name: (statistics.median(wall[name]), statistics.mean(cpu[name])) for name in argvs}


SIMPLE = ("cli_version_ms", "cli_help_ms", "cli_tenant_help_ms", "cli_policy_ms")
LABELS = {
    "cli_version_ms": ("byok --version", "cli_import_typer_ms", "import typer"),
    "cli_help_ms": ("byok --help", "cli_typer_floor_help_ms", "minimal Typer app --help"),
    "cli_tenant_help_ms": ("byok tenant --help", "cli_typer_floor_sub_help_ms",
                           "minimal: hello --help"),
    "cli_policy_ms": ("byok customer policy ... (no AWS)", "cli_typer_floor_command_ms",
                      "minimal: hello --name"),
}  # fmt: skip


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
        timing = measure(argvs, args.runs, env)
    wall = {name: w for name, (w, _) in timing.items()}
    cpu = {name: c for name, (_, c) in timing.items()}
    startup = max(wall[name] for name in SIMPLE)
    startup_cpu = max(cpu[name] for name in SIMPLE)
    floor = max(wall[LABELS[name][1]] for name in SIMPLE)
    figures: dict[str, float | None] = dict(wall)
    figures |= {"cli_startup_ms": startup, "cli_startup_cpu_ms": startup_cpu,
                "cli_startup_vs_typer_floor": startup / floor,
                "cli_load_average": os.getloadavg()[0]}  # fmt: skip
    merge(figures)
    _print(args.runs, tool, wall, cpu, startup, startup_cpu)
    return 0  # a missed target shows in the table; the other benchmarks still run


def _print(
    runs: int, tool: str, wall: dict[str, float], cpu: dict[str, float], startup: float,
    startup_cpu: float,
) -> None:  # fmt: skip
    load = os.getloadavg()[0]
    print(f"CLI start-up: wall-clock median and CPU (user+sys) of {runs} fresh processes "
          f"({tool}; {os.cpu_count()} CPUs, load average {load:.1f})")  # fmt: skip
    rows = [Row("python -c pass (interpreter floor)", _ms(wall, cpu, "cli_python_pass_ms")),
            Row('python -c "import typer"', _ms(wall, cpu, "cli_import_typer_ms"))]  # fmt: skip
    for name in SIMPLE:
        label, floor, floor_label = LABELS[name]
        rows.append(Row(label, _ms(wall, cpu, name), f"{_ms(wall, cpu, floor)} ({floor_label})",
                        f"{wall[name] / wall[floor]:.2f}x", f"< {TARGET_MS:.0f} ms",
                        verdict(wall[name] < TARGET_MS)))  # fmt: skip
    rows.append(Row("byok tenant list --json (opens the store)",
                    _ms(wall, cpu, "cli_tenant_list_ms")))  # fmt: skip
    rows.append(Row("import of the whole stack (the old eager start-up)",
                    _ms(wall, cpu, "cli_eager_imports_ms")))  # fmt: skip
    print_table(rows)
    print(f"cli_startup_ms = {startup:.0f} wall, {startup_cpu:.0f} CPU (slowest simple command; "
          f"target < {TARGET_MS:.0f}; on a loaded machine wall > CPU)")  # fmt: skip


def _ms(wall: dict[str, float], cpu: dict[str, float], name: str) -> str:
    return f"{wall[name]:.0f} ms ({cpu[name]:.0f} CPU)"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
