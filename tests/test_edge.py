"""The API refuses at its edge what could not name anything stored, or could not be parsed
safely: an over-long series id or token, signed JSON nested thousands deep. Each gets a 4xx
with a clear message, before any AWS call, and no traceback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from conftest import SERIES_FILE, SERIES_ID, START
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core import edge, tokens
from webinar_notify.core.document_fields import FieldReader
from webinar_notify.core.errors import NotFoundError, PayloadError, SeriesFileError
from webinar_notify.core.providers import PROVIDERS
from webinar_notify.core.signatures import sign
from webinar_notify.core.text import registrant_id
from webinar_notify.local import aws_calls
from webinar_notify.local.runtime import HttpAnswer, LocalRuntime, LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file

SECRET = "edge-webhook-secret"
TOKEN_SECRET = "edge-token-secret"
REGISTRANT_KEY = "edge-registrant-key"
LONG_ID = "a" * 2100


def nested(depth: int) -> str:
    """JSON arrays nested ``depth`` deep (as text: Python's own encoder cannot go that deep)."""
    return "[" * depth + "]" * depth


def with_deep(document: dict[str, Any], depth: int) -> bytes:
    """The document as JSON, its value "DEEP" replaced by arrays nested ``depth`` deep."""
    return json.dumps(document).replace('"DEEP"', nested(depth)).encode()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """One runtime for the module: every request here is refused and changes nothing."""
    tmp_path = tmp_path_factory.mktemp("edge")
    clock = VirtualClock(START)
    settings = LocalSettings(
        webhook_secrets={"generic": SECRET, "typeform": SECRET, "jotform": SECRET},
        token_secret=TOKEN_SECRET, registrant_key=REGISTRANT_KEY, quiet=False)
    with local_runtime(clock, OutboxMailer(tmp_path / "outbox", clock), settings) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        yield runtime


@pytest.fixture
def untouched(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
              ) -> Iterator[list[str]]:
    """The AWS calls made meanwhile (none, the test asserts) and, afterwards, that nothing
    logged a traceback."""
    calls: list[str] = []
    stop = aws_calls.watch(lambda service, operation, _params: calls.append(
        f"{service} {operation}"))
    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    yield calls
    stop()
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err + caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    for line in out.splitlines():  # the handlers' JSON log lines
        if line.startswith("{") and '"level"' in line:
            assert "exception" not in json.loads(line), line


def generic_post(runtime: LocalRuntime, body: bytes, series_id: str = SERIES_ID) -> HttpAnswer:
    t = int(runtime.clock.now().timestamp())
    return runtime.request("POST", f"/webhooks/generic/{series_id}", {
        "Content-Type": "application/json", "Webinar-Signature": sign(SECRET, t, body)}, body)


def registration(depth: int = 0, **data: Any) -> bytes:
    """A generic registration; with ``depth``, its consent nested that deep."""
    if depth:
        data["consent"] = "DEEP"
    return with_deep({"id": "evt-edge", "type": "registration.created",
                      "created": int(START.timestamp()),
                      "data": {"registrant": {"email": "ada@example.com",
                                              "full_name": "Ada Lovelace"}, **data}}, depth)


# ---- path segments ---------------------------------------------------------------------------

def test_a_2100_character_series_id_on_the_webhook_route_is_refused_before_any_aws_call(
        api: LocalRuntime, untouched: list[str]) -> None:
    answer = generic_post(api, registration(), series_id=LONG_ID)
    assert answer.status == 404
    assert "series id must be 1 to 63 lower-case letters" in answer.body["error"]
    assert untouched == []


@pytest.mark.parametrize("path", ["/webhooks/generic/Reirradiation-2023",
                                  "/webhooks/generic/-reirradiation",
                                  "/webhooks/nosuchform/reirradiation-2023",
                                  f"/webhooks/{'g' * 300}/reirradiation-2023"])
def test_other_malformed_webhook_paths_are_refused_before_any_aws_call(
        api: LocalRuntime, untouched: list[str], path: str) -> None:
    answer = api.request("POST", path, {"Content-Type": "application/json"}, registration())
    assert answer.status == 404
    assert answer.body["error"].startswith(("series id must", "provider must be one of"))
    assert untouched == []


@pytest.mark.parametrize("page", ["manage", "unsubscribe", "optin", "calendar", "manage/data"])
def test_a_2100_character_series_id_on_a_page_route_is_refused_before_any_aws_call(
        api: LocalRuntime, untouched: list[str], page: str) -> None:
    """Signed for that very series id, so that only the edge check can refuse it."""
    purpose, _, tail = page.partition("/")
    rid = registrant_id(REGISTRANT_KEY, LONG_ID, "ada@example.com")
    token = tokens.make(TOKEN_SECRET, purpose, LONG_ID, rid, expires=date(2030, 1, 1))
    path = f"/{purpose}/{LONG_ID}/{token}" + (f"/{tail}" if tail else "")
    answer = api.request("GET", path, {}, b"")
    assert 400 <= answer.status < 500
    assert untouched == []


@pytest.mark.parametrize("path", [
    f"/organiser/series/{LONG_ID}/announcements",
    f"/organiser/series/{SERIES_ID}/sessions/{'s' * 2100}/cancel",
    f"/organiser/series/{SERIES_ID}/announcements/{'x' * 2100}/cancel"])
def test_over_long_ids_on_organiser_routes_are_refused_before_any_aws_call(
        api: LocalRuntime, untouched: list[str], path: str) -> None:
    answer = api.organiser(path, {}, idempotency_key="edge-1")
    assert answer.status == 404
    assert " id must be 1 to 63 lower-case letters" in answer.body["error"]
    assert untouched == []


def test_ids_follow_the_rule_of_series_files() -> None:
    def series_file_accepts(value: str) -> bool:
        try:
            FieldReader({"id": value}, "", {"id"}).slug("id")
        except SeriesFileError:
            return False
        return True

    def edge_accepts(value: str) -> bool:
        try:
            edge.check_id(value, "series id")
        except NotFoundError:
            return False
        return True

    candidates = ["reirradiation-2023", "s1", "a" * 63, "a" * 64, "9-lives", "-lead", "UPPER",
                  "dots.in.it", "ümlaut", "under_score", LONG_ID, "x-"]
    assert [edge_accepts(c) for c in candidates] == [series_file_accepts(c) for c in candidates]
    assert edge_accepts("a" * 63) and not edge_accepts("a" * 64)


def test_tokens_as_the_emails_carry_them_pass_and_nothing_else_does() -> None:
    rid = registrant_id(REGISTRANT_KEY, SERIES_ID, "ada@example.com")
    token = tokens.make(TOKEN_SECRET, "manage", SERIES_ID, rid,
                        expires=date.today() + timedelta(days=800))
    edge.check_page_path(SERIES_ID, token)
    for bad in ["", "x" * 2100, f"{rid}.20000", f"{token}.extra", token.replace(".", "-"),
                f"{rid}.-.{token.rsplit('.', 1)[1]}", f"{token[:-1]}=", f"{token}\n"]:
        with pytest.raises(NotFoundError):
            edge.check_page_path(SERIES_ID, bad)
    with pytest.raises(NotFoundError, match="series id"):
        edge.check_page_path(LONG_ID, token)


def test_providers_are_the_registered_ones() -> None:
    for name in PROVIDERS:
        edge.check_provider(name, PROVIDERS)
    with pytest.raises(NotFoundError, match="generic"):
        edge.check_provider("Generic", PROVIDERS)


# ---- JSON depth ------------------------------------------------------------------------------

def test_signed_generic_json_nested_5000_deep_gets_400_before_any_aws_call(
        api: LocalRuntime, untouched: list[str]) -> None:
    answer = generic_post(api, registration(5000))
    assert answer.status == 400
    assert answer.body["error"] == "JSON is nested deeper than 64 levels"
    assert untouched == []
    rid = registrant_id(REGISTRANT_KEY, SERIES_ID, "ada@example.com")
    assert api.store.get_registration(SERIES_ID, rid) is None


def test_the_same_signed_json_at_60_deep_is_read_past_its_signature(api: LocalRuntime) -> None:
    answer = generic_post(api, registration(60))
    assert answer.status == 400  # signature accepted, then the field refused
    assert answer.body["error"] == "data.consent must be an object"


def typeform_post(runtime: LocalRuntime, body: bytes) -> HttpAnswer:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    return runtime.request("POST", f"/webhooks/typeform/{SERIES_ID}", {
        "Content-Type": "application/json",
        "Typeform-Signature": f"sha256={signature.decode()}"}, body)


def typeform_body(depth: int) -> bytes:
    return with_deep({"event_id": "01HTF", "event_type": "form_response", "form_response": {
        "submitted_at": "2023-10-02T09:00:00Z", "answers": "DEEP"}}, depth)


def test_signed_typeform_json_nested_5000_deep_gets_400_before_any_aws_call(
        api: LocalRuntime, untouched: list[str]) -> None:
    answer = typeform_post(api, typeform_body(5000))
    assert answer.status == 400
    assert "nested deeper than 64" in answer.body["error"]
    assert untouched == []
    shallow = typeform_post(api, typeform_body(60))
    assert shallow.status == 400 and "nested" not in shallow.body["error"]  # signed right


def multipart(raw_request: str, encoding: str = "") -> bytes:
    boundary = "------------------------8e2f6a3c1b"
    transfer = f"Content-Transfer-Encoding: {encoding}\r\n" if encoding else ""
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"submissionID\"\r\n\r\n"
            f"5712345678901234567\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"rawRequest\"\r\n{transfer}\r\n{raw_request}\r\n--{boundary}--\r\n").encode()


