"""The per-email benchmarks run with tiny inputs, so they cannot rot unnoticed (their figures
are read by people, not asserted: timings are not tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    """What ``benchmarks/<script>`` prints with these arguments; it must exit cleanly."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_confirmation_benchmark_runs_and_prints_its_ratio() -> None:
    stdout = run("confirmation.py", "--emails", "5")
    assert "ratio to the render alone:" in stdout
    assert "confirmations: 5, 8 sessions each" in stdout


def test_the_cold_start_benchmark_times_every_handler_against_boto3() -> None:
    stdout = run("cold_start.py", "--runs", "1")
    assert "baseline: import boto3 + one client" in stdout
    for handler in ("api", "feedback", "jobs", "scheduler", "sender"):
        assert f"\n{handler}: " in stdout, handler
    assert stdout.count("(goal <= 1.5x)") == 5


def test_the_per_kind_benchmark_runs_every_kind_with_both_links() -> None:
    stdout = run("emails.py", "--emails", "3", "--repeats", "1")
    rows = [line.split() for line in stdout.splitlines()[2:]]
    assert [(row[0], row[1]) for row in rows] == [
        (kind, links) for kind in ("confirmation", "reminder", "update", "cancellation",
                                   "announcement") for links in ("shared", "personal")]
    for row in rows:  # render, email, ratio, and the goal beside it
        assert row[2].endswith("ms") and row[3].endswith("ms") and row[4].endswith("x")
        assert row[5:7] == ["<=", "1.5x"]


def test_the_cost_benchmark_prices_a_counted_run_against_ses() -> None:
    stdout = run("cost.py", "--registrants", "2", "--tiny", "--marginal")
    sent = re.search(r"emails sent: (\d+); SES delivery events to the feedback function: (\d+)",
                     stdout)
    assert sent and int(sent[1]) > 0 and sent[1] == sent[2], stdout
    for function in ("ApiFunction", "SenderFunction", "SchedulerFunction", "FeedbackFunction"):
        assert f"\n{function} " in stdout, function
    assert stdout.count("of SES's $0.10 per 1,000, storage apart (this run") == 2
    marginal = re.search(r"each 1,000 more emails \((\d+) -> (\d+)\).*?([\d.]+) % of SES with "
                         r"DeliveryEvents=Off", stdout)
    assert marginal and int(marginal[1]) < int(marginal[2]) and float(marginal[3]) > 0, stdout


def test_the_sender_memory_benchmark_measures_against_the_functions_memory() -> None:
    stdout = run("sender_memory.py", "--pdfs", "2", "--batches", "1", "--rate", "14")
    assert "the function has 256 MB" in stdout
    shipped = re.search(r"one at a time: +(\d+) MB = ([\d.]+)x the function's memory", stdout)
    assert shipped and int(shipped[1]) > 0 and 0 < float(shipped[2]) < 1, stdout
    assert "side by side (before):" in stdout
