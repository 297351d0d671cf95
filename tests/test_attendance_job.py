"""An attendance import runs as a job: the request checks the list and stores it as registrant
ids (never an address), in a constant number of AWS requests whatever its length; the job
function records attendance in steps, counts who matched, and then marks attendance known."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from conftest import SERIES_ID, Harness
from webinar_notify import bootstrap
from webinar_notify.core.organiser_jobs import (
    MAX_ATTENDANCE_ADDRESSES,
    Continuation,
    decode_ids,
    import_key,
)
from webinar_notify.core.text import registrant_id
from webinar_notify.local import aws_calls
from webinar_notify.local.infra import REGION
from webinar_notify.local.runtime import HttpAnswer
from webinar_notify.services.organiser_jobs import JobSettings, OrganiserJobs

BASE = f"/organiser/series/{SERIES_ID}"
AFTER_S1 = datetime(2023, 10, 27, 9, 0, tzinfo=UTC)  # s1 was on 26 October
KEY = "local-development-only"  # the registrant key of the local runtime
VIEWER = {"sub": "v-1", "email": "o@example.org", "cognito:groups": [f"{SERIES_ID}.viewer"]}


def import_list(harness: Harness, emails: object, key: str = "att",
                session: str = "s1") -> HttpAnswer:
    return harness.runtime.organiser(f"{BASE}/sessions/{session}/attendance",
                                     {"emails": emails}, idempotency_key=key)


def jobs_in_steps(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                  batch: int = 2) -> OrganiserJobs:
    """The services' job runner, looking up ``batch`` ids between two progress records."""
    jobs = bootstrap.services().jobs
    monkeypatch.setattr(jobs, "settings", JobSettings(attendance_batch=batch))
    return jobs


def one_batch_per_step(harness: Harness, jobs: OrganiserJobs) -> list[tuple[int, str]]:
    """Every waiting step until the job ends, each out of time after its first batch; the
    progress and state recorded after each."""
    progress = []
    while (body := harness.runtime.jobs.take()) is not None:
        work = Continuation.from_json(body)
        rest = jobs.step(work, harness.clock.now() - timedelta(seconds=1))
        job = jobs.job(work.series_id, work.job_id)
        progress.append((job.done, job.state))
        if rest is not None:
            harness.runtime.jobs.send(rest)
    return progress


def stored_object(harness: Harness, job_id: str) -> bytes:
    s3 = boto3.client("s3", region_name=REGION)
    return s3.get_object(Bucket=harness.runtime.resources.export_bucket,
                         Key=import_key(SERIES_ID, job_id))["Body"].read()


def imports_stored(harness: Harness) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    answer = s3.list_objects_v2(Bucket=harness.runtime.resources.export_bucket,
                                Prefix="imports/")
    return [o["Key"] for o in answer.get("Contents", [])]


def attended(harness: Harness, address: str, session: str = "s1") -> bool:
    found = harness.runtime.store.get_registration(SERIES_ID,
                                                   registrant_id(KEY, SERIES_ID, address))
    return found is not None and session in found.attended


def test_an_import_is_accepted_in_one_request_with_the_same_requests_at_any_length(
        harness: Harness) -> None:
    harness.clock.set(AFTER_S1)
    seen: list[tuple[str, str]] = []

    def record(service: str, operation: str, _params: Mapping[str, Any]) -> None:
        seen.append((service, operation))

    calls, answers = [], []
    for size in (10, 1_000):
        emails = [f"guest{i}@example.net" for i in range(size)]
        stop = aws_calls.watch(record)
        answers.append(import_list(harness, emails, key=f"size-{size}"))
        stop()
        calls.append(Counter(seen))
        seen.clear()

    assert [a.status for a in answers] == [202, 202], [a.body for a in answers]
    assert [(a.body["kind"], a.body["state"], a.body["total"], a.body["session"])
            for a in answers] == [("attendance", "queued", 10, "s1"),
                                  ("attendance", "queued", 1_000, "s1")]
    assert "recorded" not in answers[0].body  # counted by the job, not yet
    assert calls[0] == calls[1] and sum(calls[0].values()) < 12  # nothing grows with N
    assert calls[0][("s3", "PutObject")] == 1
    data = stored_object(harness, answers[1].body["job"])
    assert decode_ids(data) == [registrant_id(KEY, SERIES_ID, f"guest{i}@example.net")
                                for i in range(1_000)]
    assert b"@" not in data and b"guest" not in data  # ids, never an address
    job_items = harness.items("JOB#")
    assert len(job_items) == 2 and "@" not in json.dumps(job_items)
    assert "guest" not in json.dumps(harness.items(""))  # nor anywhere in the table


