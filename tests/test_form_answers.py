"""Forms as they arrive: each provider's delivery, shaped like its published example with every
choice type it has (tests/payloads/), signed as that provider signs, becomes the right
registrant and exactly one confirmation; choice answers map the same way for every provider."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from conftest import SERIES_FILE, START, Harness
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.fetcher import allowed_url
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.errors import PayloadError, SeriesFileError
from webinar_notify.core.providers import PROVIDERS, FetchFirst
from webinar_notify.core.providers.answers import mapped_event
from webinar_notify.core.providers.choices import Choice, lookup
from webinar_notify.core.providers.eventbrite import ORDER_EXPANSION, order_answers
from webinar_notify.core.providers.jotform import JotformProvider
from webinar_notify.core.registration import Registrant, RegistrationEvent, apply_event
from webinar_notify.core.series import Series
from webinar_notify.core.series_document import parse_series
from webinar_notify.core.signatures import sign
from webinar_notify.core.text import clean_name, language_tag, registrant_id
from webinar_notify.local.runtime import LocalSettings, local_runtime

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "form-secret"
SERIES_ID = "reirradiation-2023"
TORONTO_S1 = "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)"
TORONTO_S1_FR = "jeudi 26 octobre 2023 09:00 EDT (15:00 CEST)"  # a French answer reads French

# The series file's `forms:`, as an organiser would write it (docs/providers/).
FORMS_YAML = """
typeform:
  email: email
  full_name: [first_name, last_name]
  time_zone: {question: tz, values: {toronto: America/Toronto, brussels: Europe/Brussels}}
  sessions: {question: sessions, values: {session-1: s1, session-2: s2, session-5: s5}}
  language: {question: language, values: {"français": fr, English: en}}
  consent: reminders_ok
  interests: {question: more, values: {glasgow: estro24-pre-meeting, nothing: null}}
tally:
  email: Email
  full_name: Your name
  time_zone: Your time zone          # a dropdown whose options are zone names
  sessions:
    question: Which sessions?
    values: {"session 1  (26 oct)": s1, "Session 2 (6 Nov)": s2,
             9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d: s5}
  language:
    question: Language for emails
    values: {a9b8c7d6-e5f4-4a3b-2c1d-0e9f8a7b6c5d: en, e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b: ga}
  consent: Reminders
  interests:
    question: Keep me posted about
    values: {The ESTRO24 pre-meeting course: estro24-pre-meeting, Nothing else: null}
zoom:
  webinars: {"81234567890": s1}
  time_zone: Your time zone
  language: {question: Preferred language, values: {"Français": fr-CA, English: en-CA}}
  consent: Send me reminders before each session
  interests: {"Interested in the Glasgow pre-meeting course?": estro24-pre-meeting}
jotform:
  email: q4_email
  full_name: q3_name
  time_zone:
    question: q5_timeZone
    values: {"(GMT-05:00) Toronto": America/Toronto, "(GMT+01:00) Brussels": Europe/Brussels}
  sessions: q6_sessions
  choices: {"26 Oct: Challenges & Opportunities": s1, "5 Feb: Brain": s5}
  language: {question: q7_language, values: {English: en-IE, Gaeilge: ga}}
  consent: q8_reminders
  interests: {question: q9_keepMe, values: {The Glasgow pre-meeting course: estro24-pre-meeting}}
msforms:
  email: Email address
  full_name: Full name
  time_zone: {question: Time zone, values: {"Indochina Time (Ho Chi Minh City)": Asia/Ho_Chi_Minh}}
  sessions: {question: Sessions, values: {"26 October": s1, "6 November": s2}}
  language: {question: Language, values: {"Tiếng Việt": vi, English: en}}
  consent: {question: Reminders, values: {"Yes": true, "No": false}}
  interests:
    question: Keep me posted
    values: {"Pre-meeting course (Glasgow)": estro24-pre-meeting}