def test_jotform_json_nested_5000_deep_gets_400_before_any_aws_call(
        api: LocalRuntime, untouched: list[str]) -> None:
    body = multipart(with_deep({"q4_email": "DEEP"}, 5000).decode())
    answer = api.request("POST", f"/webhooks/jotform/{SERIES_ID}?token={SECRET}", {
        "Content-Type": "multipart/form-data; boundary=x"}, body)
    assert answer.status == 400
    assert "nested deeper than 64" in answer.body["error"]
    assert untouched == []


def test_signed_organiser_json_nested_5000_deep_gets_400(
        api: LocalRuntime, untouched: list[str]) -> None:
    answer = api.request("POST", f"/organiser/series/{SERIES_ID}/announcements", {
        "content-type": "application/json", "idempotency-key": "deep-1"},
        with_deep({"id": "deep", "audience": "DEEP"}, 5000),
        iam_caller="arn:aws:iam::123456789012:user/local-organiser")
    assert answer.status == 400
    assert "nested deeper than 64" in answer.body["error"]
    assert untouched == []


def deep_body(provider: str) -> bytes:
    """A body for the provider's own parser, nested 5,000 deep where the edge cannot see it
    (base64 in a multipart part) or where it is the provider's own shape."""
    deep = nested(5000)
    if provider == "jotform":
        return multipart(base64.b64encode(deep.encode()).decode(), "base64")
    return f'{{"id": "1", "event": "x", "payload": {deep}}}'.encode()


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_every_provider_parses_json_to_a_bounded_depth(provider: str) -> None:
    series = load_series_file(SERIES_FILE)
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        PROVIDERS[provider].parse(deep_body(provider), series, [SECRET])


