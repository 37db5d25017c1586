"""bench/api.py runs end to end (short): no errors, no lost documents, figures sane.

The real run (``make bench``) lasts longer; here a couple of seconds per phase prove the
machinery: local AWS, the server with its three targets, wrk (installed by
``scripts/ensure-wrk.sh`` when missing), the byte-for-byte checks and the read-back of every
acknowledged document.
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
        [sys.executable, str(BENCH), "--duration", "2", "--warmup", "1",
         "--connections", "4", "--no-merge", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["api_errors"] == 0 and figures["api_lost_documents"] == 0
    for name in ("api_framework_ceiling_req_s", "api_plain_get_req_s", "api_get_req_s",
                 "api_put_req_s", "api_get_ratio_vs_plain", "api_put_ratio_vs_plain"):  # fmt: skip
        assert figures[name] > 0, name
    assert 0 < figures["api_get_p99_ms"] < 30_000
    for label in ("framework ceiling", "plain files", "byok API"):
        assert label in done.stdout
