"""bench/api.py runs end to end (short): no errors, no lost documents, figures sane.

The real run (``make bench``) lasts 120 s; here a few seconds prove the machinery: the
server and load generator processes, the baseline, the read-back of every document.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api.py"


@pytest.mark.localaws
def test_bench_api_short_run_has_no_errors_and_no_lost_documents() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--duration", "3", "--baseline-duration", "2",
         "--concurrency", "4", "--no-merge", "--json"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["api_errors"] == 0 and figures["api_lost_documents"] == 0
    assert figures["api_4kib_requests_per_s"] > 0 and figures["api_ratio_vs_plain"] > 0
    assert 0 < figures["api_p99_ms"] < 30_000
    assert "baseline (plain files)" in done.stdout and "byok API" in done.stdout
