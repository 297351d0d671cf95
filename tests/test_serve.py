"""`webinar-notify serve`: the same API over real HTTP on localhost."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from http.server import HTTPServer

import pytest

from conftest import ROOT, SECRET, WEBHOOK, Harness, registration_body
from webinar_notify.core.signatures import sign
from webinar_notify.local.server import LocalKey, _handler

KEY = LocalKey("LOCALORGANISER", "local-organiser-secret")


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_signed_post_over_http_is_confirmed_and_shown_in_the_outbox(harness: Harness) -> None:
    server = HTTPServer(("127.0.0.1", 0), _handler(harness.runtime, io.StringIO(), KEY))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        body = registration_body("ada@example.com", "Ada", "evt-http",
                                 created=harness.clock.now())
        t = int(harness.clock.now().timestamp())
        good = {"Content-Type": "application/json", "Webinar-Signature": sign(SECRET, t, body)}
        bad = {"Content-Type": "application/json", "Webinar-Signature": sign("nope", t, body)}

        assert _post(base + WEBHOOK, body, bad)[0] == 401
        status, answer = _post(base + WEBHOOK, body, good)
    finally:
        server.shutdown()
        server.server_close()

    assert status == 202 and answer["status"] == "registered"
    assert len(harness.outbox.entries()) == 1  # drained right after the request
    assert (harness.outbox_dir / "index.html").exists()


def test_the_local_server_refuses_odd_requests_with_json(harness: Harness) -> None:
    import http.client

    server = HTTPServer(("127.0.0.1", 0), _handler(harness.runtime, io.StringIO(), KEY))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1],
                                                timeout=30)
        answers = []
        for method, headers in (("GET", {}), ("PUT", {}),
                                ("POST", {"Content-Length": "abc"}),
                                ("POST", {"Transfer-Encoding": "chunked"})):
            connection.putrequest(method, WEBHOOK, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())["error"] != ""))
            connection.close()
    finally:
        server.shutdown()
        server.server_close()
    assert answers == [(405, True), (405, True), (400, True), (411, True)]


def test_organiser_routes_of_the_local_api_need_a_sigv4_signature(
        harness: Harness, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.credentials import Credentials

    from webinar_notify.cli import main
    from webinar_notify.local.sigv4 import sign as sigv4_sign

    server = HTTPServer(("127.0.0.1", 0), _handler(harness.runtime, io.StringIO(), KEY))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    url = f"{base}/organiser/series/reirradiation-2023/sessions/s4"
    body = json.dumps({"title": "Hijacked"}).encode()
    plain = {"Content-Type": "application/json", "Idempotency-Key": "k1"}
    try:
        unsigned = _post(url, body, plain)
        forged = _post(url, body, sigv4_sign(Credentials("LOCALORGANISER", "guessed"),
                                             "eu-west-1", "POST", url, body, plain))
        tampered = _post(url, b'{"title": "Other"}', sigv4_sign(
            Credentials(KEY.access_key, KEY.secret_key), "eu-west-1", "POST", url, body, plain))
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY.secret_key)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        code = main(["session", "update", "reirradiation-2023", "s4", "--title",
                     "Accumulating Doses", "--api", base, "--region", "eu-west-1"])
        assert '"outcome": "updated"' in capsys.readouterr().out
        stored = harness.runtime.store.get_series("reirradiation-2023")
        assert stored is not None and stored.session("s4").title == "Accumulating Doses"  # type: ignore[union-attr]
        pushed = main(["series", "push", str(ROOT / "series" / "reirradiation-2023.yaml"),
                       "--api", base, "--region", "eu-west-1", "--quiet"])
    finally:
        server.shutdown()
        server.server_close()
    assert [unsigned[0], forged[0], tampered[0]] == [403, 403, 403]
    assert code == 0 and pushed == 0
    assert '"outcome": "updated"' in capsys.readouterr().out  # the file's title is back
    stored = harness.runtime.store.get_series("reirradiation-2023")
    assert stored is not None
    assert stored.session("s4").title == "Challenges in Accumulating Doses"  # type: ignore[union-attr]