eventbrite:
  webinars: {"717926867587": "*"}
  time_zone: Your time zone
  language: {question: "287638512", values: {"English (Ireland)": en-IE}}
  consent: {question: Reminders before each session, values: {"Yes please": yes, "No thanks": no}}
  interests:
    question: Keep me posted about
    values: {The ESTRO24 pre-meeting course: estro24-pre-meeting}
"""


def series_with(forms: dict[str, Any]) -> Series:
    """The seed series with these form mappings, read as a series file is read."""
    doc = yaml.safe_load(SERIES_FILE.read_text(encoding="utf-8"))
    return parse_series({**doc, "forms": forms})


SERIES = series_with(yaml.safe_load(FORMS_YAML))


@pytest.fixture(scope="module")
def forms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One runtime for the module (each test here has its own people, and redeliveries are
    idempotent), so the examples cost one moto start-up, not one each."""
    tmp_path = tmp_path_factory.mktemp("forms")
    clock = VirtualClock(START)
    outbox = OutboxMailer(tmp_path / "outbox", clock)
    secrets = {name: SECRET for name in ("generic", "typeform", "tally", "zoom", "msforms",
                                         "jotform", "eventbrite", "eventbrite-oauth")}
    with local_runtime(clock, outbox, LocalSettings(webhook_secrets=secrets)) as runtime:
        runtime.push_series(SERIES)
        yield Harness(runtime, clock, outbox, tmp_path / "outbox")


def _b64_hmac(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def _eventbrite_order(harness: Harness) -> None:
    """Stand in for Eventbrite's API: the order the webhook's api_url points at."""
    from webinar_notify import bootstrap

    order = json.loads((PAYLOADS / "eventbrite-order.json").read_text(encoding="utf-8"))

    class Eventbrite:
        def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]:
            assert url == f"{order['resource_uri']}?{ORDER_EXPANSION}"  # answers included
            assert allowed_url(url, allowed_host) and allowed_host == "www.eventbriteapi.com"
            return cast(dict[str, Any], order)

    bootstrap.services().intake.fetcher = Eventbrite()