def test_a_json_answer_inside_a_microsoft_forms_answer_is_parsed_safely_too() -> None:
    body = json.dumps({"id": "r1", "submitted": "2023-10-02T09:00:00Z", "answers": {
        "Email": "ada@example.com", "Sessions": nested(5000)}}).encode()
    with pytest.raises(PayloadError):  # no mapping in this series: refused, not a crash
        PROVIDERS["msforms"].parse(body, load_series_file(SERIES_FILE), [SECRET])


def test_depth_is_counted_outside_strings_only() -> None:
    edge.check_json_depth(nested(64))
    with pytest.raises(PayloadError):
        edge.check_json_depth(nested(65))
    inside_strings = json.dumps({"a": "[" * 5000, "b": '\\"{{{{' * 1000, "c": ["]" * 10]})
    edge.check_json_depth(inside_strings)
    assert edge.json_value(inside_strings)["a"] == "[" * 5000
    with pytest.raises(PayloadError):
        edge.check_json_depth('{"a": "\\\\"' + ", [" * 70 + "]" * 70 + "}")


def test_hostile_bodies_are_read_in_one_pass() -> None:
    """A guard against work that grows with the square of the body (minutes for 256 KB, a DoS
    before the signature check), not a speed target: each body here is 256 KB."""
    import time

    quotes = b'"' + b'\\"' * (128 * 1024 - 80) + b"[]" * 70  # each quote starts no new scan
    started = time.perf_counter()
    with pytest.raises(PayloadError):
        edge.json_value(b"[" * (256 * 1024))
    with pytest.raises(PayloadError):  # an unterminated string: not JSON, refused at once
        edge.json_value(b'"' + b"\\[" * (128 * 1024))
    edge.check_json_depth(quotes)  # all inside one string: nothing nests
    edge.check_json_depth(b'"' + b"[" * (256 * 1024))  # likewise
    assert time.perf_counter() - started < 5.0
