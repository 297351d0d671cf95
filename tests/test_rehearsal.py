"""The rehearsal of everything a series meets (scenarios/rehearsal.yaml), run once and read
from outside as an organiser would: the outbox, requests.jsonl and state.json; then the step
kinds' errors and the Eventbrite stand-in on their own."""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from webinar_notify.core.signatures import sign
from webinar_notify.core.text import registrant_id, suppression_id
from webinar_notify.local.scenario import ScenarioError, load_scenario
from webinar_notify.local.simulate import SimulationReport, simulate

ROOT = Path(__file__).resolve().parents[1]
REHEARSAL = ROOT / "scenarios" / "rehearsal.yaml"
SERIES_FILE = ROOT / "series" / "reirradiation-2023.yaml"
KEY = "local-development-only"  # the registrant key of every simulate run
A, B = "reirradiation-2023", "contouring-2023"
ANA, BEN, CHLOE = "ana.lima@example.org", "ben.okafor@example.net", "chloe.martin@example.fr"
FARID, KENJI = "farid.haddad@example.com", "kenji.watanabe@example.jp"


@dataclass(frozen=True)
class Run:
    report: SimulationReport
    timeline: str
    emails: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    state: dict[str, Any]

    def sent(self, to: str, series: str | None = None, kind: str | None = None
             ) -> list[dict[str, Any]]:
        return [e for e in self.emails if e["to"] == to and series in (None, e["series"])
                and kind in (None, e["kind"])]

    def request(self, path_start: str, method: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith(path_start)
                and method in (None, r["method"])]

    def message(self, entry: dict[str, Any]) -> EmailMessage:
        raw = (self.report.outbox / entry["file"]).read_bytes()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def items(self, sk_start: str) -> list[dict[str, Any]]:
        return [i for i in self.state["table"]["items"] if str(i["sk"]).startswith(sk_start)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = io.StringIO()
    report = simulate(load_scenario(REHEARSAL), tmp_path_factory.mktemp("rehearsal"), out)
    lines = (report.outbox / "log.jsonl").read_text(encoding="utf-8").splitlines()
    requests = (report.outbox / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    state = json.loads((report.outbox / "state.json").read_text(encoding="utf-8"))
    return Run(report, out.getvalue(), [json.loads(line) for line in lines],
               [json.loads(line) for line in requests], state)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_run_plays_every_step_and_leaves_every_record(run: Run) -> None:
    steps = load_scenario(REHEARSAL).steps
    assert run.report.requests == len(steps) == len(run.requests)
    assert run.report.step_errors == 0 and run.report.dead_letters == 0
    assert run.report.state == run.report.outbox / "state.json"
    assert all({"at", "method", "path", "status", "headers", "content_type", "body"} <= set(r)
               for r in run.requests)
    assert "@" not in run.timeline  # registrant ids, never addresses
    assert "eventbrite-url-token" not in run.timeline  # the URL's token is not printed


def test_registrations_through_two_series_get_one_confirmation_each(run: Run) -> None:
    confirmations = sorted((e["series"], e["to"]) for e in run.emails
                           if e["kind"] == "confirmation")
    assert confirmations == sorted([(A, ANA), (B, ANA), (A, BEN), (B, BEN), (A, FARID),
                                    (A, CHLOE), (B, KENJI)])


def test_an_eventbrite_order_is_read_from_the_api_stand_in_and_confirmed_once(run: Run) -> None:
    [delivery] = run.request(f"/webhooks/eventbrite/{B}")
    assert delivery["status"] == 202 and delivery["body"]["status"] == "registered"
    [confirmation] = run.sent(KENJI, B, "confirmation")
    assert run.message(confirmation)["To"] == f"Kenji Watanabe <{KENJI}>"
    assert "provider API GET https://www.eventbriteapi.com/v3/orders/5126713099/" \
        "?expand=attendees,answers -> 200" in run.timeline
    [stored] = [i for i in run.items(f"REG#{registrant_id(KEY, B, KENJI)}")]
    assert stored["full_name"] == "Kenji Watanabe" and stored["whole_series"] is True


def test_a_calendar_feed_fetched_shows_its_text_calendar_body(run: Run) -> None:
    [feed] = run.request(f"/calendar/{A}/", "GET")
    assert feed["status"] == 200
    assert feed["content_type"].startswith("text/calendar")
    assert feed["body"].startswith("BEGIN:VCALENDAR")
    assert "UID:s1.reirradiation-2023@events.estro.example" in feed["body"]
    [confirmation] = run.sent(CHLOE, A, "confirmation")
    html = run.message(confirmation).get_body(("html",))
    assert html is not None and feed["path"] in str(html.get_content())


def test_a_one_click_unsubscribe_from_a_reminder_stops_later_reminders(run: Run) -> None:
    [click] = run.request(f"/unsubscribe/{A}/", "POST")
    assert click["status"] == 200 and "unsubscribe" in click["body"].lower()
    clicked_at = _at(click["at"])
    before = [e for e in run.sent(ANA, A, "reminder") if _at(e["sent_at"]) <= clicked_at]
    after = [e for e in run.sent(ANA, A, "reminder") if _at(e["sent_at"]) > clicked_at]
    assert before and not after
    header = str(run.message(before[-1])["List-Unsubscribe"])
    [url] = re.findall(r"<(http[^>]+)>", header)
    assert url.endswith(click["path"])  # the very link of the header, posted bare
    # The series' reminders go on for others, and Ana's other series goes on for her.
    assert any(_at(e["sent_at"]) > clicked_at for e in run.sent(FARID, A, "reminder"))
    assert any(_at(e["sent_at"]) > clicked_at for e in run.sent(ANA, B, "reminder"))


def test_an_erased_registrant_leaves_no_copy_of_the_address_in_the_state(run: Run) -> None:
    presses = run.request(f"/manage/{A}/", "POST")
    assert [p["status"] for p in presses] == [200, 200]
    assert "Your data is deleted" in presses[-1]["body"]
    state_text = (run.report.outbox / "state.json").read_text(encoding="utf-8").lower()
    assert "chloe.martin" not in state_text and "chloé" not in state_text
    rid = registrant_id(KEY, A, CHLOE)
    assert run.items(f"ERASED#{rid}") and not run.items(f"REG#{rid}")
    erased_at = _at(presses[-1]["at"])
    assert all(_at(e["sent_at"]) < erased_at for e in run.sent(CHLOE))
    assert any(_at(e["sent_at"]) > erased_at for e in run.sent(FARID, A))


def test_a_hard_bounce_stops_every_later_email_to_the_address_in_both_series(run: Run) -> None:
    [bounce] = run.request("feedback:hard_bounce:")
    assert bounce["method"] == "SNS" and bounce["body"] == {"hard_bounces": 1}
    bounced_at = _at(bounce["at"])
    assert {e["series"] for e in run.sent(BEN) if _at(e["sent_at"]) < bounced_at} == {A, B}
    assert [e for e in run.sent(BEN) if _at(e["sent_at"]) >= bounced_at] == []
    for series, someone in ((A, FARID), (B, ANA)):  # both series send on, to others
        assert any(_at(e["sent_at"]) > bounced_at for e in run.sent(someone, series))
    assert run.items(f"SUPPRESSED#{suppression_id(KEY, BEN)}")


def test_a_delivery_and_a_soft_bounce_are_recorded_and_stop_nothing(run: Run) -> None:
    [delivered] = run.request("feedback:delivery:")
    [soft] = run.request("feedback:soft_bounce:")
    assert delivered["body"] == {"deliveries": 1} and soft["body"] == {"soft_bounces": 1}
    assert any(_at(e["sent_at"]) > _at(soft["at"]) for e in run.sent(KENJI, B, "reminder"))
    assert not run.items(f"SUPPRESSED#{suppression_id(KEY, KENJI)}")


def test_zoom_participants_are_signed_as_zoom_signs_and_recorded(run: Run) -> None:
    joined, left = run.request(f"/webhooks/zoom/{B}")
    assert (joined["status"], joined["body"]["status"]) == (200, "attendance")
    assert (left["status"], left["body"]["status"]) == (200, "presence")
    [ana] = run.items(f"REG#{registrant_id(KEY, B, ANA)}")
    assert ana["attended"] == ["c1"]
    kept = run.items(f"PERSON#{registrant_id(KEY, B, ANA)}#PRESENCE#c1#E#")
    assert sorted(json.loads(i["body"])["kind"] for i in kept) == ["joined", "left"]


def test_an_announcement_is_found_by_its_id(run: Run) -> None:
    [page] = run.request(f"/unsubscribe/{B}/", "GET")
    assert page["status"] == 200 and page["content_type"].startswith("text/html")
    [announcement] = run.sent(KENJI, B, "announcement")
    header = str(run.message(announcement)["List-Unsubscribe"])
    assert page["path"] in header


def _scenario(tmp_path: Path, steps: list[dict[str, Any]], secrets: dict[str, str]) -> Path:
    """A one-series scenario around a registration by ann@example.org on 2 October 2023."""
    at = datetime(2023, 10, 2, 9, 0, tzinfo=UTC)
    body = json.dumps({"id": "evt-1", "type": "registration.created",
                       "created": int(at.timestamp()),
                       "data": {"registrant": {"email": "ann@example.org", "full_name": "Ann"}}})
    register = {"at": "2023-10-02T09:00:00Z", "request": {
        "path": f"/webhooks/generic/{A}", "body": body,
        "headers": {"Content-Type": "application/json",
                    "Webinar-Signature": sign("s3cret", int(at.timestamp()), body.encode())}}}
    document = {"series": str(SERIES_FILE), "start": "2023-10-01T08:00:00Z",
                "until": "2023-10-03T00:00:00Z", "secrets": {"generic": "s3cret", **secrets},
                "steps": [register, *steps]}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_steps_that_cannot_be_played_are_step_errors_and_the_run_goes_on(
        tmp_path: Path) -> None:
    ann = {"to": "ann@example.org"}
    order = "https://www.eventbriteapi.com/v3/orders/404404/"
    scenario = _scenario(tmp_path, [
        {"at": "2023-10-02T10:00:00Z", "follow": {"email": {"to": "nobody@example.org"},
                                                  "link": "manage"}},
        {"at": "2023-10-02T10:01:00Z", "follow": {"email": {**ann, "kind": "reminder"},
                                                  "link": "manage"}},
        {"at": "2023-10-02T10:02:00Z", "follow": {"email": ann, "link": "unsubscribe",
                                                  "one_click": True}},
        {"at": "2023-10-02T10:03:00Z", "follow": {"email": {**ann, "pick": 2},
                                                  "link": "manage"}},
        {"at": "2023-10-02T10:04:00Z", "follow": {
            "email": ann, "link": "manage", "method": "POST",
            "form": {"action": "erase_confirmed"}, "from_page": True}},
        {"at": "2023-10-02T10:05:00Z", "ses": {"event": "complaint",
                                               "to": "nobody@example.org"}},
        {"at": "2023-10-02T10:06:00Z", "request": {
            "path": f"/webhooks/eventbrite/{A}?token=t", "body": json.dumps(
                {"config": {"action": "order.placed"}, "api_url": order})}},
        {"at": "2023-10-02T10:07:00Z", "follow": {"email": ann, "link": "/manage/"}},
    ], {"eventbrite": "t", "eventbrite-oauth": "o"})
    out = io.StringIO()
    report = simulate(load_scenario(scenario), tmp_path / "outbox", out)
    records = [json.loads(line) for line in
               (tmp_path / "outbox" / "requests.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == [202, 400, 400, 400, 400, 400, 400, 400, 200]
    errors = [r["body"]["error"] for r in records if r["method"] == "STEP"]
    assert errors == [
        "no email pick=last email to that address has been sent yet",
        "no reminder pick=last email to that address has been sent yet",
        "the email has no unsubscribe link to this API",
        "only 1 email pick=2 emails match, not 2",
        "from_page: no earlier page on this link to take the form from",
        "no email pick=last email to that address has been sent yet"]
    assert records[7]["body"] == {"error": "the provider's API answered 404"}
    assert report.step_errors == 6 and report.emails == 1
    assert "follow: step error -> 400" in out.getvalue() and "@" not in out.getvalue()
    assert (tmp_path / "outbox" / "state.json").exists()


@pytest.mark.parametrize(("step", "message"), [
    ({"follow": {"email": {"to": "a@example.org"}, "link": "elsewhere"}}, "steps[0].follow.link"),
    ({"follow": {"email": {"kind": "reminder"}, "link": "manage"}}, "steps[0].follow.email.to"),
    ({"follow": {"email": {"to": "a@example.org", "kind": "letter"}, "link": "manage"}},
     "steps[0].follow.email.kind: expected one of confirmation"),
    ({"follow": {"email": {"to": "a@example.org", "pick": 0}, "link": "manage"}},
     "steps[0].follow.email.pick"),
    ({"follow": {"email": {"to": "a@example.org", "colour": "red"}, "link": "manage"}},
     "steps[0].follow.email.colour: unknown field"),
    ({"follow": {"email": {"to": "a@example.org"}, "link": "manage", "one_click": True}},
     "steps[0].follow.one_click"),
    ({"follow": {"email": {"to": "a@example.org"}, "link": "manage", "from_page": True}},
     "steps[0].follow.from_page"),
    ({"follow": {"email": {"to": "a@example.org"}, "link": "manage", "method": "PUT"}},
     "steps[0].follow.method"),
    ({"ses": {"event": "bounce", "to": "a@example.org"}}, "steps[0].ses.event"),
    ({"ses": {"event": "hard_bounce"}}, "steps[0].ses.to"),
    ({"zoom": {"event": "joined", "webinar": "81234567890", "email": "a@example.org"}},
     "steps[0].zoom: the scenario's secrets need a zoom secret"),
    ({"zoom": {"event": "sat", "webinar": "1", "email": "a@example.org"}},
     "steps[0].zoom.event"),
    ({"organiser": {"action": "cancel_session", "session": "s1"}, "series": "other"},
     "steps[0].series: expected one of reirradiation-2023"),
    ({"ses": {"event": "delivery", "to": "a@example.org"}, "series": A}, "steps[0].series"),
    ({"follow": {"email": {"to": "a@example.org"}, "link": "manage"}, "request": {}},
     "steps[0]: expected `at` and one of"),
    ({"follow": {"email": {"to": "a@example.org"}, "link": "manage"}, "colour": 1},
     "steps[0].colour: unknown field"),
])
def test_every_new_step_shape_is_checked_with_an_error_naming_the_field(
        tmp_path: Path, step: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({
        "series": str(SERIES_FILE), "start": "2023-10-01T08:00:00Z",
        "until": "2023-10-03T00:00:00Z", "steps": [{"at": "2023-10-02T10:00:00Z", **step}]}))
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(path)


@pytest.mark.parametrize(("top", "message"), [
    ({"series": [str(SERIES_FILE), str(SERIES_FILE)]}, "series: reirradiation-2023 is listed"),
    ({"series": []}, "series: required"),
    ({"provider_api": {"http://www.eventbriteapi.com/v3/orders/1/": {"json": {}}}},
     "expected an https URL"),
    ({"provider_api": {"https://www.eventbriteapi.com/v3/orders/1/": {"file": "none.json"}}},
     ".file: No such file"),
    ({"provider_api": {"https://www.eventbriteapi.com/v3/orders/1/": {"status": 99}}},
     ".status: expected an HTTP status"),
    ({"provider_api": {"https://www.eventbriteapi.com/v3/orders/1/": {"jsn": {}}}},
     ".jsn: unknown field"),
])
def test_scenario_fields_are_checked(tmp_path: Path, top: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"series": str(SERIES_FILE), "start": "2023-10-01T08:00:00Z",
                                    "until": "2023-10-03T00:00:00Z", **top}))
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(path)


def test_organiser_steps_name_their_series_when_there_are_several(tmp_path: Path) -> None:
    second = ROOT / "scenarios" / "rehearsal" / "contouring-2023.yaml"
    path = tmp_path / "two.yaml"
    base = {"series": [str(SERIES_FILE), str(second)], "start": "2023-10-01T08:00:00Z",
            "until": "2023-10-03T00:00:00Z"}
    cancel = {"at": "2023-10-02T10:00:00Z",
              "organiser": {"action": "cancel_session", "session": "c1"}}
    path.write_text(yaml.safe_dump({**base, "steps": [cancel]}))
    with pytest.raises(ScenarioError, match=re.escape("steps[0].series: required when")):
        load_scenario(path)
    path.write_text(yaml.safe_dump({**base, "steps": [{**cancel, "series": B}]}))
    scenario = load_scenario(path)
    assert [s.id for s in scenario.all_series] == [A, B] and scenario.series.id == A
    assert scenario.steps[0].series_id == B  # type: ignore[union-attr]


def test_an_eventbrite_delivery_says_why_its_order_cannot_be_read(tmp_path: Path) -> None:
    from webinar_notify import bootstrap
    from webinar_notify.adapters.clock import VirtualClock
    from webinar_notify.adapters.outbox import OutboxMailer
    from webinar_notify.local.runtime import LocalSettings, local_runtime
    from webinar_notify.series_files import load_series_file

    clock = VirtualClock(datetime(2023, 10, 2, 9, 0, tzinfo=UTC))
    series = load_series_file(ROOT / "scenarios" / "rehearsal" / "contouring-2023.yaml")
    body = json.dumps({"config": {"action": "order.placed"},
                       "api_url": "https://www.eventbriteapi.com/v3/orders/5126713099/"})
    path = f"/webhooks/eventbrite/{B}?token=t"
    with local_runtime(clock, OutboxMailer(tmp_path, clock),
                       LocalSettings(webhook_secrets={"eventbrite": "t"})) as runtime:
        runtime.push_series(series)
        no_token = runtime.request("POST", path, {}, body.encode())
        bootstrap.services().intake.fetcher = None
        no_fetcher = runtime.request("POST", path, {}, body.encode())
        assert runtime.fetcher.fetched == []  # nothing was asked of the API
    assert (no_token.status, no_token.body["error"]) == (
        400, f"no `eventbrite-oauth` secret for series {B}: the order cannot be read from "
             "eventbrite's API")
    assert (no_fetcher.status, no_fetcher.body["error"]) == (
        400, "this deployment cannot read eventbrite's API (no fetcher is configured)")


def test_links_are_read_as_a_mail_client_reads_them_and_only_ours_are_followed() -> None:
    from webinar_notify.local.email_links import (
        StepError,
        email_links,
        form_on_page,
        pick_link,
    )

    message = EmailMessage()
    message["List-Unsubscribe"] = ("<https://api.example/unsubscribe/s/tok1?scope=all>, "
                                   "<mailto:list@example.org?subject=unsubscribe>")
    message.set_content("Your registration: https://api.example/manage/s/tok2\n"
                        "Recording: https://elsewhere.example/manage/s/x\n")
    message.add_alternative('<a href="https://elsewhere.example/optin/s/x">x</a>'
                            '<a href="webcal://api.example/calendar/s/tok3.ics?a=1&amp;b=2">c</a>',
                            subtype="html")
    assert [where for where, _ in email_links(message)] == [
        "list-unsubscribe", "html", "html", "text", "text"]
    base = "https://api.example"
    assert pick_link(message, "unsubscribe", base) == "/unsubscribe/s/tok1?scope=all"
    assert pick_link(message, "calendar", base) == "/calendar/s/tok3.ics?a=1&b=2"
    assert pick_link(message, "/manage/", base) == "/manage/s/tok2"
    with pytest.raises(StepError, match="no opt_in link to this API"):
        pick_link(message, "opt_in", base)  # only another host's

    page = ('<form method="post"><input type="hidden" name="action" value="drop">'
            '<input type="hidden" name="session" value="s2"><button>Drop</button></form>'
            '<form method="post"><input type="hidden" name="action" value="erase_confirmed">'
            '<input type="hidden" name="confirm" value="v.1&amp;2">'
            '<input type="checkbox" name="also" value="x"></form>')
    assert form_on_page(page, {"action": "erase_confirmed"}) == {
        "action": "erase_confirmed", "confirm": "v.1&2"}
    with pytest.raises(StepError, match="no form with action=erase"):
        form_on_page(page, {"action": "erase"})


def test_the_provider_api_stand_in_answers_only_where_the_real_fetcher_would_ask() -> None:
    from webinar_notify.core.errors import PayloadError, RetryableError
    from webinar_notify.local.provider_api import LocalFetcher, ProviderAnswer

    host = "www.eventbriteapi.com"
    fetcher = LocalFetcher({f"https://{host}/v3/orders/1": ProviderAnswer(200, {"id": "1"}),
                            f"https://{host}/v3/orders/2": ProviderAnswer(503, {})})
    assert fetcher.get_json(f"https://{host}/v3/orders/1/", "token", host) == {"id": "1"}
    expanded = f"https://{host}/v3/orders/1/?expand=attendees,answers"  # as the intake asks
    assert fetcher.get_json(expanded, "token", host) == {"id": "1"}
    for url, token, error, message in [
        ("https://attacker.example/v3/orders/1/", "token", PayloadError, "refusing"),
        (f"https://{host}/v3/users/me/", "token", PayloadError, "refusing"),
        (f"https://{host}/v3/orders/1/?expand=x", "token", PayloadError, "refusing"),
        (f"https://{host}/v3/orders/3/", "token", PayloadError, "answered 404"),
        (f"https://{host}/v3/orders/1/", "", PayloadError, "answered 401"),
        (f"https://{host}/v3/orders/2/", "token", RetryableError, "answered 503"),
    ]:
        with pytest.raises(error, match=message):
            fetcher.get_json(url, token, host)
    assert [(f.url.rsplit("/", 2)[-2], f.status) for f in fetcher.fetched] == [
        ("1", 200), ("1", 200), ("3", 404), ("1", 401), ("2", 503)]
