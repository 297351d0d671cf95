"""The per-email benchmarks run with tiny inputs, so they cannot rot unnoticed (their figures
are read by people, not asserted: timings are not tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_confirmation_benchmark_runs_and_prints_its_ratio() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "confirmation.py"),
                           "--emails", "5"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio to the render alone:" in done.stdout
    assert "confirmations: 5, 8 sessions each" in done.stdout