def deliver(harness: Harness, provider: str) -> Any:
    """POST tests/payloads/<provider>'s delivery, signed (or tokened) as that provider does."""
    at = int(harness.clock.now().timestamp())
    path = f"/webhooks/{provider}/{SERIES_ID}"
    if provider == "jotform":
        body = (PAYLOADS / "jotform.multipart").read_bytes()
        boundary = body.split(b"\r\n", 1)[0][2:].decode()
        return harness.runtime.request(
            "POST", f"{path}?token={SECRET}",
            {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body)
    name = "eventbrite-webhook" if provider == "eventbrite" else provider
    body = (PAYLOADS / f"{name}.json").read_bytes()
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if provider == "typeform":
        headers["Typeform-Signature"] = f"sha256={_b64_hmac(body)}"
    elif provider == "tally":
        headers["Tally-Signature"] = _b64_hmac(body)
    elif provider == "zoom":
        digest = hmac.new(SECRET.encode(), f"v0:{at}:".encode() + body, hashlib.sha256)
        headers |= {"x-zm-signature": f"v0={digest.hexdigest()}",
                    "x-zm-request-timestamp": str(at)}
    elif provider == "msforms":
        headers["X-Webinar-Token"] = SECRET
    elif provider == "eventbrite":
        _eventbrite_order(harness)
        path += f"?token={SECRET}"
    elif provider == "generic":
        headers["Webinar-Signature"] = sign(SECRET, at, body)
    return harness.runtime.request("POST", path, headers, body)


def delivered(harness: Harness, provider: str) -> bool:
    """Delivered and accepted: registered now, or already (the module shares one runtime)."""
    answer = deliver(harness, provider)
    assert (answer.status, answer.body["status"]) in ((202, "registered"), (200, "duplicate")), \
        answer.body
    return True


@dataclass(frozen=True)
class Expected:
    address: str
    name: str
    zone: str
    sessions: frozenset[str] | None  # None: the whole series
    language: str
    consent: dict[str, Any]
    in_text: str = ""  # a line the confirmation must show (a session in the person's zone)
    hello: str = "Dear"  # how the email greets them, in their language


EXPECTED = {
    "typeform": Expected("zoe@example.ca", "Zoë O'Brien-Łukasik", "America/Toronto",
                         frozenset({"s1", "s2"}), "fr", {"answer": True}, TORONTO_S1_FR,
                         "Bonjour"),
    "tally": Expected("siobhan@example.ie", "Siobhán O'Donnell", "America/Toronto",
                      frozenset({"s1", "s5"}), "ga", {"answer": True}, TORONTO_S1),
    "zoom": Expected("renee@example.ca", "Renée D'Aragon", "America/Toronto",
                     frozenset({"s1"}), "fr-CA", {"answer": True}, TORONTO_S1_FR, "Bonjour"),
    "jotform": Expected("ciaran@example.ie", "Ciarán O'Brien", "America/Toronto",
                        frozenset({"s1", "s5"}), "en-IE", {"answer": True}, TORONTO_S1),
    "msforms": Expected("nguyen@example.vn", "Nguyễn Thị Minh Khai", "Asia/Ho_Chi_Minh",
                        frozenset({"s1", "s2"}), "vi", {"answer": True},
                        "Thu 26 Oct 2023 20:00 UTC+7 (15:00 CEST)"),
    "eventbrite": Expected("maire@example.ie", "Máire O'Sullivan", "Europe/Dublin", None,
                           "en-IE", {"answer": True},
                           "Thu 26 Oct 2023 14:00 IST (15:00 CEST)"),
    "generic": Expected("anais@example.be", "Anaïs D'Hondt", "Europe/Brussels",
                        frozenset({"s1", "s5"}), "fr-BE", {"reminders": True},
                        "jeudi 26 octobre 2023 15:00 CEST", "Bonjour"),
}


def stored(harness: Harness, address: str) -> Any:
    rid = registrant_id("local-development-only", SERIES_ID, address)
    return harness.runtime.store.get_registration(SERIES_ID, rid)


def sent_to(harness: Harness, address: str) -> list[tuple[dict[str, Any], EmailMessage]]:
    harness.runtime.drain()
    return [(entry, cast(EmailMessage, email.message_from_bytes(
        (harness.outbox_dir / str(entry["file"])).read_bytes(), policy=email.policy.default)))
        for entry in harness.outbox.entries() if entry["to"] == address]


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(cast(EmailMessage, part).get_content())


@pytest.mark.parametrize("provider", list(EXPECTED))
def test_each_providers_example_becomes_the_registrant_and_one_confirmation(
        forms: Harness, provider: str) -> None:
    want = EXPECTED[provider]
    assert delivered(forms, provider)
    registration = stored(forms, want.address)
    person = registration.registrant
    assert person.full_name == want.name  # as typed, in NFC; apostrophes kept
    assert person.time_zone == want.zone
    assert person.language == want.language
    if want.sessions is None:
        assert registration.whole_series
    else:
        assert registration.session_ids == want.sessions and not registration.whole_series
    assert json.loads(registration.consent) == want.consent
    assert registration.interests == frozenset({"estro24-pre-meeting"})

    [(entry, message)] = sent_to(forms, want.address)
    assert entry["kind"] == "confirmation"
    assert message["To"].addresses[0].display_name == want.name
    text = body(message, "plain")
    assert f"{want.hello} {want.name}," in text and want.in_text in text
    # French answers read French; Irish, Vietnamese (not written yet) and English read English
    assert message["Content-Language"] == ("fr" if want.language.startswith("fr") else "en")
    assert "&#" not in text and "&#039;" not in body(message, "html")
    if provider == "zoom":
        assert "https://example.zoom.us/w/81234567890?tk=personal-renee" in text
        assert registration.join_url_for("s1").endswith("tk=personal-renee")


def test_a_redelivered_example_is_still_one_registration_and_one_email(forms: Harness) -> None:
    for provider in ("tally", "jotform"):
        assert delivered(forms, provider)
        again = deliver(forms, provider)
        assert again.status == 200 and again.body["status"] == "duplicate"
    for provider in ("tally", "jotform"):
        assert len(sent_to(forms, EXPECTED[provider].address)) == 1


def test_a_tally_dropdown_time_zone_is_accepted(forms: Harness) -> None:
    """The dropdown's value is a list of option ids; its text is the zone: once a 400."""
    doc = json.loads((PAYLOADS / "tally.json").read_text(encoding="utf-8"))
    [dropdown] = [f for f in doc["data"]["fields"] if f["type"] == "DROPDOWN"]
    assert isinstance(dropdown["value"], list)
    assert delivered(forms, "tally")
    assert stored(forms, "siobhan@example.ie").registrant.time_zone == "America/Toronto"
    [(_, message)] = sent_to(forms, "siobhan@example.ie")
    assert TORONTO_S1 in body(message, "plain")


def test_jotform_answers_are_html_decoded_once(forms: Harness) -> None:
    raw = (PAYLOADS / "jotform.multipart").read_bytes()
    assert b"O&#039;Brien" in raw
    assert delivered(forms, "jotform")
    [(_, message)] = sent_to(forms, "ciaran@example.ie")
    assert message["To"].addresses[0].display_name == "Ciarán O'Brien"
    assert "Dear Ciarán O'Brien," in body(message, "plain")
    html_part = body(message, "html")
    assert "O&#39;Brien" in html_part or "O&#x27;Brien" in html_part  # escaped once, for HTML
    parsed = JotformProvider().parse(_jotform_with({"q3_name": {"first": "A&amp;amp;B",
                                                               "last": "Tom &lt;3"}}), SERIES)
    assert parsed.registrant.full_name == "A&amp;B Tom <3"  # decoded once, not twice


def _jotform_with(changes: dict[str, Any]) -> bytes:
    raw = (PAYLOADS / "jotform.multipart").read_bytes()
    start = raw.index(b'name="rawRequest"\r\n\r\n') + len(b'name="rawRequest"\r\n\r\n')
    end = raw.index(b"\r\n--", start)
    answers = {**json.loads(raw[start:end]), **changes}
    return raw[:start] + json.dumps(answers).encode() + raw[end:]


def test_a_zoom_custom_question_gives_toronto_times_not_brussels(forms: Harness) -> None:
    assert delivered(forms, "zoom")
    [(_, message)] = sent_to(forms, "renee@example.ca")
    assert TORONTO_S1_FR in body(message, "plain")  # she answered French (fr-CA)
    assert "jeudi 26 octobre 2023 15:00 CEST\n" not in body(message, "plain")


def test_an_eventbrite_order_is_read_with_its_answers_from_the_buyers_ticket() -> None:
    """The default order holds no answers: it is read with the one expansion that has them;
    the buyer's own answers and their ticket's count, never another attendee's."""
    webhook = (PAYLOADS / "eventbrite-webhook.json").read_bytes()
    pointer = PROVIDERS["eventbrite"].parse(webhook, SERIES, [SECRET])
    assert isinstance(pointer, FetchFirst)
    assert pointer.url == "https://www.eventbriteapi.com/v3/orders/5126713099/" \
        "?expand=attendees,answers"
    order = json.loads((PAYLOADS / "eventbrite-order.json").read_text(encoding="utf-8"))
    answers = order_answers(order)
    assert answers["Your time zone"] == answers["287638511"] == "Europe/Dublin"  # not Aoife's
    assert answers["Language for emails"] == "English (Ireland)"  # the buyer's own question
    assert answers["Keep me posted about"] == ["The ESTRO24 pre-meeting course", "Other news"]
    assert "Anything else?" not in answers  # asked, not answered
    bare = {k: v for k, v in order.items() if k not in ("answers", "attendees")}
    assert set(order_answers(bare)) == {k for k, v in bare.items()
                                        if isinstance(v, str | int | float)}
    doc = json.loads(webhook)
    doc["api_url"] += "?expand=event"
    with pytest.raises(PayloadError, match="no query of its own"):
        PROVIDERS["eventbrite"].parse(json.dumps(doc).encode(), SERIES, [SECRET])


def test_typeform_answers_without_a_ref_take_it_from_the_definition() -> None:
    """Typeform's published example sends ``field: {id, type}``: the ref is in definition."""
    doc = json.loads((PAYLOADS / "typeform.json").read_text(encoding="utf-8"))
    assert "ref" not in doc["form_response"]["answers"][3]["field"]
    parsed = PROVIDERS["typeform"].parse(json.dumps(doc).encode(), SERIES, [SECRET])
    assert isinstance(parsed, RegistrationEvent)
    assert parsed.registrant.time_zone == "America/Toronto"
    del doc["form_response"]["definition"]
    by_id = series_with({"typeform": {"email": "k6TP9oLGgHjl", "time_zone": {
        "question": "Xo8a2Rw1vLTz", "values": {"toronto": "America/Toronto"}}}})
    parsed = PROVIDERS["typeform"].parse(json.dumps(doc).encode(), by_id, [SECRET])
    assert isinstance(parsed, RegistrationEvent)  # a question can be mapped by its field id
    assert parsed.registrant.time_zone == "America/Toronto"


@pytest.mark.parametrize("sessions", [
    "[\"26 October\",\"6 November\"]",  # Get response details, as the flow's JSON string
    ["26 October", "6 November"],  # a flow that sends json(...) of it
    "26 October;6 November;",  # the older joined form
])
def test_microsoft_forms_multiple_answers_read_the_same_in_every_shape(sessions: object) -> None:
    doc = json.loads((PAYLOADS / "msforms.json").read_text(encoding="utf-8"))
    doc["answers"]["Sessions"] = sessions
    parsed = PROVIDERS["msforms"].parse(json.dumps(doc).encode(), SERIES, [SECRET])
    assert isinstance(parsed, RegistrationEvent) and parsed.session_ids == ("s1", "s2")


def test_the_data_download_includes_the_language(forms: Harness) -> None:
    assert delivered(forms, "generic")
    path = forms.link(r"http://localhost:8000(/manage/\S+)", to="anais@example.be")
    data = forms.runtime.request("GET", f"{path}/data", {}, b"")
    assert data.status == 200 and data.body["language"] == "fr-BE"


# ---- one mapper for every provider -------------------------------------------------------


def event(answers: dict[str, Any], mapping: dict[str, Any]) -> RegistrationEvent:
    series = series_with({"typeform": {"email": "email", **mapping}})
    return mapped_event("typeform", "evt-1", 1, {"email": "a@example.org", **answers}, series)


def test_an_option_is_found_by_id_then_label_then_loosely() -> None:
    values = {"opt-1": "by id", "Toronto": "by label", "new  york ": "loosely"}
    assert lookup(values, Choice("Toronto", "opt-1")) == (True, "by id")
    assert lookup(values, Choice("Toronto", "other-id")) == (True, "by label")
    assert lookup(values, Choice("NEW\u00a0York", "x")) == (True, "loosely")
    assert lookup({"Français": "fr"}, Choice("FRANC\u0327AIS")) == (True, "fr")
    assert lookup(values, Choice("Montréal")) == (False, None)


@pytest.mark.parametrize("answer", [
    "Toronto", Choice("Toronto", "zzz"), [Choice("x", "opt-t")], ["toronto"]])
def test_every_shape_of_a_choice_answer_maps_the_same_way(answer: object) -> None:
    mapping = {"time_zone": {"question": "tz", "values": {"opt-t": "America/Toronto",
                                                         "Toronto": "America/Toronto"}}}
    assert event({"tz": answer}, mapping).registrant.time_zone == "America/Toronto"


def test_a_plain_key_means_the_answer_itself() -> None:
    mapping = {"time_zone": "tz", "language": "lang", "sessions": "s", "consent": "ok"}
    mapped = event({"tz": [Choice("Asia/Tokyo", "id1")], "lang": Choice("pt_br"),
                    "s": [Choice("s2", "a"), "s3"], "ok": [Choice("No", "n1")]}, mapping)
    assert mapped.registrant.time_zone == "Asia/Tokyo"
    assert mapped.registrant.language == "pt-BR"
    assert mapped.session_ids == ("s2", "s3")
    assert mapped.consent == {"answer": False}  # a dropdown answered "No" is no consent


def test_an_option_for_the_whole_series_and_options_that_mean_nothing() -> None:
    mapped = event({"s": ["Everything", "26 Oct"], "tz": "Not sure", "more": ["Other"]}, {
        "sessions": {"question": "s", "values": {"Everything": "*", "26 Oct": "s1"}},
        "time_zone": {"question": "tz", "values": {"Not sure": None}},
        "interests": {"question": "more", "values": {"Course": "estro24-pre-meeting"}}})
    assert mapped.session_ids is None  # the whole series
    assert mapped.registrant.time_zone == ""  # the series' zone
    assert mapped.interests == ()  # an option that is no coming item is passed over


@pytest.mark.parametrize(("answers", "mapping", "message"), [
    ({"tz": "Mars/Base"}, {"time_zone": "tz"}, "answer 'tz': 'Mars/Base' is not a time zone"),
    ({"tz": "Lisbon"}, {"time_zone": {"question": "tz", "values": {"Porto": "Europe/Lisbon"}}},
     "answer 'tz': 'Lisbon' is not a time zone"),
    ({"tz": ["Asia/Tokyo", "Asia/Seoul"]}, {"time_zone": "tz"},
     "answer 'tz': expected one time zone"),
    ({"s": ["Session 9"]}, {"sessions": {"question": "s", "values": {"One": "s1"}}},
     "answer 's': 'Session 9' is not a session of this series"),
    ({"lang": "English"}, {"language": "lang"}, "answer 'lang': 'English' is not a language"),
    ({"ok": "Maybe"}, {"consent": {"question": "ok", "values": {"Sure": True}}},
     "answer 'ok': 'Maybe' is not an option of `values` for consent"),
])
def test_an_answer_that_maps_to_nothing_we_know_is_a_payload_error(
        answers: dict[str, Any], mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError, match="^" + message.replace("(", r"\(")):
        event(answers, mapping)


def test_a_refused_answer_is_a_400_and_stores_nothing(forms: Harness) -> None:
    doc = json.loads((PAYLOADS / "tally.json").read_text(encoding="utf-8"))
    doc["eventId"] = "klingon-1"
    for field in doc["data"]["fields"]:
        if field["type"] == "INPUT_EMAIL":
            field["value"] = "klingon@example.ie"
        if field["type"] == "MULTIPLE_CHOICE":
            field["value"] = ["no-such-option"]
            field["options"].append({"id": "no-such-option", "text": "Klingon"})
    raw = json.dumps(doc).encode()
    answer = forms.runtime.request("POST", f"/webhooks/tally/{SERIES_ID}",
                                   {"Tally-Signature": _b64_hmac(raw)}, raw)
    assert answer.status == 400
    assert "answer 'Language for emails': 'Klingon'" in answer.body["error"]
    assert stored(forms, "klingon@example.ie") is None
    assert sent_to(forms, "klingon@example.ie") == []


@pytest.mark.parametrize(("forms_doc", "message"), [
    ({"tally": {"time_zone": {"question": "tz", "values": {"Here": "Mars/Base"}}}},
     "forms: tally.time_zone.values.Here: 'Mars/Base' is not a time zone"),
    ({"tally": {"sessions": {"question": "s", "values": {"Nine": "s9"}}}},
     "forms: tally.sessions.values.Nine: 's9' is not a session of this series"),
    ({"tally": {"sessions": "s", "choices": {"Nine": "s9"}}},
     "forms: tally.choices.Nine: 's9' is not a session"),
    ({"tally": {"language": {"question": "l", "values": {"English": "English"}}}},
     "forms: tally.language.values.English: 'English' is not a language tag"),
    ({"tally": {"consent": {"question": "c", "values": {"Sure": "maybe"}}}},
     "forms: tally.consent.values.Sure: expected yes or no"),
    ({"tally": {"consent": {"question": "c", "values": {True: True}}}},
     "forms: tally.consent.values.True: an option must be text; put it in quotes"),
    ({"tally": {"time_zone": {"question": "tz", "value": {}}}},
     "forms: tally.time_zone.value: unknown field"),
    ({"tally": {"time_zone": {"values": {}}}}, "forms: tally.time_zone.question: expected"),
    ({"tally": {"interests": {"question": "i", "values": {"Course": "no-such-item"}}}},
     "forms: tally.interests.values.Course: 'no-such-item' is not a coming item"),
    ({"tally": {"interests": {"glasgow": "no-such-item"}}},
     "forms: tally.interests.glasgow: 'no-such-item' is not a coming item"),
    ({"tally": {"full_name": {"first": "a"}}}, "forms: tally.full_name: expected an answer key"),
])
def test_a_bad_form_mapping_is_refused_when_the_series_file_is_read(
        forms_doc: dict[str, Any], message: str) -> None:
    with pytest.raises(SeriesFileError) as refused:
        series_with(forms_doc)
    assert str(refused.value).startswith(message), str(refused.value)


def test_the_older_mapping_shapes_still_read() -> None:
    series = series_with({"typeform": {
        "email": "email", "full_name": ["first", "last"], "time_zone": "tz",
        "sessions": "s", "choices": {"26 Oct": "s1"}, "consent": "ok",
        "interests": {"glasgow": "estro24-pre-meeting"}}})
    mapped = mapped_event("typeform", "e", 1, {
        "email": "a@example.org", "first": "Ana", "last": "Silva", "tz": "Asia/Riyadh",
        "s": ["26 Oct", "s2"], "ok": True, "glasgow": "yes"}, series)
    assert mapped.registrant == Registrant("a@example.org", "Ana Silva", "Asia/Riyadh")
    assert mapped.session_ids == ("s1", "s2") and mapped.consent == {"answer": True}
    assert mapped.interests == ("estro24-pre-meeting",)


# ---- text and language -------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "tag"), [
    ("fr", "fr"), ("fr-be", "fr-BE"), ("FR_be", "fr-BE"), ("zh-hant-tw", "zh-Hant-TW"),
    ("es-419", "es-419"), ("sl-rozaj", "sl-rozaj"), (" pt-BR ", "pt-BR")])
