"""`webinar-notify serve`: the same API over real HTTP on localhost, threaded, with the
handlers' headers, HTTP limits, the SigV4 scope of API Gateway and a request log without tokens."""

from __future__ import annotations

import email
import email.policy
import http.client
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import (
    ROOT,
    SECRET,
    SERIES_FILE,
    SERIES_ID,
    START,
    WEBHOOK,
    Harness,
    registration_body,
)
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.signatures import sign
from webinar_notify.local.demo_state import CarryOnClock
from webinar_notify.local.runtime import HttpAnswer, LocalRuntime, LocalSettings, local_runtime
from webinar_notify.local.scenario import HttpStep
from webinar_notify.local.scheduled_runs import ScheduledRuns
from webinar_notify.local.server import MAX_HEADER_BYTES, LocalKey, LocalServer
from webinar_notify.request_signing import sign as sigv4_sign
from webinar_notify.series_files import load_series_file

KEY = LocalKey("LOCALORGANISER", "local-organiser-secret")
SESSION_S4 = f"/organiser/series/{SERIES_ID}/sessions/s4"


@dataclass
class Site:
    base: str
    port: int
    log: io.StringIO


@contextmanager
def running(harness: Harness, idle_timeout: float = 5.0) -> Iterator[Site]:
    log = io.StringIO()
    server = LocalServer(("127.0.0.1", 0), log)
    server.install(harness.runtime, KEY, idle_timeout=idle_timeout)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    port = server.server_address[1]
    try:
        yield Site(f"http://127.0.0.1:{port}", port, log)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(harness: Harness) -> Iterator[Site]:
    with running(harness) as started:
        yield started


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _fetch(site: Site, method: str, path: str, headers: dict[str, str] | None = None,
           body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _raw(site: Site, data: bytes) -> tuple[int, bytes]:
    """Send bytes as they are; the answer's status and body (read to the server's close)."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def _signed_webhook(harness: Harness, address: str, event_id: str) -> tuple[bytes, dict[str, str]]:
    body = registration_body(address, "P", event_id, created=harness.clock.now())
    stamp = int(harness.clock.now().timestamp())
    return body, {"Content-Type": "application/json",
                  "Webinar-Signature": sign(SECRET, stamp, body)}


def test_a_signed_post_over_http_is_confirmed_and_shown_in_the_outbox(
        harness: Harness, site: Site) -> None:
    body, good = _signed_webhook(harness, "ada@example.com", "evt-http")
    bad = {**good, "Webinar-Signature": sign("nope", int(harness.clock.now().timestamp()), body)}

    assert _post(site.base + WEBHOOK, body, bad)[0] == 401
    status, answer = _post(site.base + WEBHOOK, body, good)

    assert status == 202 and answer["status"] == "registered"
    assert len(harness.outbox.entries()) == 1  # drained right after the request
    assert (harness.outbox_dir / "index.html").exists()


def test_the_local_server_refuses_odd_requests_with_json(site: Site) -> None:
    answers = []
    for method, headers in (("GET", {}), ("PUT", {}), ("POST", {"Content-Length": "abc"}),
                            ("POST", {"Transfer-Encoding": "chunked"})):
        connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
        connection.putrequest(method, WEBHOOK, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        answers.append((response.status, json.loads(response.read())["error"] != ""))
        connection.close()
    assert answers == [(405, True), (405, True), (400, True), (411, True)]


def test_twenty_parallel_clients_are_all_answered(harness: Harness, site: Site) -> None:
    start = threading.Barrier(20)

    def client(i: int) -> int:
        body, headers = _signed_webhook(harness, f"parallel{i}@example.org", f"evt-par-{i}")
        start.wait(timeout=10)
        return _fetch(site, "POST", WEBHOOK, headers, body)[0]  # a reset would raise here

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(client, range(20)))

    assert statuses == [202] * 20
    assert sorted(str(e["to"]) for e in harness.outbox.entries()) == sorted(
        f"parallel{i}@example.org" for i in range(20))  # every confirmation, once


def test_a_slow_client_blocks_no_one_and_a_silent_one_is_dropped(harness: Harness) -> None:
    with running(harness, idle_timeout=1.5) as site:
        half_line = socket.create_connection(("127.0.0.1", site.port))
        half_line.sendall(b"GET /manage/reirr")  # and then nothing
        not_reading = socket.create_connection(("127.0.0.1", site.port))
        not_reading.sendall(f"GET {WEBHOOK} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.1)  # both connections are held by the server now

        began = time.monotonic()
        status = _fetch(site, "GET", f"/manage/{SERIES_ID}/not-a-token")[0]
        took = time.monotonic() - began

        half_line.setblocking(False)
        with pytest.raises(BlockingIOError):
            half_line.recv(1)  # still open, nothing answered: it did not hold anyone up
        half_line.settimeout(5)
        dropped = half_line.recv(1)  # the server closes it after 1.5 s of silence
        half_line.close()
        not_reading.close()

    assert status == 404 and took < 1.0
    assert dropped == b""
    assert "connection silent for 1.5 s: closed" in site.log.getvalue()
    assert "Traceback" not in site.log.getvalue()


def test_an_over_long_request_line_gets_414_and_big_headers_get_431(site: Site) -> None:
    long_line = _raw(site, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    filler = "".join(f"X-Filler-{i}: {'v' * 1000}\r\n" for i in range(20))
    big_headers = _raw(site, f"GET /manage/x/y HTTP/1.1\r\n{filler}\r\n".encode())
    many = "".join(f"X-{i}: v\r\n" for i in range(120))
    many_headers = _raw(site, f"GET /manage/x/y HTTP/1.1\r\n{many}\r\n".encode())
    within = "".join(f"X-Filler-{i}: {'v' * 1000}\r\n" for i in range(MAX_HEADER_BYTES // 1100))
    just_fits = _raw(site, f"GET /manage/{SERIES_ID}/nope HTTP/1.1\r\n{within}\r\n".encode())
    garbled = _raw(site, b"garbage\r\n\r\n")  # still answered with a status line

    assert long_line[0] == 414 and "request line" in json.loads(long_line[1])["error"]
    assert big_headers[0] == 431 and "headers" in json.loads(big_headers[1])["error"]
    assert many_headers[0] == 431
    assert just_fits[0] == 404  # under the limit: the handler answered
    assert garbled[0] == 400
    log = site.log.getvalue()
    assert "-> 414" in log and log.count("-> 431") == 2 and "Traceback" not in log
    assert "aaaaaaaa" not in log


def test_every_header_the_handlers_set_reaches_the_client(harness: Harness, site: Site) -> None:
    harness.register(sessions=["s5", "s6"])
    manage = harness.link(r"http://localhost:8000(/manage/\S+)")
    feed = harness.link(r"http://localhost:8000(/calendar/\S+\.ics)")

    for path in (manage, feed, manage + "/data"):
        expected = harness.runtime.request("GET", path, {}, b"")
        status, headers, body = _fetch(site, "GET", path)
        assert status == expected.status == 200
        for name, value in expected.headers.items():
            assert headers[name] == value, name
        assert body.decode() == expected.text

    _, page_headers, page = _fetch(site, "GET", manage)
    assert page_headers["Cache-Control"] == "private, no-store"
    assert page_headers["Referrer-Policy"] == "no-referrer"
    head_status, head_headers, head_body = _fetch(site, "HEAD", manage)
    assert head_status == 200 and head_body == b""
    assert head_headers["Content-Length"] == str(len(page))
    assert head_headers["Cache-Control"] == "private, no-store"

    etag = _fetch(site, "GET", feed)[1]["ETag"]
    unchanged = _fetch(site, "GET", feed, {"If-None-Match": etag})
    assert etag and unchanged[0] == 304 and unchanged[2] == b""
    assert unchanged[1]["ETag"] == etag and "Content-Type" not in unchanged[1]
    assert "attachment" in _fetch(site, "GET", manage + "/data")[1]["Content-Disposition"]


def test_cookies_and_retry_after_reach_the_client(harness: Harness, site: Site,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Payload 2.0 answers carry cookies apart from headers: each becomes a Set-Cookie."""
    answer = HttpAnswer(503, {"error": "busy"}, '{"error": "busy"}', "application/json",
                        {"Content-Type": "application/json", "Retry-After": "5"},
                        ("a=1; Path=/; HttpOnly", "b=2; Path=/; Secure"))
    monkeypatch.setattr(harness.runtime, "request", lambda *args, **kwargs: answer)
    status, headers, body = _fetch(site, "GET", f"/manage/{SERIES_ID}/x")
    assert status == 503 and json.loads(body) == {"error": "busy"}
    assert headers["Retry-After"] == "5"
    assert headers.get_all("Set-Cookie") == ["a=1; Path=/; HttpOnly", "b=2; Path=/; Secure"]


def _organiser_request(site: Site, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    status, answer = _post(site.base + SESSION_S4, body, headers)
    return status, str(answer.get("error", ""))


def test_sigv4_scope_and_a_signed_idempotency_key_are_required(harness: Harness,
                                                               site: Site) -> None:
    url = site.base + SESSION_S4
    body = json.dumps({"title": "Hijacked"}).encode()
    plain = {"Content-Type": "application/json", "Idempotency-Key": "k1"}
    mine = Credentials(KEY.access_key, KEY.secret_key)
    other_service = AWSRequest(method="POST", url=url, data=body, headers=dict(plain))
    SigV4Auth(mine, "lambda", "eu-west-1").add_auth(other_service)
    key_unsigned = sigv4_sign(mine, "eu-west-1", "POST", url, body,
                              {"Content-Type": "application/json"}) | {"Idempotency-Key": "k1"}
    key_swapped = sigv4_sign(mine, "eu-west-1", "POST", url, body, plain) | {
        "Idempotency-Key": "k2"}

    refused = [
        _organiser_request(site, body, sigv4_sign(mine, "us-east-1", "POST", url, body, plain)),
        _organiser_request(site, body, dict(other_service.headers.items())),
        _organiser_request(site, body, key_unsigned),
        _organiser_request(site, body, key_swapped),
        _organiser_request(site, body, plain),
    ]

    assert [status for status, _ in refused] == [403] * 5
    assert "region" in refused[0][1] and "eu-west-1" in refused[0][1]
    assert "service" in refused[1][1] and "execute-api" in refused[1][1]
    assert "Idempotency-Key" in refused[2][1]
    assert "signature does not match" in refused[3][1]
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None and stored.session("s4").title != "Hijacked"  # type: ignore[union-attr]
    signed = _organiser_request(site, body, sigv4_sign(mine, "eu-west-1", "POST", url, body, plain))
    assert signed[0] == 200
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None and stored.session("s4").title == "Hijacked"  # type: ignore[union-attr]


def test_the_cli_signs_its_requests_and_they_pass(
        harness: Harness, site: Site, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify.cli import main

    url = site.base + SESSION_S4
    body = json.dumps({"title": "Hijacked"}).encode()
    plain = {"Content-Type": "application/json", "Idempotency-Key": "k1"}
    forged = _post(url, body, sigv4_sign(Credentials("LOCALORGANISER", "guessed"),
                                         "eu-west-1", "POST", url, body, plain))
    tampered = _post(url, b'{"title": "Other"}', sigv4_sign(
        Credentials(KEY.access_key, KEY.secret_key), "eu-west-1", "POST", url, body, plain))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    code = main(["session", "update", SERIES_ID, "s4", "--title", "Accumulating Doses",
                 "--api", site.base, "--region", "eu-west-1"])
    assert '"outcome": "updated"' in capsys.readouterr().out
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None and stored.session("s4").title == "Accumulating Doses"  # type: ignore[union-attr]
    pushed = main(["series", "push", str(ROOT / "series" / "reirradiation-2023.yaml"),
                   "--api", site.base, "--region", "eu-west-1", "--quiet"])
    elsewhere = main(["session", "update", SERIES_ID, "s4", "--title", "Elsewhere",
                      "--api", site.base, "--region", "us-west-2"])

    assert [forged[0], tampered[0]] == [403, 403]
    assert code == 0 and pushed == 0 and elsewhere == 2
    captured = capsys.readouterr()
    assert '"outcome": "updated"' in captured.out  # the file's title is back
    assert "403" in captured.err and "--region eu-west-1" in captured.err
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None
    assert stored.session("s4").title == "Challenges in Accumulating Doses"  # type: ignore[union-attr]


class _Terminal(io.StringIO):
    """Standard input that is a terminal, for the CLI's question."""

    def isatty(self) -> bool:
        return True


def _kinds(harness: Harness, kind: str) -> list[str]:
    harness.runtime.drain()
    return sorted(str(e["to"]) for e in harness.outbox.entries() if e["kind"] == kind)


def test_the_cli_asks_before_it_emails_people_and_sends_only_on_yes(
        harness: Harness, site: Site, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from webinar_notify.cli import main

    addresses = harness.register_many(2, sessions=["s4"])
    harness.runtime.drain()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    api = ["--api", site.base, "--region", "eu-west-1"]
    move = ["session", "update", SERIES_ID, "s4", "--start", "2024-01-09T16:00:00+01:00", *api]
    questions: list[str] = []
    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda q: questions.append(q) or "n")

    declined = main(move)

    out = capsys.readouterr().out
    assert declined == 1 and questions == ["Send? [y/N] "]
    assert "This will email 2 people: update of s4" in out
    assert "'New time: Challenges in Accumulating Doses'" in out and "not sent" in out
    assert _kinds(harness, "update") == []
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None and stored.session("s4").sequence == 0  # type: ignore[union-attr]

    monkeypatch.setattr("sys.stdin", io.StringIO())  # no terminal: refuse unless --yes
    text = (ROOT / "series" / "reirradiation-2023.yaml").read_text()
    moved = tmp_path / "series.yaml"
    moved.write_text(text.replace('start: "2024-01-09T15:00"', 'start: "2024-01-09T16:00"'))
    refused = [main(["session", "cancel", SERIES_ID, "s4", *api]),
               main(["series", "push", str(moved), *api])]
    err = capsys.readouterr().err
    assert refused == [2, 2] and err.count("error: ") == 2 and "--yes" in err
    assert "Traceback" not in err and _kinds(harness, "update") == []
    assert _kinds(harness, "cancellation") == []

    quiet = main(["session", "update", SERIES_ID, "s4", "--title", "Typo", "--quiet", *api])
    sent = main([*move, "--yes"])

    assert quiet == 0 and sent == 0 and len(questions) == 1
    assert _kinds(harness, "update") == sorted(addresses)  # once each, after the --yes


def test_the_cli_says_about_when_a_large_audience_was_not_counted_one_by_one(
        harness: Harness, site: Site, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify.cli import main
    from webinar_notify.services import announcing

    harness.register_many(3, sessions=["s4"])
    monkeypatch.setattr(announcing, "COUNT_PAGE_SIZE", 1)  # 4 pages of one: counting stops
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    harness.register_many(2, prefix="more", sessions=["s4"])
    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda q: "n")

    main(["session", "update", SERIES_ID, "s4", "--start", "2024-01-09T16:00:00+01:00",
          "--api", site.base, "--region", "eu-west-1"])

    out = capsys.readouterr().out
    assert "This will email about 5 people: update of s4" in out
    assert "update of s4, to about 5: " in out


def test_no_link_token_reaches_the_request_log(harness: Harness, site: Site) -> None:
    harness.register(sessions=["s5"])
    manage = harness.link(r"http://localhost:8000(/manage/\S+)")
    feed = harness.link(r"http://localhost:8000(/calendar/\S+)")
    tokens = [manage.rsplit("/", 1)[1], feed.rsplit("/", 1)[1].removesuffix(".ics")]
    for path in (manage, feed, manage + "/data", f"/optin/{SERIES_ID}/{tokens[0]}",
                 f"/unsubscribe/{SERIES_ID}/{tokens[0]}?scope=announcements"):
        _fetch(site, "GET", path)
    _fetch(site, "POST", f"/unsubscribe/{SERIES_ID}/{tokens[0]}",
           {"Content-Type": "application/x-www-form-urlencoded"}, b"List-Unsubscribe=One-Click")
    _fetch(site, "POST", f"/webhooks/jotform/{SERIES_ID}?token=form-secret-123&x=1",
           {"Content-Type": "application/json"}, b"{}")

    log = site.log.getvalue()
    assert all(token not in log for token in tokens), log
    assert log.count(f"/{SERIES_ID}/…") == 6
    assert "form-secret-123" not in log
    assert f"GET /manage/{SERIES_ID}/… -> 200" in log
    assert f"GET /manage/{SERIES_ID}/…/data -> 200" in log
    assert f"POST /webhooks/jotform/{SERIES_ID}?token=…&x=… -> " in log


@pytest.mark.filterwarnings("ignore:No application metrics")  # the handler failed before any
def test_a_failing_handler_gets_a_500_with_a_request_id_and_one_log_line(
        harness: Harness, site: Site, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify.services.intake import Intake

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("could not store ada@example.com (Ada Lovelace)")

    monkeypatch.setattr(Intake, "receive", broken)
    body, headers = _signed_webhook(harness, "ada@example.com", "evt-broken")
    status, answer = _post(site.base + WEBHOOK, body, headers)
    after = _fetch(site, "GET", f"/manage/{SERIES_ID}/nope")[0]

    assert status == 500 and re.fullmatch(r"[0-9a-f]{32}", str(answer["request_id"]))
    log = site.log.getvalue()
    assert f"error in request {answer['request_id']}: RuntimeError at " in log
    assert "ada@example.com" not in log and "Lovelace" not in log and "Traceback" not in log
    assert "Traceback" not in capsys.readouterr().err
    assert after == 404  # the server carries on


def _start_serve(outbox: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "webinar_notify.cli", "serve", "--port", "0",
         "--outbox", str(outbox), *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=outbox.parent)


def _printed(process: subprocess.Popen[str]) -> dict[str, str]:
    """What `serve` printed before listening: the first word after each "name:"."""
    assert process.stdout is not None
    printed: dict[str, str] = {}
    for line in process.stdout:
        name, _, rest = line.partition(":")
        if line.startswith("listening on "):
            printed["base"] = line.split()[2]
            return printed
        printed[name.strip()] = rest.split()[0] if rest.split() else ""
        organiser = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", line)
        if organiser:
            printed["organiser secret"] = organiser[1]
        password = re.search(r"^console account: .* password: (\S+)", line)
        if password:
            printed["console password"] = password[1]
        replayed = re.search(r"^demo: .* (\d+) emails replayed", line)
        if replayed:
            printed["demo emails"] = replayed[1]
    raise AssertionError(f"serve stopped: {process.stderr.read() if process.stderr else ''}")


def _stopped(*processes: subprocess.Popen[str]) -> list[tuple[int, str, str]]:
    """Ctrl-C to each at once; their exit codes and the rest of their output."""
    for process in processes:
        process.send_signal(signal.SIGINT)
    outputs = [process.communicate(timeout=20) for process in processes]
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)]


def test_serve_signs_links_with_new_random_secrets_each_run(tmp_path: Path) -> None:
    from webinar_notify.core import tokens
    from webinar_notify.core.text import registrant_id

    first, second = _start_serve(tmp_path / "one"), _start_serve(tmp_path / "two")
    try:
        runs = [_printed(first), _printed(second)]
        secret = runs[0]["webhook secret"]
        now = int(time.time())
        body = json.dumps({"id": "evt-serve", "type": "registration.created", "created": now,
                           "data": {"registrant": {"email": "ada@example.com",
                                                   "full_name": "Ada"}}}).encode()
        status, _ = _post(runs[0]["base"] + "/webhooks/generic/sandbox", body, {
            "Content-Type": "application/json", "Webinar-Signature": sign(secret, now, body)})
        entry = json.loads((tmp_path / "one" / "log.jsonl").read_text().splitlines()[0])
        message = email.message_from_bytes((tmp_path / "one" / str(entry["file"])).read_bytes(),
                                           policy=email.policy.default)
        text = str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        token = re.search(r"/manage/sandbox/([A-Za-z0-9_.=-]+)", text)
        page = _fetch(Site(runs[0]["base"], int(runs[0]["base"].rsplit(":", 1)[1]),
                           io.StringIO()), "GET", f"/manage/sandbox/{token[1]}") if token else None
    finally:
        stops = _stopped(first, second)

    names = ("webhook secret", "link token secret", "registrant key", "organiser secret",
             "console password")
    assert all(runs[0][name] != runs[1][name] for name in names)
    assert [run["console"] for run in runs] == [run["base"] + "/console" for run in runs]
    assert runs[0]["console account"] == runs[1]["console account"] == "organiser@example.org"
    assert "local-development-only" not in json.dumps(runs)
    assert status == 202 and token is not None and page is not None and page[0] == 200
    expected = registrant_id(runs[0]["registrant key"], "sandbox", "ada@example.com")
    today = datetime.now(UTC).date()
    assert tokens.check([runs[0]["link token secret"]], "manage", "sandbox", token[1],
                        today=today) == expected
    assert tokens.check(["local-development-only"], "manage", "sandbox", token[1],
                        today=today) is None
    assert [code for code, _, _ in stops] == [0, 0]
    assert all("stopped" in out and "Traceback" not in out + err for _, out, err in stops)


class _Form(HTMLParser):
    """The first form's fields and action on a page, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = found.get("action") or ""
        elif tag == "input" and self.action is not None and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def _console_sign_in(base: str, account: str, password: str) -> str:
    """Sign in on the console's page as a browser would: the session cookie it sets."""
    site = Site(base, int(base.rsplit(":", 1)[1]), io.StringIO())
    status, _, page = _fetch(site, "GET", "/console/sign-in")
    assert status == 200, page[:300]
    form = _Form()
    form.feed(page.decode())
    form.fields.update(username=account, password=password)
    status, headers, page = _fetch(site, "POST", form.action or "/console/sign-in", {
        "Content-Type": "application/x-www-form-urlencoded", "Origin": base,
        "Sec-Fetch-Site": "same-origin"}, urllib.parse.urlencode(form.fields).encode())
    assert status == 303, page[:300]
    cookie = next(c for c in headers.get_all("Set-Cookie") or [] if c.startswith("wn_console="))
    return cookie.split(";", 1)[0]


def test_serve_demo_is_the_seed_series_in_the_middle_with_a_ready_console_account(
        tmp_path: Path) -> None:
    from webinar_notify.local.demo_state import DEMO_MOMENT, demo_scenario

    outbox = tmp_path / "demo"
    outbox.mkdir()
    (outbox / "00001-stale.eml").write_text("left from an earlier run")
    process = _start_serve(outbox, "--demo")
    try:
        printed = _printed(process)
        cookie = _console_sign_in(printed["base"], printed["console account"],
                                  printed["console password"])
        site = Site(printed["base"], int(printed["base"].rsplit(":", 1)[1]), io.StringIO())
        signed_out = _fetch(site, "GET", "/console")
        overview = _fetch(site, "GET", "/console/series/reirradiation-2023/",
                          {"Cookie": cookie})
    finally:
        [(code, out, err)] = _stopped(process)

    assert printed["demo"] == "reirradiation-2023"
    assert printed["console"] == printed["base"] + "/console"
    assert signed_out[0] == 303 and signed_out[1]["Location"].endswith("/console/sign-in")
    assert overview[0] == 200 and "Challenges in Reirradiation" in overview[2].decode()
    sent = [json.loads(line) for line in (outbox / "log.jsonl").read_text().splitlines()]
    assert not (outbox / "00001-stale.eml").exists()  # the outbox holds the demo's emails only
    assert printed["demo emails"] == str(len(sent))
    assert all(e["sent_at"] <= DEMO_MOMENT.isoformat().replace("+00:00", "Z") for e in sent)
    scenario = demo_scenario()
    registrants = {json.loads(step.body)["data"]["registrant"]["email"]
                   for step in scenario.steps if isinstance(step, HttpStep)}
    assert sorted(e["to"] for e in sent if e["kind"] == "confirmation") == sorted(registrants)
    past = {s.id for s in scenario.series.sessions if s.start <= DEMO_MOMENT}
    ahead = {s.id for s in scenario.series.sessions if s.start > DEMO_MOMENT}
    reminded = {sid for e in sent if e["kind"] == "reminder" for sid in e["sessions"]}
    assert reminded == past and ahead  # emails that went out, and sessions still ahead
    assert code == 0 and "Traceback" not in out + err


@dataclass
class Live:
    """A runtime whose clock runs at real speed from ``START``, as ``serve``'s clocks do."""

    runtime: LocalRuntime
    clock: CarryOnClock
    outbox: OutboxMailer
    outbox_dir: Path


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    clock = CarryOnClock(START)
    outbox = OutboxMailer(tmp_path / "outbox", clock)
    with local_runtime(clock, outbox, LocalSettings(webhook_secrets={"generic": SECRET})) \
            as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        clock.carry_on()
        for i in range(2):
            body = registration_body(f"live{i}@example.org", f"Live {i}", f"evt-live-{i}",
                                     created=clock.now())
            headers = {"Content-Type": "application/json",
                       "Webinar-Signature": sign(SECRET, int(clock.now().timestamp()), body)}
            assert runtime.request("POST", WEBHOOK, headers, body).status == 202
        runtime.drain()
        yield Live(runtime, clock, outbox, tmp_path / "outbox")


@contextmanager
def scheduling(live: Live, every: timedelta | None = None) -> Iterator[tuple[Site, ScheduledRuns]]:
    """The server over ``live`` with its scheduler (every 5 minutes unless told otherwise)."""
    log = io.StringIO()
    server = LocalServer(("127.0.0.1", 0), log)
    server.install(live.runtime, KEY)
    runs = server.start_scheduler(every) if every else server.start_scheduler()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    port = server.server_address[1]
    try:
        yield Site(f"http://127.0.0.1:{port}", port, log), runs
    finally:
        server.shutdown()
        server.server_close()


def _announcements(live: Live) -> list[dict[str, object]]:
    return [e for e in live.outbox.entries() if e["kind"] == "announcement"]


def _until(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_an_announcement_scheduled_seconds_ahead_goes_out_by_the_servers_own_run(
        live: Live) -> None:
    with scheduling(live) as (site, runs):  # every 5 minutes: only the wakeup can send it
        send_at = live.clock.now() + timedelta(seconds=1)
        url = f"{site.base}/organiser/series/{SERIES_ID}/announcements"
        body = json.dumps({"id": "doors-open", "subject": "Doors open", "body_markdown": "Hi.",
                           "audience": {"all": True}, "send_at": send_at.isoformat()}).encode()
        status, answer = _post(url, body, sigv4_sign(
            Credentials(KEY.access_key, KEY.secret_key), "eu-west-1", "POST", url, body,
            {"Content-Type": "application/json", "Idempotency-Key": "doors-open"}))
        scheduled_only = _announcements(live)
        requests_before = site.log.getvalue().count(" -> ")

        arrived = _until(lambda: len(_announcements(live)) == 2)
        indexed = _until(lambda: "Doors open" in (live.outbox_dir / "index.html").read_text())
        requests_after = site.log.getvalue().count(" -> ")
    log = site.log.getvalue()

    assert status == 202 and answer["status"] == "scheduled" and scheduled_only == []
    assert arrived and requests_after == requests_before == 1  # no request sent them
    sent = _announcements(live)
    assert sorted(str(e["to"]) for e in sent) == ["live0@example.org", "live1@example.org"]
    assert all(str(e["sent_at"]) >= send_at.isoformat()[:19] for e in sent)  # not early
    assert indexed  # the outbox index was rewritten after the run
    line = next(x for x in log.splitlines() if x.startswith("scheduler "))
    assert line.startswith(f"scheduler {START:%Y-%m-%d %H:%M}")  # the server's clock
    assert line.endswith(f"{SERIES_ID}/announcement#doors-open due; 2 emails enqueued; "
                         "2 emails sent")
    assert "@" not in log and "Live 0" not in log and "Traceback" not in log
    assert not runs.alive  # the server's shutdown joined the scheduler's thread


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_failing_scheduler_run_is_retried_at_the_next_mark(
        live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    real_tick = live.runtime.tick
    calls: list[datetime] = []
    send_at = live.clock.now() + timedelta(seconds=0.3)
    failing_until = send_at + timedelta(seconds=1.2)  # past its due moment: it stays due

    def flaky_tick() -> dict[str, Any]:
        calls.append(live.clock.now())
        if calls[-1] < failing_until:
            raise RuntimeError("could not reach live0@example.org (Live 0)")
        return real_tick()

    monkeypatch.setattr(live.runtime, "tick", flaky_tick)
    answer = live.runtime.organiser(f"/organiser/series/{SERIES_ID}/announcements", {
        "id": "retried", "subject": "Retried", "body_markdown": "Hi.", "audience": {"all": True},
        "send_at": send_at.isoformat()}, idempotency_key="retried")
    assert answer.body["status"] == "scheduled"

    with scheduling(live, every=timedelta(seconds=0.2)) as (site, runs):
        sent = _until(lambda: len(_announcements(live)) == 2)
        kept_running = _until(lambda: calls[-1] >= failing_until + timedelta(seconds=0.5))
        alive = runs.alive
    log = site.log.getvalue()

    assert sent and kept_running and alive
    failures = log.count("the run failed: RuntimeError at ")
    assert failures == sum(1 for moment in calls if moment < failing_until) >= 2
    assert "the next run tries again" in log
    assert f"{SERIES_ID}/announcement#retried due; 2 emails enqueued; 2 emails sent" in log
    marks = (calls[-1] - calls[0]) / timedelta(seconds=0.2)
    assert len(calls) <= marks + 3  # the marks and the one wakeup; a failure is no tight loop
    assert "live0@" not in log and "Live 0" not in log and "Traceback" not in log
    assert not runs.alive


def test_shutdown_waits_for_the_run_in_progress_and_joins_the_thread(
        live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow_tick() -> dict[str, Any]:
        started.set()
        time.sleep(0.4)
        finished.set()
        return {"enqueued": 0}

    monkeypatch.setattr(live.runtime, "tick", slow_tick)
    with scheduling(live, every=timedelta(seconds=0.1)) as (site, runs):
        assert started.wait(5)
    stopped_mid_run = finished.is_set()

    assert stopped_mid_run and not runs.alive
    assert "waiting for the run in progress" in site.log.getvalue()


def test_serve_answers_eventbrite_orders_from_a_file_of_api_answers(tmp_path: Path) -> None:
    """`serve --provider-answers`: an Eventbrite webhook is read through the API stand-in."""
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        '"https://www.eventbriteapi.com/v3/orders/5126713099/":\n'
        f'  file: {ROOT / "scenarios" / "rehearsal" / "eventbrite-order-5126713099.json"}\n',
        encoding="utf-8")
    (tmp_path / "outbox").mkdir()
    process = _start_serve(tmp_path / "outbox", "--series",
                           str(ROOT / "scenarios" / "rehearsal" / "contouring-2023.yaml"),
                           "--provider-answers", str(answers))
    try:
        printed = _printed(process)
        secret = printed["webhook secret"]
        body = json.dumps({"config": {"action": "order.placed"}, "api_url":
                           "https://www.eventbriteapi.com/v3/orders/5126713099/"}).encode()
        url = f"{printed['base']}/webhooks/eventbrite/contouring-2023"
        accepted = _post(f"{url}?token={secret}", body, {"Content-Type": "application/json"})
        unknown = _post(f"{url}?token={secret}", body.replace(b"5126713099", b"42"),
                        {"Content-Type": "application/json"})
        forged = _post(f"{url}?token=wrong", body, {"Content-Type": "application/json"})
    finally:
        stops = _stopped(process)
    assert accepted[0] in (200, 202) and accepted[1].get("registrant"), accepted
    assert unknown[0] == 400 and "404" in unknown[1]["error"], unknown  # not in the answers
    assert forged[0] == 401
    assert printed["eventbrite"] == "POST"
    assert [code for code, _, _ in stops] == [0]