def test_the_job_records_attendance_in_steps_and_counts_who_matched(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    registered = harness.register_many(4, sessions=["s1"])
    harness.clock.set(AFTER_S1)
    emails = [registered[0], registered[1].upper(), f"  {registered[2]} ", "nobody@example.net",
              registered[0], "someone.else@example.net"]  # the first one twice
    answer = import_list(harness, emails)
    assert answer.status == 202 and answer.body["total"] == 5  # an address twice counts once
    jobs = jobs_in_steps(harness, monkeypatch)
    assert not harness.runtime.store.attendance_known(SERIES_ID, "s1")

    assert one_batch_per_step(harness, jobs) == [(2, "running"), (4, "running"), (5, "done")]
    done = jobs.job(SERIES_ID, answer.body["job"])
    assert (done.recorded, done.not_registered, done.total) == (3, 2, 5)
    assert [attended(harness, a) for a in registered] == [True, True, True, False]
    assert harness.runtime.store.attendance_known(SERIES_ID, "s1")
    view = harness.runtime.request("GET", f"{BASE}/jobs/{done.job_id}", {}, b"",
                                   jwt_claims=VIEWER)
    assert view.status == 200, view.body
    assert {k: view.body[k] for k in ("kind", "state", "done", "total", "session", "recorded",
                                      "not_registered")} == {
        "kind": "attendance", "state": "done", "done": 5, "total": 5, "session": "s1",
        "recorded": 3, "not_registered": 2}
    assert view.body["summary"] == ("Attendance of s1 recorded: 3 people attended; "
                                    "2 addresses matched no registration.")
    assert "link" not in view.body


def test_a_redelivered_or_retried_step_counts_nothing_twice(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    registered = harness.register_many(5, sessions=["s1"])
    harness.clock.set(AFTER_S1)
    emails = [*registered[:4], "nobody@example.net", "none@example.net"]
    answer = import_list(harness, emails)
    jobs = jobs_in_steps(harness, monkeypatch)
    store, real_put, puts = harness.runtime.store, harness.runtime.store.put_registration, []

    def dies_once_on_the_fourth_write(*args: Any, **kwargs: Any) -> Any:
        puts.append(1)
        if len(puts) == 4:  # after the step wrote its first registration
            raise RuntimeError("the function was stopped")
        return real_put(*args, **kwargs)

    monkeypatch.setattr(store, "put_registration", dies_once_on_the_fourth_write)
    first = Continuation.from_json(harness.runtime.jobs.take() or "")
    past = harness.clock.now() - timedelta(seconds=1)
    one, two = jobs.step(first, past), jobs.step(first, past)  # SQS delivered it twice
    assert one is not None and two is None  # only one chain goes on
    with pytest.raises(RuntimeError):
        jobs.step(one, past)
    harness.runtime.jobs.send(one)  # the failed step: SQS delivers the same message again
    one_batch_per_step(harness, jobs)

    done = jobs.job(SERIES_ID, answer.body["job"])
    assert (done.state, done.done, done.recorded, done.not_registered) == ("done", 6, 4, 2)
    assert [attended(harness, a) for a in registered] == [True] * 4 + [False]
    assert jobs.step(first, past) is None  # delivered again after the end: nothing changes
    assert jobs.job(SERIES_ID, answer.body["job"]) == done


def test_the_runtime_drains_an_import_and_the_console_shows_its_result(
        harness: Harness) -> None:
    registered = harness.register_many(2, sessions=["s1"])
    harness.clock.set(AFTER_S1)
    answer = import_list(harness, [registered[0], "nobody@example.net"])
    assert answer.status == 202
    again = import_list(harness, [registered[0], "nobody@example.net"])
    assert again.status == 202 and again.body["job"] == answer.body["job"]  # the same key
    harness.runtime.drain()
    job = bootstrap.services().jobs.job(SERIES_ID, answer.body["job"])
    assert (job.state, job.recorded, job.not_registered) == ("done", 1, 1)
    empty = import_list(harness, [], key="nobody-came")  # valid: everyone was absent
    harness.runtime.drain()
    nobody = bootstrap.services().jobs.job(SERIES_ID, empty.body["job"])
    assert (nobody.state, nobody.total, nobody.recorded, nobody.not_registered) == (
        "done", 0, 0, 0)
    audit = harness.items("AUDIT#")
    assert audit and "nobody" not in json.dumps(audit) and "person" not in json.dumps(audit)


BAD_INPUT: list[tuple[object, str, int, str]] = [
    ("someone@example.org", "s1", 400, "expected a list"),
    (["a@example.org", 7], "s1", 400, "expected a list"),
    (["a@example.org", "  "], "s1", 400, "emails[1]: empty"),
    (["x@example.org"] * (MAX_ATTENDANCE_ADDRESSES + 1), "s1", 400, "at most 100000"),
    (["x" * (5 * 1024 * 1024)], "s1", 413, "larger than"),
    (["a@example.org"], "s4", 400, "has not taken place yet"),
    (["a@example.org"], "s9", 404, "unknown session"),
]


def test_bad_attendance_input_gets_a_clear_4xx_and_stores_nothing(harness: Harness) -> None:
    harness.clock.set(AFTER_S1)
    for i, (emails, session, status, words) in enumerate(BAD_INPUT):
        answer = import_list(harness, emails, key=f"bad-{i}", session=session)
        assert answer.status == status and words in answer.body["error"], (i, answer.body)
    assert harness.items("JOB#") == [] and imports_stored(harness) == []
    assert harness.runtime.jobs.take() is None
    assert not harness.runtime.store.attendance_known(SERIES_ID, "s1")


def test_an_import_whose_list_expired_before_the_job_ran_fails_saying_so(
        harness: Harness) -> None:
    """The bucket's lifecycle removes the list after a day; a job that waited longer (a
    backlog, a redrive) fails at once with the reason, not after SQS's retries."""
    harness.register_many(2, sessions=["s1"])
    harness.clock.set(AFTER_S1)
    answer = import_list(harness, ["person0@example.org"])
    assert answer.status == 202
    boto3.client("s3", region_name=REGION).delete_object(
        Bucket=harness.runtime.resources.export_bucket,
        Key=import_key(SERIES_ID, answer.body["job"]))

    harness.runtime.drain()

    job = bootstrap.services().jobs.job(SERIES_ID, answer.body["job"])
    assert job.state == "failed" and "gone" in job.error
    assert not harness.runtime.store.attendance_known(SERIES_ID, "s1")
