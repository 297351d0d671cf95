"""The per-email benchmarks run with tiny inputs, so they cannot rot unnoticed (their figures
are read by people, not asserted: timings are not tests)."""

from __future__ import annotations

import re
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


def test_the_cold_start_benchmark_times_every_handler_against_boto3() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cold_start.py"),
                           "--runs", "1"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "baseline: import boto3 + one client" in done.stdout
    for handler in ("api", "feedback", "jobs", "scheduler", "sender"):
        assert f"\n{handler}: " in done.stdout, handler
    assert done.stdout.count("(goal <= 1.5x)") == 5


def test_the_per_kind_benchmark_runs_every_kind_with_both_links() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "emails.py"),
                           "--emails", "3", "--repeats", "1"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert [(row[0], row[1]) for row in rows] == [
        (kind, links) for kind in ("confirmation", "reminder", "update", "cancellation",
                                   "announcement") for links in ("shared", "personal")]
    for row in rows:  # render, email, ratio, and the goal beside it
        assert row[2].endswith("ms") and row[3].endswith("ms") and row[4].endswith("x")
        assert row[5:7] == ["<=", "1.5x"]


def test_the_cost_benchmark_prices_a_counted_run_against_ses() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cost.py"),
                           "--registrants", "2", "--tiny"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    sent = re.search(r"emails sent: (\d+); SES delivery events to the feedback function: (\d+)",
                     done.stdout)
    assert sent and int(sent[1]) > 0 and sent[1] == sent[2], done.stdout
    for function in ("ApiFunction", "SenderFunction", "SchedulerFunction", "FeedbackFunction"):
        assert f"\n{function} " in done.stdout, function
    assert done.stdout.count("of SES's $0.10 per 1,000 (goal <= 2 %)") == 2
