"""The fan-out benchmark runs with tiny inputs, so it cannot rot unnoticed: its figures are
counts and ratios to baselines of the same run (no rate divided by an unmeasured time), and
its simulated SES refuses what SES would refuse."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import fanout  # noqa: E402  (the benchmark, as a module)


def test_the_fanout_benchmark_runs_and_prints_sane_ratios() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fanout.py"),
                           "--registrants", "5", "--seconds", "0.2"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "reminder emails sent: 5 (enqueued 5); dead letters: 0" in out
    shares = [float(x) for x in re.findall(r"= ([0-9.]+) x the share", out)]
    assert len(shares) == 2 and all(0 < share <= 1.1 for share in shares), out
    assert re.findall(r"R = (\d+)/s, share", out) == ["14", "500"]
    assert re.findall(r"\((\d+) emails, (\d+) throttled\)", out)[1][1] == "0"
    assert re.search(r"= \d+\.\d % of SES", out)


def test_the_simulated_ses_throttles_above_its_rate() -> None:
    ses = fanout.SimulatedSes(rate=3, latency=0.0)
    for _ in range(3):
        ses.send_email()
    with pytest.raises(ClientError) as refused:
        ses.send_email()
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert (ses.sent, ses.throttled) == (3, 1)


def test_the_script_refuses_empty_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        fanout.main(["--registrants", "0"])
    assert "--registrants must be at least 1" in capsys.readouterr().err


def test_the_deadline_part_plans_every_one_hour_reminder_in_time(
        capsys: pytest.CaptureFixture[str]) -> None:
    fanout.main(["--deadlines-only", "--deadlines", "100,100000"])
    rows = re.findall(r"R = (\d+)/s, N = +([\d,]+): (publish warned|no warning)[^;]*; starts "
                      r"(.+?) (before|after) the target; .*expired (\d+) \(goal 0; without the "
                      r"planner ([\d,]+)\)", capsys.readouterr().out)
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows] == [
        ("14", "100", "no warning", "after", "0"),
        ("14", "100,000", "publish warned", "before", "0"),
        ("500", "100", "no warning", "after", "0"),
        ("500", "100,000", "no warning", "after", "0")]
    # Unplanned, the 1-hour window at 14/s holds about half: the planner is what saves them.
    assert int(rows[1][6].replace(",", "")) > 40_000


def test_the_deadline_model_counts_what_the_window_cannot_hold() -> None:
    found = fanout.deadline(10_000, 2.0)  # 83 minutes of sending for a 60-minute window
    assert found.warned and found.rate_needed == 4
    assert found.expired == 0 and found.expired_unplanned > 2_000
