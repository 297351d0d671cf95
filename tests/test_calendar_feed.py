"""The personal calendar feed: every registered session, current, without any email."""

from __future__ import annotations

from icalendar import Calendar

from conftest import Harness


def _feed_path(harness: Harness) -> str:
    return harness.link(r"http://localhost:8000(/calendar/\S+\.ics)")


def test_the_feed_follows_a_cancellation_without_any_email(harness: Harness) -> None:
    harness.register(sessions=["s5", "s6"])
    path = _feed_path(harness)

    first = harness.runtime.request("GET", path, {}, b"")
    assert first.status == 200 and first.content_type.startswith("text/calendar")
    calendar = Calendar.from_ical(first.text)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert sorted(str(e["UID"]) for e in calendar.events) == [
        "s5.reirradiation-2023@events.estro.example", "s6.reirradiation-2023@events.estro.example"]
    assert not any("ATTENDEE" in e for e in calendar.events)  # PUBLISH: no attendees

    answer = harness.runtime.organiser("/organiser/series/reirradiation-2023/sessions/s6/cancel",
                                       {"quiet": True}, idempotency_key="cancel-s6")
    assert answer.status == 200
    second = harness.runtime.request("GET", path, {}, b"")
    s6 = next(e for e in Calendar.from_ical(second.text).events if str(e["UID"]).startswith("s6"))
    assert str(s6["STATUS"]) == "CANCELLED" and int(s6["SEQUENCE"]) == 1


def test_a_feed_link_that_was_altered_is_refused(harness: Harness) -> None:
    harness.register()
    path = _feed_path(harness)
    altered = path.replace(".ics", "x.ics")
    answer = harness.runtime.request("GET", altered, {}, b"")
    assert answer.status == 404
    french = harness.runtime.request("GET", altered, {"accept-language": "fr"}, b"")
    assert french.status == 404 and french.headers.get("Content-Language") == "fr"
    assert french.text != answer.text and french.text  # said in the reader's language


def test_the_feed_is_cached_privately_and_answers_304_when_unchanged(harness: Harness) -> None:
    from webinar_notify.entrypoints import api
    from webinar_notify.local.events import LocalContext, http_api_event

    harness.register()
    path = _feed_path(harness)
    first = api.lambda_handler(http_api_event("GET", path, {}, b"", harness.clock.now()),
                               LocalContext("api"))  # type: ignore[arg-type]
    headers = first["headers"]
    assert first["statusCode"] == 200 and headers["Cache-Control"] == "private, max-age=900"
    again = api.lambda_handler(http_api_event("GET", path, {"If-None-Match": headers["ETag"]},
                                              b"", harness.clock.now()),
                               LocalContext("api"))  # type: ignore[arg-type]
    assert again["statusCode"] == 304 and again["headers"]["ETag"] == headers["ETag"]


def test_the_feed_and_its_404_carry_the_page_security_headers(harness: Harness) -> None:
    """A feed is cached privately for 15 minutes (apps poll it; the ETag makes that cheap),
    but it is as personal as a page: never sniffed, framed or referred on. Its 404 is not
    cached at all."""
    harness.register()
    path = _feed_path(harness)
    feed = harness.runtime.request("GET", path, {}, b"")
    refused = harness.runtime.request("GET", path.replace(".ics", "x.ics"), {}, b"")
    for answer, cache in ((feed, "private, max-age=900"), (refused, "private, no-store")):
        assert answer.headers["Cache-Control"] == cache
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
