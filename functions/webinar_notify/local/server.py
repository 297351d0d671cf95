"""``webinar-notify serve``: the API on localhost, for curl, browsers and real form tests.

One thread per connection, so a slow or silent client holds only its own thread (and is
dropped after ``IDLE_TIMEOUT`` seconds without a byte). The runtime behind it (moto in-process,
one clock) is not thread-safe: only the handler call and the queue drain that follows it run
under a lock; reading requests and writing answers never wait for it. The queue is drained after
each request, so the outbox shows an email as soon as the request that caused it is answered.
``run()`` also runs the scheduler function while it serves, under the same lock, every 5 minutes
of the runtime's clock and whenever something falls due between (:mod:`.scheduled_runs`).

Organiser actions (POST ``/organiser/...``) need a SigV4 signature, as the API's IAM
authorizer checks it; organiser reads (GET) need a Cognito ID token as ``Authorization:
Bearer ...``, checked as its JWT authorizer does (401 ``{"message": "Unauthorized"}``).
Every header the handler sets reaches the client, HEAD answers like GET without the body, a
request line over ``MAX_REQUEST_LINE`` bytes gets 414 and headers over ``MAX_HEADER_BYTES``
(or more than 100 lines) get 431, each as one JSON line and one log line. The log never shows a
link token (:mod:`.request_log`), and a handler that fails gets a 500 with a request id while
the console gets one line naming the error type and where it was raised, no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from http.client import LineTooLong
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO, cast

from ..adapters.clock import SystemClock
from ..core import edge
from ..core.errors import InvalidInputError, PayloadError
from ..core.organiser_access import ROLES, Role
from ..core.text import normalise_email
from . import sigv4
from .infra import REGION
from .request_log import describe, log_line, loggable, printable
from .runtime import HttpAnswer, LocalRuntime
from .scheduled_runs import EVERY, NAP, ScheduledRuns

LOCAL_ORGANISERS = "/local/organisers"  # only here: `organisers add --api` against `serve`
MAX_READ_BYTES = 1024 * 1024  # the intake answers 413 above 256 KB; beyond this we stop reading
MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
IDLE_TIMEOUT = 10.0  # seconds a connection may stay silent before it is closed
LINGER_SECONDS = 1.0  # after refusing a request unread, how long its rest is read and dropped
_REFUSALS = {
    400: "the request line or headers are malformed",
    414: f"the request line is longer than {MAX_REQUEST_LINE} bytes",
    431: f"the request headers are larger than {MAX_HEADER_BYTES} bytes or 100 lines",
    501: "this HTTP method is not supported",
    505: "HTTP version not supported",
}
_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "keep-alive", "date",
               "server"}


@dataclass(frozen=True, slots=True)
class LocalKey:
    """The one key pair the local API accepts on organiser routes, as IAM would."""

    access_key: str
    secret_key: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::123456789012:user/{self.access_key}"


class LocalServer(ThreadingHTTPServer):
    """Threaded, daemon threads (Ctrl-C never waits for a slow client), a deeper backlog."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], out: TextIO) -> None:
        self.out = out
        self.scheduler: ScheduledRuns | None = None
        self._runtime: LocalRuntime | None = None
        self._invoking = threading.Lock()  # one handler call or scheduler run at a time
        self._index = _IndexWriter(out, None)
        super().__init__(address, BaseHTTPRequestHandler)  # the real handler comes with run()

    def install(self, runtime: LocalRuntime, key: LocalKey, region: str = REGION,
                idle_timeout: float = IDLE_TIMEOUT) -> None:
        """Answer with this runtime (the port is bound first, so links can name it)."""
        self._runtime = runtime
        self._index = _IndexWriter(self.out, getattr(runtime.mailer, "write_index", None))
        self.RequestHandlerClass = _handler(runtime, self.out, key, region, idle_timeout,
                                            self._invoking, self._index, self._nudge)

    def start_scheduler(self, every: timedelta = EVERY, nap: float = NAP) -> ScheduledRuns:
        """Run the scheduler function while serving, as EventBridge would (after install)."""
        if self._runtime is None:
            raise RuntimeError("install a runtime before starting its scheduler")
        self.stop_scheduler()
        self.scheduler = ScheduledRuns(self._runtime, self._invoking, self.out,
                                       self._index.refresh, every, nap)
        self.scheduler.start()
        return self.scheduler

    def stop_scheduler(self) -> None:
        """End the scheduler's thread and wait for it (a run in progress finishes first)."""
        if self.scheduler is not None:
            self.scheduler.stop()

    def run(self, runtime: LocalRuntime, key: LocalKey, region: str = REGION,
            every: timedelta = EVERY) -> None:
        """Serve, and run the scheduler every ``every``, until Ctrl-C."""
        self.install(runtime, key, region)
        self.start_scheduler(every)
        host, port = self.server_address[:2]
        log_line(self.out, f"listening on http://{host!s}:{port} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop serving, then the rest
            self.serve_forever()
        try:
            self.stop_scheduler()
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait for the run in progress
            log_line(self.out, "stopped without waiting for the scheduler run in progress")
            return
        log_line(self.out, "stopped")

    def shutdown(self) -> None:
        """Stop serving (from another thread), and stop the scheduler."""
        super().shutdown()
        self.stop_scheduler()

    def server_close(self) -> None:
        self.stop_scheduler()
        super().server_close()

    def _nudge(self) -> None:
        if self.scheduler is not None:
            self.scheduler.nudge()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed outside a request (e.g. reset while closing): one line."""
        log_line(self.out, f"connection dropped: {type(sys.exc_info()[1]).__name__}")


def _handler(runtime: LocalRuntime, out: TextIO, key: LocalKey, region: str,
             idle_timeout: float, invoking: threading.Lock, index: _IndexWriter,
             changed: Callable[[], None]) -> type[BaseHTTPRequestHandler]:
    """The request handler class; ``invoking`` is held around each handler call and its
    drain, ``changed`` is called after each request that may have changed the schedule."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "webinar-notify-local"
        default_request_version = "HTTP/1.0"  # so even a garbled request line gets a status
        timeout = idle_timeout
        unread = False  # an answer went out before the request was read to its end

        def handle(self) -> None:
            try:
                super().handle()
            except OSError as error:  # the client went away mid-answer
                self.close_connection = True
                log_line(out, f"connection dropped: {type(error).__name__}")
            except Exception as error:  # a fault of this server: one line, never a traceback
                self.close_connection = True
                log_line(out, f"connection dropped: {describe(error)}")

        def handle_one_request(self) -> None:
            """The standard loop with our request-line limit; a silent client is dropped."""
            self.unread = False
            try:
                self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
                if len(self.raw_requestline) > MAX_REQUEST_LINE:
                    self.requestline = self.request_version = self.command = ""
                    self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                    return
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():
                    return
                getattr(self, f"do_{self.command}", self._unsupported)()
                self.wfile.flush()
            except TimeoutError:
                self.close_connection = True
                log_line(out, f"- (connection silent for {idle_timeout:g} s: closed)")

        def parse_request(self) -> bool:
            """The standard parser, reading headers within a byte budget (431 beyond it)."""
            raw = self.rfile
            self.rfile = cast(io.BufferedIOBase, _Budget(raw, MAX_HEADER_BYTES))
            try:
                return super().parse_request()
            finally:
                self.rfile = raw

        def finish(self) -> None:
            try:
                if self.unread:
                    self._linger()
                super().finish()
            except OSError:
                pass  # the client is gone; the server closes the socket next

        def _linger(self) -> None:
            """Read and drop the unread rest for a moment before closing, so the client reads
            its refusal instead of a connection reset."""
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            deadline, dropped = time.monotonic() + LINGER_SECONDS, 0
            while time.monotonic() < deadline and dropped < 8 * MAX_READ_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    return
                dropped += len(chunk)

        def send_error(self, code: int, message: str | None = None,
                       explain: str | None = None) -> None:
            """Refusals of the HTTP layer, in JSON like every other answer."""
            self._refuse_unread(code, _REFUSALS.get(code) or HTTPStatus(code).phrase)

        def _unsupported(self) -> None:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED)

        def _dispatch(self) -> None:
            body = self._body()
            if body is None:
                return
            route = self.path.partition("?")[0]
            method = "GET" if self.command == "HEAD" else self.command
            if route.startswith("/webhooks/") and method != "POST":
                self._json(405, {"error": "webhooks are POSTed"}, {"Allow": "POST"})
                return
            if route == LOCAL_ORGANISERS:
                self._add_organiser(method, body)
                return
            caller = None
            if route.startswith("/organiser/") and method == "POST":
                if not self._signed(method, body):
                    return
                caller = key.arn
            claims = None
            if route.startswith("/organiser/") and method == "GET":
                claims = _bearer_claims(runtime, self.headers.get("Authorization"))
                if claims is None:  # as API Gateway's JWT authorizer answers
                    self._json(401, {"message": "Unauthorized"})
                    return
            self._answer(self._invoke(method, body, caller, claims))

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

        def _signed(self, method: str, body: bytes) -> bool:
            """SigV4 by the local key, as API Gateway's IAM authorizer checks it (against real
            time, whatever the virtual clock); answers 403 itself when not."""
            url = f"http://{self.headers.get('Host', '')}{self.path}"
            refusal = sigv4.check(key.access_key, key.secret_key, method, url, body,
                                  dict(self.headers.items()), SystemClock().now(),
                                  region=region, must_sign=("Idempotency-Key",))
            if refusal:
                self._json(403, {"error": refusal})
            return not refusal

        def _add_organiser(self, method: str, body: bytes) -> None:
            """``webinar-notify organisers add --api`` against this server: the same account
            code as on AWS, on this run's user pool (moto); signed with the local key."""
            if method != "POST":
                self._json(405, {"error": "POST an organiser"}, {"Allow": "POST"})
                return
            if not self._signed(method, body):
                return
            try:
                wanted = local_organiser_request(body)
                with invoking:
                    password = runtime.add_organiser(*wanted)
            except InvalidInputError as error:
                self._json(400, {"error": str(error)})
                return
            email, name, series_id, role = wanted
            log_line(out, f"  console account added: {role} of {series_id}")
            self._json(201, {"email": email, "password": password, "series": series_id,
                             "role": role, "name": name})

        def _body(self) -> bytes | None:
            """The request body, or None when it was refused unread."""
            declared = self.headers.get("Content-Length") or "0"
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._refuse_unread(411, "send the body with a Content-Length")
            elif not declared.isascii() or not declared.isdigit():
                self._refuse_unread(400, "Content-Length must be a number of bytes")
            elif int(declared) > MAX_READ_BYTES:
                self._refuse_unread(413, "body is larger than 256 KB")
            else:
                return self.rfile.read(int(declared))
            return None

        def _refuse_unread(self, status: int, message: str) -> None:
            self.unread = self.close_connection = True
            self._json(status, {"error": message}, {"Connection": "close"})

        def _invoke(self, method: str, body: bytes, caller: str | None,
                    claims: dict[str, Any] | None = None) -> HttpAnswer:
            headers = dict(self.headers.items())
            sent = 0
            with invoking:
                try:
                    answer = runtime.request(method, self.path, headers, body, caller, claims)
                except Exception as error:
                    return _internal_error(out, error)
                try:
                    sent = runtime.drain_sent()
                except Exception as error:  # the answer stands; the emails wait in the queue
                    log_line(out, f"  the sender failed: {describe(error)}")
            if method not in ("GET", "HEAD"):
                changed()
            if sent or method == "POST":
                index.refresh()
            return answer

        def _answer(self, answer: HttpAnswer) -> None:
            headers = [(n, v) for n, v in answer.headers.items()
                       if n.lower() not in _HOP_BY_HOP]
            if not any(n.lower() == "content-type" for n, _ in headers) and answer.content_type:
                headers.append(("Content-Type", answer.content_type))
            headers += [("Set-Cookie", cookie) for cookie in answer.cookies]
            self._send(answer.status, answer.text.encode("utf-8"), headers)

        def _json(self, status: int, body: dict[str, object],
                  headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                       [("Content-Type", "application/json"), *(headers or {}).items()])

        def _send(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
            bodyless = status < 200 or status in (204, 304)  # RFC 9110: these carry no body
            self.send_response(status)
            for name, value in headers:
                if bodyless and name.lower() == "content-type":
                    continue
                if not _header_is_safe(name, value):
                    log_line(out, f"  header {printable(name)[:40]} not sent: invalid characters")
                    continue
                self.send_header(name, value)
            if not bodyless:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and not bodyless:
                self.wfile.write(data)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            target = loggable(getattr(self, "path", "")) if self.command else "(request line)"
            status = code if isinstance(code, str) else int(code)
            log_line(out, f"{printable(self.command or '-')[:16]} {target} -> {status}")

        def version_string(self) -> str:
            return self.server_version

        def log_message(self, format: str, *args: Any) -> None:
            """Silenced: every request is logged once by log_request, without its tokens."""

    return Handler


class _IndexWriter:
    """Rewrites the outbox's index.html after requests that sent mail, outside the runtime's
    lock (the outbox is thread-safe) and one writer at a time: requests that finish while it
    writes are folded into its next pass, so parallel requests do not queue up behind it."""

    def __init__(self, out: TextIO, write: Any) -> None:
        self.out, self.write = out, write if callable(write) else None
        self.lock, self.pending = threading.Lock(), threading.Event()

    def refresh(self) -> None:
        if self.write is None:
            return
        self.pending.set()
        while self.pending.is_set() and self.lock.acquire(blocking=False):
            try:
                while self.pending.is_set():
                    self.pending.clear()
                    self.write()
            except Exception as error:  # the emails are in the outbox; only the index lags
                log_line(self.out, f"  the outbox index was not rewritten: {describe(error)}")
            finally:
                self.lock.release()


class _Budget:
    """A reader that lets ``http.client.parse_headers`` read at most ``left`` bytes."""

    def __init__(self, raw: io.BufferedIOBase, left: int) -> None:
        self.raw, self.left = raw, left

    def readline(self, limit: int = -1) -> bytes:
        wanted = self.left + 1 if limit < 0 else min(limit, self.left + 1)
        line = self.raw.readline(wanted)
        self.left -= len(line)
        if self.left < 0:
            raise LineTooLong("headers")
        return line


def _bearer_claims(runtime: LocalRuntime, authorization: str | None) -> dict[str, Any] | None:
    """The claims of the ID token in ``Authorization`` (with or without ``Bearer``), verified
    as the API's JWT authorizer verifies it (signature, issuer, audience, expiry); else None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else scheme
    if not token:
        return None
    try:
        return runtime.services.verifier.verify(token)
    except InvalidInputError:
        return None


def local_organiser_request(body: bytes) -> tuple[str, str, str, Role]:
    """The JSON of ``organisers add --api``: email, name, series, role; checked."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise PayloadError("the body must be JSON") from None
    if not isinstance(doc, dict):
        raise PayloadError("the body must be a JSON object")
    email, name = doc.get("email"), doc.get("name", "")
    series_id, role = doc.get("series"), doc.get("role")
    if not isinstance(email, str) or "@" not in email:
        raise PayloadError("email: an address")
    if not isinstance(name, str) or len(name) > 200:
        raise PayloadError("name: text of at most 200 characters")
    if not isinstance(series_id, str):
        raise PayloadError("series: a series id")
    edge.check_id(series_id, "series id")
    if role not in ROLES:
        raise PayloadError(f"role: one of {', '.join(ROLES)}")
    return normalise_email(email, field="email"), name, series_id, role


def _internal_error(out: TextIO, error: Exception) -> HttpAnswer:
    """A handler failed: the client gets a request id, the console the error's type and
    place (its message may hold what a person typed, so it is not printed)."""
    request_id = uuid.uuid4().hex
    log_line(out, f"  error in request {request_id}: {describe(error)}")
    body = {"error": "internal error; the server's console names it by this request id",
            "request_id": request_id}
    return HttpAnswer(500, body, json.dumps(body), "application/json",
                      {"Content-Type": "application/json"})


def _header_is_safe(name: str, value: str) -> bool:
    return (name.isascii() and name.replace("-", "").isalnum()
            and not any(c in value for c in "\r\n\0"))
