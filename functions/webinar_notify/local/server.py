"""``webinar-notify serve``: the API on localhost, for curl and real form tests.

Requests are handled one at a time (moto is in-process) and the queue is drained after each,
so the outbox shows the confirmation as soon as the webhook is answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TextIO

from ..adapters.clock import SystemClock
from . import sigv4
from .runtime import LocalRuntime

MAX_READ_BYTES = 1024 * 1024  # the intake answers 413 above 256 KB; beyond this we stop reading


@dataclass(frozen=True, slots=True)
class LocalKey:
    """The one key pair the local API accepts on organiser routes, as IAM would."""

    access_key: str
    secret_key: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::123456789012:user/{self.access_key}"


def serve(runtime: LocalRuntime, host: str, port: int, out: TextIO, key: LocalKey) -> None:
    handler = _handler(runtime, out, key)
    with HTTPServer((host, port), handler) as server:
        out.write(f"listening on http://{host}:{port} (Ctrl-C to stop)\n")
        out.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            out.write("stopped\n")


def _handler(runtime: LocalRuntime, out: TextIO, key: LocalKey) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "webinar-notify-local"

        def do_POST(self) -> None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._answer(411, {"error": "send the body with a Content-Length"})
                return
            declared = self.headers.get("Content-Length") or "0"
            if not declared.isascii() or not declared.isdigit():
                self._answer(400, {"error": "Content-Length must be a number of bytes"})
                return
            if int(declared) > MAX_READ_BYTES:
                self._answer(413, {"error": "body is larger than 256 KB"})
                return
            body = self.rfile.read(int(declared))
            path = self.path.split("?")[0]
            caller = None
            if path.startswith("/organiser/"):
                url = f"http://{self.headers.get('Host', '')}{self.path}"
                # API Gateway checks signatures against real time, whatever the virtual clock.
                if not sigv4.verify(key.access_key, key.secret_key, "POST", url, body,
                                    dict(self.headers), SystemClock().now()):
                    self._answer(403, {"error": "organiser routes need a request signed with "
                                                "AWS SigV4 (the local key pair)"})
                    return
                caller = key.arn
            answer = runtime.request("POST", self.path, dict(self.headers), body, caller)
            if not answer.content_type.startswith("application/json"):
                runtime.drain()
                self._send(answer.status, answer.text.encode("utf-8"), answer.content_type)
                return
            runtime.drain()
            index = getattr(runtime.mailer, "write_index", None)
            if callable(index):
                index()
            self._answer(answer.status, answer.body)

        def do_GET(self) -> None:
            if self.command == "GET" and self.path.startswith(("/manage/", "/unsubscribe/",
                                                                "/calendar/", "/optin/")):
                answer = runtime.request("GET", self.path, dict(self.headers), b"")
                if answer.content_type.startswith("application/json"):
                    self._answer(answer.status, answer.body)
                else:
                    self._send(answer.status, answer.text.encode("utf-8"), answer.content_type)
            elif self.path.startswith("/webhooks/"):
                self._answer(405, {"error": "webhooks are POSTed"}, {"Allow": "POST"})
            else:
                self._answer(404, {"error": "no such route"})

        do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

        def _answer(self, status: int, body: dict[str, object],
                    headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                       "application/json", headers)

        def _send(self, status: int, data: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            out.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")
            out.flush()

    return Handler
