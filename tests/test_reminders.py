"""Reminders: decided once per slot, fanned out to exactly the right people, never twice."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conftest import SERIES_FILE, Harness
from webinar_notify import bootstrap
from webinar_notify.core.text import suppression_id
from webinar_notify.series_files import load_series_file
from webinar_notify.services.counts_repair import repair_counts
from webinar_notify.services.scheduling import ScheduleSettings

S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)  # s1 starts: 15:00 CEST


def reminders(harness: Harness) -> Counter[tuple[str, str, str]]:
    """(address, session, sent_at) -> how many reminders."""
    return Counter((str(e["to"]), e["sessions"][0], str(e["sent_at"]))  # type: ignore[index]
                   for e in harness.outbox.entries() if e["kind"] == "reminder")


def run_at(harness: Harness, moment: datetime) -> dict[str, object]:
    harness.clock.set(moment)
    report = harness.runtime.tick()
    harness.runtime.drain()
    return report


def test_each_registrant_gets_the_reminder_once_at_its_moment(harness: Harness) -> None:
    addresses = harness.register_many(12)
    report = run_at(harness, S1 - timedelta(days=7))

    assert report["sent_slots"] == ["reirradiation-2023/s1#7d#20231026T1300Z"]
    assert reminders(harness) == Counter(
        {(a, "s1", "2023-10-19T13:00:00Z"): 1 for a in addresses})


def test_running_the_scheduler_twice_for_the_same_instant_sends_nothing_twice(
        harness: Harness) -> None:
    addresses = harness.register_many(8)
    harness.clock.set(S1 - timedelta(hours=1))
    first, second = harness.runtime.tick(), harness.runtime.tick()
    harness.runtime.drain()

    assert first["enqueued"] == 8 and second["enqueued"] == 0
    assert set(reminders(harness).values()) == {1}
    assert {a for a, _s, _t in reminders(harness)} == set(addresses)


def test_two_scheduler_runs_at_once_send_each_reminder_once(
        harness: Harness, atomic_moto: None) -> None:
    addresses = harness.register_many(10)
    harness.clock.set(S1 - timedelta(days=1))
    barrier = threading.Barrier(2)
    reports: list[int] = []
    scheduler = bootstrap.services().scheduler  # two runs in two containers: no shared handler

    def run() -> None:
        barrier.wait()
        reports.append(scheduler.run().enqueued)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    harness.runtime.drain()

    assert sorted(reports) == [0, 10]
    assert reminders(harness) == Counter(
        {(a, "s1", "2023-10-25T13:00:00Z"): 1 for a in addresses})


def test_a_scheduler_that_dies_mid_fan_out_is_taken_over_from_its_cursor(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    addresses = harness.register_many(23)
    scheduler = bootstrap.services().scheduler
    scheduler.settings = ScheduleSettings(page_size=5, lease=timedelta(minutes=5))
    real_send = scheduler.queue.send
    pages = iter(range(100))

    def crash_on_third_page(jobs: object, delay_seconds: int = 0) -> None:
        if next(pages) == 2:
            raise RuntimeError("scheduler killed")
        real_send(jobs, delay_seconds)  # type: ignore[arg-type]

    monkeypatch.setattr(scheduler.queue, "send", crash_on_third_page)
    harness.clock.set(S1 - timedelta(days=7))
    assert scheduler.run().failed == ["reirradiation-2023"]  # the run dies on page 3
    harness.runtime.drain()
    assert len(reminders(harness)) == 10  # pages 1 and 2

    held = run_at(harness, S1 - timedelta(days=7) + timedelta(minutes=5))  # lease not over
    assert held["enqueued"] == 0 and len(reminders(harness)) == 10
    resumed = run_at(harness, S1 - timedelta(days=7) + timedelta(minutes=10))
    assert resumed["enqueued"] == 13  # from the cursor on: only those not enqueued before
    assert {a for a, _s, _t in reminders(harness)} == set(addresses)
    assert set(reminders(harness).values()) == {1}


def test_a_redelivered_fan_out_sends_nothing_twice(harness: Harness) -> None:
    harness.register_many(6)
    harness.clock.set(S1 - timedelta(hours=1))
    harness.runtime.tick()
    bodies = [m["Body"] for m in harness.runtime.queue.receive()]
    harness.runtime.queue.settle([], set())
    for body in bodies * 3:  # every message delivered three more times
        harness.runtime.queue.send_raw(body)
    harness.runtime.drain()
    assert len(reminders(harness)) == 6 and set(reminders(harness).values()) == {1}


def test_a_missed_run_catches_up_but_drops_reminders_whose_moment_passed(
        harness: Harness) -> None:
    harness.register_many(3)
    late = run_at(harness, S1 - timedelta(hours=20))  # the 7-day and 1-day slots were missed
    assert sorted(late["dropped_slots"]) == [  # type: ignore[call-overload]
        "reirradiation-2023/s1#1d#20231026T1300Z#early",  # quiet hours' early pass, unseen
        "reirradiation-2023/s1#7d#20231026T1300Z",
        "reirradiation-2023/s1#7d#20231026T1300Z#early"]
    # The 1-day reminder is still open: until the 1-hour one opens.
    assert late["sent_slots"] == ["reirradiation-2023/s1#1d#20231026T1300Z"]
    after_start = run_at(harness, S1 + timedelta(minutes=10))  # the 1-hour slot was missed
    assert after_start["dropped_slots"] == ["reirradiation-2023/s1#1h#20231026T1300Z"]
    assert Counter(s for _a, s, _t in reminders(harness)) == Counter({"s1": 3})
    texts = [(harness.outbox_dir / str(e["file"])).read_bytes() for e in harness.outbox.entries()
             if e["kind"] == "reminder"]
    assert all(b" (in 20 hours)" in raw.split(b"\r\n\r\n")[0] for raw in texts)


def test_no_reminder_for_a_moment_that_had_passed_at_registration(harness: Harness) -> None:
    harness.clock.set(S1 - timedelta(hours=3))
    harness.register(email="late@example.org", event_id="evt-late")
    harness.runtime.drain()
    run_at(harness, S1 - timedelta(hours=1))
    assert reminders(harness) == Counter({("late@example.org", "s1", "2023-10-26T12:00:00Z"): 1})
    confirmation = (harness.outbox_dir / str(harness.outbox.entries()[0]["file"])).read_bytes()
    assert b"starts in 3 hours" in _text(confirmation).encode()


def test_only_registrants_of_the_session_still_registered_and_reachable(
        harness: Harness) -> None:
    harness.register_many(2, sessions=["s1"])
    harness.register(email="other@example.org", event_id="evt-o", sessions=["s2"])
    harness.register(email="gone@example.org", event_id="evt-g", sessions=["s1"])
    harness.clock.advance(timedelta(minutes=1))
    harness.post(_cancel("gone@example.org", harness.clock.now()))
    harness.register(email="bounced@example.org", event_id="evt-b", sessions=["s1"])
    harness.runtime.store.suppress(suppression_id("local-development-only",
                                                  "Bounced@Example.org"), "bounce",
                                   harness.clock.now())
    harness.register(email="quiet@example.org", event_id="evt-q", sessions=["s1"])
    harness.update_registration("quiet@example.org", reminders_off=True)
    harness.runtime.drain()

    report = run_at(harness, S1 - timedelta(days=7))

    assert {a for a, _s, _t in reminders(harness)} == {"person0@example.org",
                                                      "person1@example.org"}
    # The fan-out reads no suppression for a reminder: the sender's look-up before each
    # send stops the bounced address (queued with the others, sent nothing).
    assert (report["enqueued"], report["suppressed"]) == (3, 0)


def test_a_cancelled_session_sends_no_reminders(harness: Harness) -> None:
    harness.register_many(2)
    series = load_series_file(SERIES_FILE)
    cancelled = replace(series, sessions=tuple(
        replace(s, status="cancelled") if s.id == "s1" else s for s in series.sessions))
    harness.runtime.push_series(cancelled)
    for moment in (S1 - timedelta(days=7), S1 - timedelta(days=1), S1 - timedelta(hours=1)):
        assert run_at(harness, moment)["sent_slots"] == []
    assert reminders(harness) == Counter()


def test_a_moved_session_is_reminded_at_its_new_time_only(harness: Harness) -> None:
    harness.register_many(2)
    series = load_series_file(SERIES_FILE)
    moved = replace(series, sessions=tuple(
        replace(s, start=s.start + timedelta(hours=1)) if s.id == "s1" else s
        for s in series.sessions))
    harness.runtime.push_series(moved)
    before_old_hour = run_at(harness, S1 - timedelta(hours=1))  # the old 1-hour moment
    # the new time's 1-day reminder, still open then:
    assert before_old_hour["sent_slots"] == ["reirradiation-2023/s1#1d#20231026T1400Z"]
    assert run_at(harness, S1)["sent_slots"] == ["reirradiation-2023/s1#1h#20231026T1400Z"]
    sent = reminders(harness)
    assert sorted({t for _a, _s, t in sent}) == ["2023-10-26T12:00:00Z", "2023-10-26T13:00:00Z"]
    assert all(count == 1 for count in sent.values()) and len(sent) == 4


def _text(raw: bytes) -> str:
    import email
    import email.policy

    message = email.message_from_bytes(raw, policy=email.policy.default)
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def _cancel(address: str, when: datetime) -> bytes:
    from conftest import registration_body

    return registration_body(address, "", "evt-cancel", created=when,
                             event_type="registration.cancelled")


def test_skipping_idle_ticks_changes_nothing(tmp_path: object) -> None:
    """simulate skips ticks at which nothing can be due; firing every tick gives the same mail."""
    import io
    from pathlib import Path

    from webinar_notify.local.demo_state import DEMO_SCENARIO
    from webinar_notify.local.scenario import load_scenario
    from webinar_notify.local.simulate import simulate

    demo = load_scenario(DEMO_SCENARIO)
    sooner = timedelta(days=10)  # s1 on 16 October: fewer idle ticks to fire one by one
    series = replace(demo.series, sessions=tuple(
        replace(s, start=s.start - sooner) for s in demo.series.sessions))
    scenario = replace(demo, series=series, all_series=(series,),
                       until=datetime(2023, 10, 10, 0, 0, tzinfo=UTC))
    outcomes = []
    for every_tick in (False, True):
        outbox = Path(str(tmp_path)) / f"every-{every_tick}"
        simulate(scenario, outbox, io.StringIO(), every_tick=every_tick)
        outcomes.append([(e["kind"], e["to"], e["sessions"], e["sent_at"])
                         for e in _log(outbox)])
    assert outcomes[0] == outcomes[1]
    assert [kind for kind, *_ in outcomes[0]].count("reminder") == 4  # s1, 7 days before


def _log(outbox: object) -> list[dict[str, object]]:
    import json
    from pathlib import Path

    path = Path(str(outbox)) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_fan_out_through_crashes_and_throttling_reaches_everyone_once(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from webinar_notify.adapters.mailer import SesMailer

    addresses = harness.register_many(30)
    sender = bootstrap.services().sender
    outbox = sender.mailer
    calls = iter(range(10_000))
    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}},
                            "SendEmail")

    class Flaky(SesMailer):
        """Every 7th call crashes before sending; every 5th is throttled by SES."""

        def __init__(self) -> None:
            super().__init__(self, "cs")  # type: ignore[arg-type]

        def send_email(self, **_request: object) -> dict[str, str]:
            call = next(calls)
            if call % 7 == 3:
                raise ConnectionResetError("sender crashed before SES answered")
            if call % 5 == 4:
                raise throttled
            return {"MessageId": "accepted"}

        def send(self, message: object) -> str:
            message_id = super().send(message)  # type: ignore[arg-type]
            outbox.send(message)  # type: ignore[arg-type]
            return message_id

    monkeypatch.setattr(sender, "mailer", Flaky())
    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()
    for _ in range(12):  # throttled emails come back after a minute, then later each time
        harness.runtime.drain()
        harness.clock.advance(timedelta(minutes=3))

    delivered = Counter(a for a, _s, _t in reminders(harness))
    assert delivered == Counter({a: 1 for a in addresses})
    assert harness.runtime.dead_letters() == 0 and harness.queued() == 0


def test_the_personal_join_link_wins_in_a_reminder() -> None:
    from pathlib import Path

    from webinar_notify.core.compose import Links, compose
    from webinar_notify.core.jobs import EmailJob
    from webinar_notify.core.registration import Registrant
    from webinar_notify.core.render import Renderer

    seed = load_series_file(SERIES_FILE)
    series = replace(seed, sessions=tuple(
        replace(s, join_url="https://zoom.example/j/series", sequence=2) for s in seed.sessions))
    job = EmailJob("reminder", series.id, 1, "r1",
                   Registrant("ada@example.org", "Ada", "Asia/Riyadh",
                              join_url="https://zoom.example/w/personal?tk=abc"),
                   ("s2",), "key", also=("s1", "s3"))
    email = compose(series, job, now=datetime(2023, 11, 5, 14, tzinfo=UTC),
                    renderer=Renderer(Path(__file__).resolve().parents[1] / "templates"),
                    links=Links(manage="https://x.example/m", unsubscribe="https://x.example/u"))
    assert "https://zoom.example/w/personal?tk=abc" in email.text
    assert "https://zoom.example/j/series" not in email.text
    assert ", in 24 hours." in email.text
    assert "Practical Radiobiology" in email.text  # s3 is ahead
    assert "Reirradiation Challenges & Opportunities" not in email.text  # s1 is over
    [ics] = email.attachments
    assert b"SEQUENCE:2" in ics.data and b"UID:s2.reirradiation-2023@" in ics.data
    assert email.headers["List-Unsubscribe"].startswith("<https://x.example/u?scope=all>")


def test_a_new_join_link_does_not_repeat_the_open_reminder(harness: Harness) -> None:
    harness.register_many(3)
    run_at(harness, S1 - timedelta(days=7))
    series = load_series_file(SERIES_FILE)
    linked = replace(series, sessions=tuple(
        replace(s, join_url="https://zoom.example/j/1") if s.id == "s1" else s
        for s in series.sessions))
    harness.clock.set(S1 - timedelta(days=5))
    harness.runtime.push_series(linked)
    assert run_at(harness, S1 - timedelta(days=5) + timedelta(minutes=5))["enqueued"] == 0
    run_at(harness, S1 - timedelta(days=1))
    sent = reminders(harness)
    assert len(sent) == 6 and set(sent.values()) == {1}  # 7-day and 1-day, once each
    last = [e for e in harness.outbox.entries() if e["kind"] == "reminder"][-1]
    raw = (harness.outbox_dir / str(last["file"])).read_bytes()
    assert "https://zoom.example/j/1" in _text(raw)


def test_registering_while_a_reminder_is_open_does_not_get_that_reminder(
        harness: Harness) -> None:
    harness.clock.set(S1 - timedelta(hours=20))  # the 1-day slot opened 4 hours ago, unsent
    harness.register(email="new@example.org", event_id="evt-new")
    harness.runtime.drain()
    report = run_at(harness, S1 - timedelta(hours=19))
    assert report["sent_slots"] == ["reirradiation-2023/s1#1d#20231026T1300Z"]
    assert report["enqueued"] == 0
    run_at(harness, S1 - timedelta(hours=1))
    assert list(reminders(harness)) == [("new@example.org", "s1", "2023-10-26T12:00:00Z")]


def test_a_reminder_held_up_past_its_window_is_not_sent(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.register_many(2)
    harness.clock.set(S1 - timedelta(hours=1))
    harness.runtime.tick()  # enqueued, but no sender runs before the session starts
    harness.clock.set(S1 + timedelta(minutes=1))
    harness.runtime.drain()
    assert reminders(harness) == Counter()
    assert harness.queued() == 0 and harness.runtime.dead_letters() == 0

    # Nothing expires silently: counted per kind and session, listed, and kept by a recount.
    store = harness.runtime.store
    counts = store.counts("reirradiation-2023")
    assert counts.mail_count("expired", kind="reminder", session="s1") == 2
    assert counts.mail_count("sent", kind="reminder") == 0
    listed, _ = store.sent_mail_page("reirradiation-2023", None, 100)
    assert sorted(m.states for m in listed if m.kind == "reminder") == \
        [frozenset({"expired"})] * 2
    assert repair_counts(store, "reirradiation-2023") == {}


def two_people_and_a_bounced_address(harness: Harness) -> None:
    """Registered for every session; the third address bounced since (suppressed)."""
    harness.register_many(2)
    harness.register(email="bounced@example.org", event_id="evt-b")
    harness.runtime.store.suppress(suppression_id("local-development-only",
                                                  "bounced@example.org"), "bounce",
                                   harness.clock.now())
    harness.runtime.drain()


def test_the_local_runner_reports_as_sent_only_what_the_mailer_took(harness: Harness) -> None:
    """Its log says "N emails sent": a reminder queued for a suppressed address is handled
    by the sender, not sent, and not counted."""
    two_people_and_a_bounced_address(harness)
    harness.clock.set(S1 - timedelta(days=7))
    assert harness.runtime.tick()["enqueued"] == 3
    assert harness.runtime.drain_sent() == 2


def test_a_late_reminder_to_a_suppressed_address_is_suppressed_not_expired(
        harness: Harness) -> None:
    """A reminder's fan-out queues suppressed addresses too (the sender's look-up stops
    them), so one held up past its window must not count, list or alarm as "expired"."""
    two_people_and_a_bounced_address(harness)
    harness.clock.set(S1 - timedelta(hours=1))
    assert harness.runtime.tick()["enqueued"] == 3
    harness.clock.set(S1 + timedelta(minutes=1))
    harness.runtime.drain()

    store = harness.runtime.store
    assert store.counts("reirradiation-2023").mail_count(
        "expired", kind="reminder", session="s1") == 2
    listed, _ = store.sent_mail_page("reirradiation-2023", None, 100)
    assert len([m for m in listed if m.kind == "reminder"]) == 2
    assert harness.queued() == 0 and harness.runtime.dead_letters() == 0


def test_a_late_reminder_to_someone_who_turned_reminders_off_is_withdrawn_not_expired(
        harness: Harness) -> None:
    harness.register_many(2)
    harness.runtime.drain()
    harness.clock.set(S1 - timedelta(hours=1))
    assert harness.runtime.tick()["enqueued"] == 2
    harness.update_registration("person1@example.org", reminders_off=True)  # meanwhile
    harness.clock.set(S1 + timedelta(minutes=1))
    harness.runtime.drain()

    counts = harness.runtime.store.counts("reirradiation-2023")
    assert counts.mail_count("expired", kind="reminder", session="s1") == 1


def test_a_late_reminder_whose_look_up_fails_is_counted_expired_all_the_same(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.register_many(2)
    harness.runtime.drain()
    harness.clock.set(S1 - timedelta(hours=1))
    harness.runtime.tick()
    sender = harness.runtime.services.sender

    def failing(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("DynamoDB failing")

    monkeypatch.setattr(sender.recipients, "recipient", failing)
    harness.clock.set(S1 + timedelta(minutes=1))
    harness.runtime.drain()

    counts = harness.runtime.store.counts("reirradiation-2023")
    assert counts.mail_count("expired", kind="reminder", session="s1") == 2
    assert harness.queued() == 0 and harness.runtime.dead_letters() == 0


def test_reminders_queued_for_a_session_cancelled_meanwhile_are_dropped_quietly(
        harness: Harness) -> None:
    harness.register_many(3)
    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()  # queued...
    series = load_series_file(SERIES_FILE)
    harness.runtime.push_series(replace(series, sessions=tuple(
        replace(s, status="cancelled") if s.id == "s1" else s for s in series.sessions)))
    harness.clock.advance(timedelta(minutes=2))  # past the sender's series cache
    harness.runtime.drain()  # ...then the session is cancelled before they go
    assert reminders(harness) == Counter()
    assert harness.runtime.dead_letters() == 0 and harness.queued() == 0


def test_the_sqs_queue_carries_a_fan_out_too(tmp_path: object) -> None:
    """The same fan-out through moto's SQS (exact, but slow at depth), with its DLQ settings."""
    from pathlib import Path

    from conftest import SECRET, START, registration_body
    from webinar_notify.adapters.clock import VirtualClock
    from webinar_notify.adapters.outbox import OutboxMailer
    from webinar_notify.core.signatures import sign
    from webinar_notify.local.runtime import LocalSettings, local_runtime

    clock = VirtualClock(START)
    outbox = OutboxMailer(Path(str(tmp_path)) / "o", clock)
    settings = LocalSettings(webhook_secrets={"generic": SECRET}, queue="sqs")
    with local_runtime(clock, outbox, settings) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        for i in range(12):
            body = registration_body(f"q{i}@example.org", "Q", f"e{i}", created=clock.now())
            headers = {"Webinar-Signature": sign(SECRET, int(clock.now().timestamp()), body)}
            assert runtime.request("POST", "/webhooks/generic/reirradiation-2023", headers,
                                   body).status == 202
        clock.set(S1 - timedelta(days=7))
        assert runtime.tick()["enqueued"] == 12
        runtime.drain()
        kinds = Counter(e["kind"] for e in outbox.entries())
        assert kinds == Counter({"confirmation": 12, "reminder": 12})
        assert runtime.dead_letters() == 0