def test_language_tags_are_normalised(raw: str, tag: str) -> None:
    assert language_tag(raw) == tag


@pytest.mark.parametrize("raw", ["", "f", "English", "fr-", "fr--BE", "fr BE", "12",
                                 "fr-" + "x" * 40, None, 7, "ﬁ"])
def test_malformed_language_tags_are_refused(raw: object) -> None:
    with pytest.raises(PayloadError, match="is not a language tag"):
        language_tag(raw)


def test_a_generic_delivery_with_a_malformed_language_is_a_400(forms: Harness) -> None:
    doc = json.loads((PAYLOADS / "generic.json").read_text(encoding="utf-8"))
    doc["id"], doc["data"]["registrant"]["email"] = "evt-bad-language", "bad@example.be"
    doc["data"]["registrant"]["language"] = "français"
    raw = json.dumps(doc).encode()
    at = int(forms.clock.now().timestamp())
    answer = forms.runtime.request("POST", f"/webhooks/generic/{SERIES_ID}",
                                   {"Webinar-Signature": sign(SECRET, at, raw)}, raw)
    assert answer.status == 400
    assert answer.body["error"].startswith("data.registrant.language:")
    assert stored(forms, "bad@example.be") is None


def test_names_are_nfc_but_otherwise_as_typed() -> None:
    assert clean_name("Zoe\u0308 O'Brien") == "Zoë O'Brien"
    typed = event({"full_name": "Tom &amp; Jerry O&#039;Neil"}, {})
    assert typed.registrant.full_name == "Tom &amp; Jerry O&#039;Neil"  # only Jotform decodes
    assert clean_name("Ana\u202e\r\nBcc: x") == "Ana Bcc: x"  # control characters as before


