"""Long organiser work as jobs: an export of every registrant is accepted in one request and
written in steps, part by part, that survive a lost step and a redelivered one."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import boto3
import pytest
from botocore.config import Config

from conftest import SERIES_ID, Harness
from webinar_notify import bootstrap
from webinar_notify.adapters.exports import MemoryExports, S3Exports
from webinar_notify.adapters.job_queue import MemoryJobQueue
from webinar_notify.adapters.job_store import DynamoJobStore
from webinar_notify.core.organiser_jobs import Continuation
from webinar_notify.core.registration import Registration
from webinar_notify.core.series import Series
from webinar_notify.local.infra import REGION
from webinar_notify.services.organiser_jobs import JobSettings, OrganiserJobs


def rows(_series: Series, page: list[Registration] | None) -> str:
    if page is None:
        return "registrant_id,name\r\n"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [r.registrant_id, r.registrant.full_name] for r in page)
    return out.getvalue()


def jobs_on(harness: Harness, exports: object, settings: JobSettings
            ) -> tuple[OrganiserJobs, MemoryJobQueue]:
    queue = MemoryJobQueue()
    table = harness.runtime.resources.table
    return OrganiserJobs(harness.runtime.store,
                         DynamoJobStore(boto3.client("dynamodb", region_name=REGION), table),
                         exports, queue, harness.clock, rows,  # type: ignore[arg-type]
                         settings), queue


def run_to_end(jobs: OrganiserJobs, queue: MemoryJobQueue, *, deadline_in: timedelta
               ) -> list[int]:
    """Every step until the job is done; the progress recorded after each step."""
    progress: list[int] = []
    while (body := queue.take()) is not None:
        work = Continuation.from_json(body)
        rest = jobs.step(work, jobs.clock.now() + deadline_in)
        progress.append(jobs.job(work.series_id, work.job_id).done)
        if rest is not None:
            queue.send(rest)
    return progress


def exported_ids(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeffregistrant_id,name\r\n")
    return [row[0] for row in csv.reader(io.StringIO(text.removeprefix("\ufeff")))][1:]


def test_an_export_is_accepted_at_once_and_written_by_the_job_on_s3(harness: Harness) -> None:
    harness.register_many(12)
    s3 = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="exports", CreateBucketConfiguration={
        "LocationConstraint": REGION})  # type: ignore[typeddict-item]
    jobs, queue = jobs_on(harness, S3Exports(s3, "exports"), JobSettings(page_size=5))

    job = jobs.start_export("cognito:organiser", SERIES_ID)
    assert job.state == "queued" and job.total == 12 and len(queue.waiting) == 1

    assert run_to_end(jobs, queue, deadline_in=timedelta(minutes=10)) == [12]
    done = jobs.job(SERIES_ID, job.job_id)
    assert done.state == "done" and done.done == 12
    data = S3Exports(s3, "exports").read(done.result_key)
    registrations, _ = harness.runtime.store.registrations_page(SERIES_ID, None, 100)
    assert sorted(exported_ids(data)) == sorted(r.registrant_id for r in registrations)
    link = S3Exports(s3, "exports").link(done.result_key, "registrants.csv")
    assert "X-Amz-Expires=300" in link and "response-content-disposition" in link


def test_a_large_export_goes_part_by_part_and_a_lost_step_loses_no_row(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.register_many(23)
    exports = MemoryExports(min_part_bytes=150)
    jobs, queue = jobs_on(harness, exports, JobSettings(page_size=3, part_bytes=150))
    job = jobs.start_export("cognito:organiser", SERIES_ID)

    real_put, calls = exports.put_part, []

    def dies_once_on_the_third_part(key: str, upload: str, number: int, data: bytes) -> str:
        calls.append(number)
        if calls.count(3) == 1 and number == 3:
            raise RuntimeError("the function was stopped")
        return real_put(key, upload, number, data)

    monkeypatch.setattr(exports, "put_part", dies_once_on_the_third_part)
    progress: list[int] = []
    while (body := queue.take()) is not None:
        work = Continuation.from_json(body)
        try:  # every step out of time at once: one part each
            rest = jobs.step(work, harness.clock.now() - timedelta(seconds=1))
        except RuntimeError:
            queue.send(work)  # SQS delivers the same message again
            continue
        progress.append(jobs.job(SERIES_ID, job.job_id).done)
        if rest is not None:
            queue.send(rest)

    done = jobs.job(SERIES_ID, job.job_id)
    assert done.state == "done" and done.done == 23
    assert len(progress) > 3 and progress == sorted(progress)  # it went in steps, forward
    ids = exported_ids(exports.read(done.result_key))
    assert len(ids) == 23 and len(set(ids)) == 23  # the lost step wrote no row twice

    again = Continuation(SERIES_ID, job.job_id, "registrants_csv")
    assert jobs.step(again, harness.clock.now()) is None  # redelivered after the end
    assert jobs.job(SERIES_ID, job.job_id) == done


def test_a_step_that_cannot_fill_a_part_in_its_time_ends_the_job_as_failed(
        harness: Harness) -> None:
    harness.register_many(9)
    jobs, queue = jobs_on(harness, MemoryExports(min_part_bytes=10_000),
                          JobSettings(page_size=3, part_bytes=10_000, max_stalls=2))
    job = jobs.start_export("cognito:organiser", SERIES_ID)
    while (body := queue.take()) is not None:
        now = harness.clock.now()  # each step is at its very end after one page
        rest = jobs.step(Continuation.from_json(body), now, hard_deadline=now)
        if rest is not None:
            queue.send(rest)
    failed = jobs.job(SERIES_ID, job.job_id)
    assert failed.state == "failed" and failed.done == 0
    assert failed.error == "a step could not fill one part in its time"


def test_an_announcement_to_everyone_is_accepted_at_once_and_its_job_reports_to_the_end(
        harness: Harness) -> None:
    addresses = harness.register_many(7)
    answer = harness.runtime.organiser(f"/organiser/series/{SERIES_ID}/announcements", {
        "id": "room", "subject": "Room change", "body_markdown": "We moved.",
        "audience": {"all": True}}, "room-1")
    assert answer.status == 202, answer.body
    assert answer.body["recipients"] == 7  # from the kept counts, in one read
    jobs = bootstrap.services().jobs
    assert jobs.job(SERIES_ID, answer.body["job"]).state == "queued"
    assert not [e for e in harness.outbox.entries() if e["kind"] == "announcement"]

    harness.runtime.drain()  # the job function runs the fan-out; the sender sends
    done = jobs.job(SERIES_ID, answer.body["job"])
    assert (done.state, done.done, done.total) == ("done", 7, 7)
    got = [e["to"] for e in harness.outbox.entries() if e["kind"] == "announcement"]
    assert sorted(got) == sorted(addresses)


def test_a_fan_out_held_by_another_run_is_followed_until_that_run_lets_go(
        harness: Harness) -> None:
    harness.register_many(3)
    schedule = harness.runtime.schedule
    answer = harness.runtime.organiser(f"/organiser/series/{SERIES_ID}/announcements", {
        "id": "held", "subject": "Held", "body_markdown": "x", "audience": {"all": True}},
        "held-1")
    key = "announcement#held"
    other = schedule.claim(SERIES_ID, key, harness.clock.now(), timedelta(minutes=5))
    assert other is not None  # a regular scheduler run holds it (and then dies)
    jobs, queue = bootstrap.services().jobs, harness.runtime.jobs
    work = Continuation.from_json(queue.take() or "")
    rest = jobs.step(work, harness.clock.now() + timedelta(minutes=10))
    assert rest is not None and jobs.fan_out_delay(rest) == 30  # asked again later
    assert jobs.job(SERIES_ID, answer.body["job"]).state == "running"

    harness.clock.advance(timedelta(minutes=6))  # the other run's lease is over
    assert jobs.step(rest, harness.clock.now() + timedelta(minutes=10)) is None
    assert jobs.job(SERIES_ID, answer.body["job"]).done == 3
    harness.runtime.drain()
    assert sum(e["kind"] == "announcement" for e in harness.outbox.entries()) == 3


def test_a_step_delivered_twice_at_once_goes_on_as_one_chain(harness: Harness) -> None:
    """SQS delivers at least once: two copies of one step run side by side. Both may write
    the part, but only the first to hand on makes the next step; the file has every row
    once."""
    harness.register_many(23)
    exports = MemoryExports(min_part_bytes=150)
    jobs, queue = jobs_on(harness, exports, JobSettings(page_size=3, part_bytes=150))
    job = jobs.start_export("cognito:organiser", SERIES_ID)
    first = Continuation.from_json(queue.take() or "")
    past = harness.clock.now() - timedelta(seconds=1)  # one part per step
    one, two = jobs.step(first, past), jobs.step(first, past)
    assert one is not None and two is None  # the copy's chain ends here
    queue.send(one)
    run_to_end(jobs, queue, deadline_in=-timedelta(seconds=1))
    done = jobs.job(SERIES_ID, job.job_id)
    ids = exported_ids(exports.read(done.result_key))
    assert done.state == "done" and len(ids) == 23 == len(set(ids))
