"""The fault soak (benchmarks/fault_soak.py): 500 reminders through the real sender while SES
fails, throttles and crashes, and every batch is delivered twice."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fault_soak


def test_500_emails_under_faults_lose_nothing_and_duplicate_only_after_crashes() -> None:
    # Seed 12: while a failure before the send failed the message (five receives, then the
    # dead-letter queue), this soak left 2 messages dead-lettered and 1 email never sent.
    report = fault_soak.run(500, seed_value=12, in_memory=True)
    print("\n" + "\n".join(report.lines()))

    assert report.intended == 500
    assert report.lost == 0 and report.delivered == 500
    assert report.dead_letters == 0 and report.left_in_queue == 0
    assert report.duplicates == report.crashed_after_send > 0
    # the faults happened at the rates asked for (per SES call), and batches came twice
    calls = report.ses_calls
    assert abs(report.failed_before_send / calls - fault_soak.FAIL_BEFORE) < 0.03
    assert abs(report.throttled / calls - fault_soak.THROTTLE) < 0.03
    assert abs(report.crashed_after_send / calls - fault_soak.CRASH_AFTER) < 0.02
    assert report.invocations == 2 * (report.receive_requests - report.empty_receives)
    assert report.receives >= 2 * report.intended


def test_the_same_soak_on_the_dynamodb_ledger() -> None:
    """Smaller, on moto: the real ledger's conditional writes under the same faults."""
    report = fault_soak.run(30, seed_value=12)
    assert report.lost == 0 and report.dead_letters == 0 and report.left_in_queue == 0
    assert report.duplicates == report.crashed_after_send > 0
    assert report.failed_before_send > 0 and report.throttled > 0


def test_crashes_that_kill_whole_invocations_still_lose_nothing() -> None:
    """A dead invocation sends its whole batch back, one receive nearer the dead-letter queue;
    nothing is lost, and each crash costs the email SES had just accepted and at most the
    FLUSH_EMAILS its batch's sent log had not yet written."""
    report = fault_soak.run(500, seed_value=31, in_memory=True, crash_kills_invocation=True)
    print("\n" + "\n".join(report.lines()))
    assert report.lost == 0 and report.left_in_queue == 0
    assert 0 < report.crashed_after_send <= report.duplicates \
        <= report.crashed_after_send * (1 + fault_soak.FLUSH_EMAILS)