def test_a_later_event_without_a_language_keeps_the_stored_one() -> None:
    first = RegistrationEvent("generic", "e1", "created", 10,
                              Registrant("a@example.org", "A", "", language="fr-BE"), None)
    later = RegistrationEvent("generic", "e2", "created", 20,
                              Registrant("a@example.org", "A", ""), ("s1",))
    switched = replace(later, event_id="e3", created=30,
                       registrant=Registrant("a@example.org", "A", "", language="nl-BE"))
    ids = ["s1", "s2"]
    one = apply_event(None, first, SERIES_ID, "r1", ids, "Europe/Brussels")
    assert one is not None and one.registrant.language == "fr-BE"
    two = apply_event(one, later, SERIES_ID, "r1", ids, "Europe/Brussels")
    assert two is not None and two.registrant.language == "fr-BE"
    three = apply_event(two, switched, SERIES_ID, "r1", ids, "Europe/Brussels")
    assert three is not None and three.registrant.language == "nl-BE"


@pytest.mark.parametrize("store_name", ["dynamo", "memory"])
def test_both_stores_keep_the_language(forms: Harness, store_name: str) -> None:
    from webinar_notify.adapters.memory_store import MemoryStore

    store: Callable[[], Any] = (lambda: forms.runtime.store) if store_name == "dynamo" \
        else MemoryStore
    target = store()
    event_ = RegistrationEvent("generic", "e1", "created", 10,
                               Registrant("a@example.org", "A", "", language="pt-BR"), None)
    registration = apply_event(None, event_, SERIES_ID, "r1", ["s1"], "Europe/Brussels")
    assert registration is not None
    target.put_registration(registration, forms.clock.now())
    assert target.get_registration(SERIES_ID, "r1").registrant.language == "pt-BR"


HOSTILE = [
    ("zoom", lambda d: d["payload"]["object"]["registrant"].update(custom_questions=5)),
    ("zoom", lambda d: d["payload"]["object"]["registrant"].update(
        custom_questions=[{"title": 5}, "x", {"title": "Your time zone", "value": {"a": 1}}])),
    ("tally", lambda d: d["data"]["fields"][2].update(value={"a": 1})),
    ("tally", lambda d: d["data"]["fields"][2].update(value=[["x"]], options=[{"id": None}])),
    ("tally", lambda d: d["data"].update(fields=7)),
    ("typeform", lambda d: d["form_response"]["answers"][3].update(choice={"label": ["x"]})),
    ("typeform", lambda d: d["form_response"]["answers"][4].update(choices={"labels": "ab"})),
    ("typeform", lambda d: d["form_response"].update(hidden=[1], answers=3)),
    ("msforms", lambda d: d["answers"].update({"Sessions": "[1, [2], {\"a\": 3}]"})),
]


@pytest.mark.parametrize(("provider", "spoil"), HOSTILE)
def test_odd_answer_shapes_are_a_payload_error_or_a_registration(
        provider: str, spoil: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads((PAYLOADS / f"{provider}.json").read_text(encoding="utf-8"))
    spoil(doc)
    try:
        parsed = PROVIDERS[provider].parse(json.dumps(doc).encode(), SERIES, [SECRET])
    except PayloadError:
        return
    assert isinstance(parsed, RegistrationEvent)


def test_every_mapping_in_the_provider_docs_reads_against_the_seed_series() -> None:
    """The YAML an organiser copies from docs/providers/ is a valid mapping, zones, sessions,
    tags and coming items included."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "providers"
    blocks = [block.split("```", 1)[0] for page in sorted(docs.glob("*.md"))
              for block in page.read_text(encoding="utf-8").split("```yaml\n")[1:]]
    mappings = [yaml.safe_load(block)["forms"] for block in blocks if block.startswith("forms:")]
    assert len(mappings) >= 7
    for forms_doc in mappings:
        assert series_with(forms_doc).forms.keys() == forms_doc.keys()
