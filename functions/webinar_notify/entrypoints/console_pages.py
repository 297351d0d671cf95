"""The organiser console: pages rendered on the server, every action a plain form.

The session is the Cognito ID token in an HttpOnly cookie (core/console_session.py); every
page verifies it and reads the organiser's series and role from it. A page without a valid
session sends the browser to sign in (and clears a refused cookie); a series the organiser
holds no role on is a 403 page. Every POST carries the session's CSRF token and must come
from the console's own page; every action goes through the organiser's one write path
(``Organiser.perform``) with the Idempotency-Key the form was rendered with, so a double
submit acts once and the audit trail says who did it.
"""

from __future__ import annotations

import json
import secrets as random_tokens
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie

from ..bootstrap import find_templates, services
from ..core import console_session, edge
from ..core.console_views import KIND_LABELS, moment_in
from ..core.errors import InvalidInputError, PayloadError, SignatureError
from ..core.organiser_access import (
    AccessDenied,
    OrganiserIdentity,
    Role,
    identity_from_claims,
    require,
)
from ..core.text import normalise_email, suppression_id
from ..services.answers import Answer, ChangePreview, OrganiserResult
from ..services.console_views import ConsoleViews, zone_choices
from ..services.organising import Organiser
from ..services.registrant_care import (
    RegistrantCancelled,
    RegistrantErased,
    SuppressionLifted,
)
from . import console_forms as forms
from .organiser_reads import job_state
from .organiser_routes import http_answer
from .page_security import read_form, refuse_cross_site

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
CONSOLE = "/console"
SIGN_IN = f"{CONSOLE}/sign-in"
SERIES = f"{CONSOLE}/series/<series_id>"
HTML = "text/html; charset=utf-8"
MAX_CONSOLE_FORM = 64 * 1024  # an announcement's Markdown may be long
STATIC_TYPES = {"console.css": "text/css; charset=utf-8",
                "preview.js": "text/javascript; charset=utf-8",
                "job.js": "text/javascript; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in organiser on a page: who they are, their session and its CSRF token."""

    identity: OrganiserIdentity
    token: str
    csrf: str


class SignedOut(Exception):
    """No valid session: go to sign in (clearing the cookie when one was refused)."""

    def __init__(self, clear: bool) -> None:
        super().__init__("sign in")
        self.clear = clear


# -- sign-in -----------------------------------------------------------------------------------
@router.get(SIGN_IN)
def sign_in_page() -> Response[str]:
    return _html(200, _render("sign_in.html", None, title="Sign in", step="password",
                              username="", session="", errors=[]))


@router.post(SIGN_IN)
def sign_in() -> Response[str]:
    try:
        form = _form()
    except InvalidInputError as error:
        return _html(error.status, _render("sign_in.html", None, title="Sign in",
                                           step="password", username="", session="",
                                           errors=[forms.error("", str(error))]))
    username = form.get("username", "").strip()
    accounts = services().accounts
    step = "new_password" if form.get("step") == "new_password" else "password"
    try:
        if step == "new_password":
            if form.get("new_password", "") != form.get("confirm_password", ""):
                raise PayloadError("the two new passwords are not the same")
            result = accounts.choose_password(username, form.get("session", ""),
                                              form.get("new_password", ""))
        else:
            result = accounts.sign_in(username, form.get("password", ""))
    except InvalidInputError as error:
        metrics.add_metric(name="ConsoleSignInsRefused", unit=MetricUnit.Count, value=1)
        field = "new_password" if step == "new_password" else "password"
        return _html(error.status, _render(
            "sign_in.html", None, title="Sign in", step=step, username=username,
            session=form.get("session", ""), errors=[forms.error(field, str(error))]))
    if result.id_token is None:  # Cognito asks for a step first (a new password)
        return _html(200, _render("sign_in.html", None, title="Choose a new password",
                                  step="new_password", username=username,
                                  session=result.session or "", errors=[]))
    metrics.add_metric(name="ConsoleSignIns", unit=MetricUnit.Count, value=1)
    return _redirect(CONSOLE,
                     cookie=console_session.session_cookie(result.id_token, result.expires_in))


@router.post(f"{CONSOLE}/sign-out")
def sign_out() -> Response[str]:
    def act(visit: Visit) -> Response[str]:
        _checked_form(visit)
        return _redirect(SIGN_IN, cookie=console_session.cleared_cookie())
    return _visit(act)


# -- pages -------------------------------------------------------------------------------------
@router.get(f"{CONSOLE}/")
def console_root() -> Response[str]:
    return _redirect(CONSOLE)


# The home is /console itself: on API Gateway, /console/{proxy+} does not route a bare
# "/console/", and /console is the one address that works everywhere.
@router.get(CONSOLE)
def home() -> Response[str]:
    def page(visit: Visit) -> Response[str]:
        store = services().store
        listed = []
        for series_id in visit.identity.series_ids:
            series = store.get_series(series_id)
            listed.append({"id": series_id, "title": series.title if series else "",
                           "role": visit.identity.roles[series_id],
                           "exists": series is not None})
        return _html(200, _render("home.html", visit, title="Your series", listed=listed))
    return _visit(page)


@router.get(SERIES)
def series_root(series_id: str) -> Response[str]:
    edge.check_id(series_id, "series id")
    return _redirect(f"{CONSOLE}/series/{series_id}/")


@router.get(f"{SERIES}/")
def overview(series_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        series = views.series(series_id)
        model = views.overview(series, _query("tz"))
        return _html(200, _series_page("overview.html", visit, model, "overview",
                                       zones=zone_choices(series, model["viewer_zone"])))
    return _series_visit(series_id, "viewer", page)


@router.get(f"{SERIES}/registrants")
def registrants(series_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        model = views.registrants(views.series(series_id), _query("q"), _query("cursor"))
        return _html(200, _series_page("registrants.html", visit, model, "registrants"))
    return _series_visit(series_id, "viewer", page)


@router.post(f"{SERIES}/exports")
def start_export(series_id: str) -> Response[str]:
    """Every registrant as CSV: a job, accepted at once (and audited), then its page."""
    def act(visit: Visit, views: ConsoleViews) -> Response[str]:
        form = _checked_form(visit)
        answer = _perform(visit, form, "export_registrants", series_id, {},
                          lambda o: http_answer(services().jobs.start_export(
                              visit.identity.caller, series_id)))
        return _redirect(_series_url(series_id, f"jobs/{answer.body['job']}"))
    return _series_visit(series_id, "viewer", act)


@router.get(f"{SERIES}/jobs/<job_id>")
def job_page(series_id: str, job_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        model = {"series": views.overview(views.series(series_id))["series"],
                 "job": job_state(series_id, job_id)}
        return _html(200, _series_page("job.html", visit, model, "registrants",
                                       heading="Export of the registrants"))
    return _series_visit(series_id, "viewer", page, job_id=job_id)


@router.get(f"{SERIES}/jobs/<job_id>/progress")
def job_progress(series_id: str, job_id: str) -> Response[str]:
    """The job page's script asks here while the job runs."""
    def answer(visit: Visit, views: ConsoleViews) -> Response[str]:
        state = job_state(series_id, job_id)
        state.pop("link", None)  # the link is fetched by following the page's own
        return _json(200, state)
    return _series_visit(series_id, "viewer", answer, json_errors=True, job_id=job_id)


@router.get(f"{SERIES}/jobs/<job_id>/download")
def job_download(series_id: str, job_id: str) -> Response[str]:
    """The finished export: on AWS a link to it that works for five minutes, here the file
    itself. Every download is in the audit trail."""
    def fetch(visit: Visit, views: ConsoleViews) -> Response[str]:
        found = services().jobs.job(series_id, job_id)
        if found.state != "done":
            raise PayloadError("this export is not finished yet")
        organiser = services().organiser
        now = organiser.clock.now()
        organiser.audit.record(series_id, {
            "who": visit.identity.caller, "when": now.isoformat(),
            "action": "download_export",
            "request": {"path": router.current_event.path, "by": visit.identity.name},
            "status": 200, "recipients": None, "rows": found.done}, now)
        metrics.add_metric(name="ConsoleExports", unit=MetricUnit.Count, value=1)
        filename = f"{series_id}-registrants.csv"
        exports = services().exports
        link = exports.link(found.result_key, filename)
        if link is not None:
            return _redirect(link)
        return Response(200, "text/csv; charset=utf-8",
                         exports.read(found.result_key).decode("utf-8"),
                         headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return _series_visit(series_id, "viewer", fetch, job_id=job_id)


@router.get(f"{SERIES}/registrants/<registrant_id>")
def registrant(series_id: str, registrant_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        return _registrant_page(visit, views, series_id, registrant_id, confirm="")
    return _series_visit(series_id, "viewer", page, registrant_id=registrant_id)


@router.post(f"{SERIES}/registrants/<registrant_id>")
def registrant_action(series_id: str, registrant_id: str) -> Response[str]:
    def act(visit: Visit, views: ConsoleViews) -> Response[str]:
        form = _checked_form(visit)
        action = form.get("action", "")
        if action in ("cancel", "erase"):  # the first press: ask once more
            return _registrant_page(visit, views, series_id, registrant_id, confirm=action)
        if action not in ("cancel_confirmed", "erase_confirmed"):
            raise PayloadError("unknown action")
        verb = action.removesuffix("_confirmed")

        def run(o: Organiser) -> Answer:
            if verb == "cancel":
                return _care_answer(o.cancel_registrant(series_id, registrant_id))
            return _care_answer(o.erase_registrant(series_id, registrant_id))
        answer = _perform(visit, form, f"{verb}_registrant", series_id,
                          {"registrant": registrant_id}, run)
        if verb == "erase" and answer.status < 300:
            return _redirect(_series_url(series_id, "registrants", notice="erased"))
        return _registrant_page(visit, views, series_id, registrant_id, confirm="",
                                notice=_answer_notice(answer, "Registration cancelled."))
    return _series_visit(series_id, "editor", act, registrant_id=registrant_id)


@router.get(f"{SERIES}/timeline")
def timeline(series_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        series = views.series(series_id)
        model = views.timeline(series, _query("tz"))
        return _html(200, _series_page("timeline.html", visit, model, "timeline",
                                       zones=zone_choices(series, model["viewer_zone"])))
    return _series_visit(series_id, "viewer", page)


@router.get(f"{SERIES}/delivery")
def delivery(series_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        model = views.delivery(views.series(series_id), _query("cursor"))
        return _html(200, _series_page("delivery.html", visit, model, "delivery",
                                       address="", errors=[]))
    return _series_visit(series_id, "viewer", page)


@router.post(f"{SERIES}/delivery")
def lift_suppression(series_id: str) -> Response[str]:
    def act(visit: Visit, views: ConsoleViews) -> Response[str]:
        form = _checked_form(visit)
        series = views.series(series_id)
        try:
            address = normalise_email(form.get("address", ""), field="address")
        except InvalidInputError as error:
            model = views.delivery(series)
            return _html(400, _series_page("delivery.html", visit, model, "delivery",
                                           address=form.get("address", ""),
                                           errors=[forms.error("address", str(error))]))
        sid = suppression_id(services().organiser.secrets.registrant_key(), address)
        answer = _perform(visit, form, "lift_suppression", series_id, {"suppression": sid},
                          lambda o: _care_answer(o.lift_suppression(series_id, sid)))
        lifted = bool(answer.body.get("lifted"))
        notice = ("The address may be mailed again." if lifted else
                  "That address is not suppressed for this series.")
        model = views.delivery(series)
        return _html(200, _series_page("delivery.html", visit, model, "delivery", address="",
                                       errors=[], notice=notice))
    return _series_visit(series_id, "editor", act)


@router.get(f"{SERIES}/audit")
def audit(series_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        model = views.audit_trail(views.series(series_id),
                                  {visit.identity.caller: visit.identity.name},
                                  _query("cursor"))
        return _html(200, _series_page("audit.html", visit, model, "audit"))
    return _series_visit(series_id, "viewer", page)


# -- compose -----------------------------------------------------------------------------------
@router.get(f"{SERIES}/compose")
def compose_page(series_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        return _compose(visit, views, series_id, forms.blank_compose())
    return _series_visit(series_id, "viewer", page)


@router.post(f"{SERIES}/compose")
def compose_action(series_id: str) -> Response[str]:
    def act(visit: Visit, views: ConsoleViews) -> Response[str]:
        form = _checked_form(visit)
        action = form.get("action", "preview")
        series = views.series(series_id)
        try:
            doc = forms.announcement_doc(form, series, services().clock.now())
        except InvalidInputError as error:
            return _compose(visit, views, series_id, form, status=400,
                            errors=[forms.error(forms.field_of(str(error)), str(error))])
        if action == "preview":
            return _compose(visit, views, series_id, form, show_preview=True)
        if action == "test":
            if not visit.identity.email:
                raise PayloadError("your account has no email address for a test copy")
            body = {**doc, "test_to": visit.identity.email}
            notice = "A test copy is on its way to your own address."
        elif action == "send":
            body = doc
            notice = ""
        else:
            raise PayloadError("unknown action")
        answer = _perform(visit, form, "announce", series_id, body,
                          lambda o: http_answer(o.announce(series_id, dict(body))))
        notice = notice or _announced_notice(answer, series.time_zone)
        if action == "test":
            return _compose(visit, views, series_id, form, notice=notice, show_preview=True)
        return _compose(visit, views, series_id, forms.blank_compose(), notice=notice)
    return _series_visit(series_id, "editor", act)


@router.post(f"{SERIES}/compose/preview")
def compose_preview(series_id: str) -> Response[str]:
    """The live preview's JSON (the page's script): nothing is stored or sent."""
    def preview(visit: Visit, views: ConsoleViews) -> Response[str]:
        form = _checked_form(visit)
        series = views.series(series_id)
        try:
            doc = forms.announcement_doc(form, series, services().clock.now())
            model = views.compose_preview(series, doc, form.get("preview_as", ""),
                                          services().organiser)
        except InvalidInputError as error:
            return _json(200, {"error": str(error)})
        return _json(200, model)
    return _series_visit(series_id, "editor", preview, json_errors=True)


@router.post(f"{SERIES}/announcements/<announcement_id>/cancel")
def cancel_announcement(series_id: str, announcement_id: str) -> Response[str]:
    def act(visit: Visit, views: ConsoleViews) -> Response[str]:
        form = _checked_form(visit)
        answer = _perform(visit, form, "cancel_announcement", series_id, {},
                          lambda o: http_answer(o.cancel_announcement(series_id,
                                                                      announcement_id)))
        notice = "The announcement is cancelled." if answer.status < 300 else \
            str(answer.body.get("error", "Not cancelled."))
        return _compose(visit, views, series_id, forms.blank_compose(), notice=notice)
    return _series_visit(series_id, "editor", act, announcement_id=announcement_id)


# -- session changes ---------------------------------------------------------------------------
@router.get(f"{SERIES}/sessions/<session_id>")
def session_page(series_id: str, session_id: str) -> Response[str]:
    def page(visit: Visit, views: ConsoleViews) -> Response[str]:
        series = views.series(series_id)
        return _session(visit, series_id, session_id,
                        forms.session_form(series, session_id), None, views)
    return _series_visit(series_id, "viewer", page, session_id=session_id)


@router.post(f"{SERIES}/sessions/<session_id>")
def session_action(series_id: str, session_id: str) -> Response[str]:
    """Edit → a dry run (the count and the update email) → "Send to N people"; the same
    for cancelling the session. Only the confirming press changes anything."""
    def act(visit: Visit, views: ConsoleViews) -> Response[str]:
        form = _checked_form(visit)
        views.series(series_id)  # an unknown series: a 404 page
        action = form.get("action", "")
        quiet = form.get("quiet") == "on"
        organiser = services().organiser
        if action in ("preview", "confirm"):
            try:
                fields = forms.session_change_fields(form)
                dry = organiser.change_session(series_id, session_id, fields, quiet,
                                               dry_run=True)
            except InvalidInputError as error:
                return _session(visit, series_id, session_id, form, None, views, status=400,
                                errors=[forms.error(forms.field_of(str(error)), str(error))])
            if action == "preview":
                return _session(visit, series_id, session_id, form, _dry(dry), views)
            answer = _perform(
                visit, form, "update_session", series_id, {**fields, "quiet": quiet},
                lambda o: http_answer(o.change_session(series_id, session_id, fields, quiet)))
            return _session(visit, series_id, session_id,
                            forms.session_form(views.series(series_id), session_id), None,
                            views, notice=_published_notice(answer))
        if action in ("cancel_preview", "cancel_confirm"):
            if action == "cancel_preview":
                dry = organiser.cancel_session(series_id, session_id, quiet, dry_run=True)
                return _session(visit, series_id, session_id, form, _dry(dry), views,
                                cancelling=True)
            answer = _perform(visit, form, "cancel_session", series_id, {"quiet": quiet},
                              lambda o: http_answer(o.cancel_session(series_id, session_id,
                                                                     quiet)))
            return _session(visit, series_id, session_id,
                            forms.session_form(views.series(series_id), session_id), None,
                            views, notice=_published_notice(answer))
        raise PayloadError("unknown action")
    return _series_visit(series_id, "editor", act, session_id=session_id)


@router.get(f"{CONSOLE}/static/<name>")
def static(name: str) -> Response[str]:
    content_type = STATIC_TYPES.get(name)
    if content_type is None:
        return _html(404, _render("error.html", None, title="Not found",
                                  message="There is no such file."))
    body = (find_templates() / "console" / "static" / name).read_text("utf-8")
    metrics.add_metric(name="ConsoleFiles", unit=MetricUnit.Count, value=1)
    return Response(200, content_type, body, headers={"Cache-Control": "private, max-age=300"})


# -- page helpers ------------------------------------------------------------------------------
def _registrant_page(visit: Visit, views: ConsoleViews, series_id: str, registrant_id: str,
                     confirm: str, notice: str = "") -> Response[str]:
    model = views.registrant(views.series(series_id), registrant_id, _query("tz"))
    return _html(200, _series_page("registrant.html", visit, model, "registrants",
                                   confirm=confirm, notice=notice))


def _compose(visit: Visit, views: ConsoleViews, series_id: str, form: Mapping[str, str],
             status: int = 200, errors: list[dict[str, str]] | None = None, notice: str = "",
             show_preview: bool = False) -> Response[str]:
    series = views.series(series_id)
    people = views.registrants(series, "", None, limit=20)["registrants"]
    preview = None
    if show_preview and not errors:
        doc = forms.announcement_doc(form, series, services().clock.now())
        preview = views.compose_preview(series, doc, form.get("preview_as", ""),
                                        services().organiser)
    timeline = views.timeline(series)
    scheduled = [d for d in timeline["ahead"] if d["cancellable"]]
    return _html(status, _series_page(
        "compose.html", visit, {"series": timeline["series"]}, "compose",
        form=forms.compose_values(form, series), audiences=forms.audience_choices(series),
        send_at_words=forms.moment_words(form.get("send_at", ""), series),
        people=people, preview=preview, scheduled=scheduled, errors=errors or [],
        notice=notice))


def _session(visit: Visit, series_id: str, session_id: str, form: Mapping[str, str],
             dry: dict[str, Any] | None, views: ConsoleViews, status: int = 200,
             errors: list[dict[str, str]] | None = None, notice: str = "",
             cancelling: bool = False) -> Response[str]:
    series = views.series(series_id)
    session = series.session(session_id)
    if session is None:
        raise _NotFound("no such session in this series")
    values = forms.session_values(form, series, session_id)
    current = forms.session_form(series, session_id)
    chosen = values.get("start", "")
    return _html(status, _series_page(
        "session.html", visit, {"series": views.overview(series)["series"]}, "session",
        heading=f"Session {session.id}: {session.title}",
        session={"id": session.id, "title": session.title, "status": session.status,
                 "cancelled": session.cancelled,
                 "took_place": session.end <= services().clock.now(),
                 "starts": moment_in(session.start, series.time_zone),
                 "minutes": int(session.duration.total_seconds() // 60)},
        chosen_start=forms.moment_words(chosen, series) if chosen != current["start"] else "",
        form=values, dry=dry,
        cancelling=cancelling, errors=errors or [], notice=notice, zone=series.time_zone))


def _dry(result: OrganiserResult) -> dict[str, Any]:
    assert isinstance(result, ChangePreview)
    return {"outcome": result.outcome, "recipients": result.recipients, "quiet": result.quiet,
            "notices": [{"kind": n.kind, "kind_label": f"{KIND_LABELS.get(n.kind, n.kind)} email",
                         "session": n.session, "recipients": n.recipients,
                         "subject": n.subject, "text": n.text, "html": n.html}
                        for n in result.notices]}


def _care_answer(result: RegistrantCancelled | RegistrantErased | SuppressionLifted) -> Answer:
    match result:
        case RegistrantCancelled():
            return Answer(200, {"status": "cancelled", "registrant": result.registrant_id,
                                "recipients": result.recipients})
        case RegistrantErased():
            return Answer(200, {"status": "erased", "registrant": result.registrant_id})
        case SuppressionLifted():
            return Answer(200, {"lifted": result.lifted,
                                "suppression": result.suppression_id})


def _answer_notice(answer: Answer, done: str) -> str:
    return done if answer.status < 300 else str(answer.body.get("error", "Not done."))


def _published_notice(answer: Answer) -> str:
    body = answer.body
    if body.get("outcome") == "unchanged":
        return "Nothing changed."
    if body.get("quiet"):
        return "Saved quietly: nobody was emailed."
    sent = int(body.get("recipients") or 0)
    return f"Saved. The update is on its way to {sent} {'person' if sent == 1 else 'people'}."


def _announced_notice(answer: Answer, zone: str) -> str:
    body = answer.body
    state = body.get("status")
    if state == "scheduled":
        when = moment_in(datetime.fromisoformat(str(body["send_at"])), zone)
        return (f"Scheduled for {when}; it would reach {body.get('recipients_now', 0)} "
                "people now.")
    if state == "sending":
        return f"Sending: {body.get('recipients', 0)} emails queued."
    if state == "exists":
        return "This announcement was already taken on; nothing more was sent."
    return "Done."


def _perform(visit: Visit, form: Mapping[str, str], action: str, series_id: str,
             body: dict[str, Any], run: Callable[[Organiser], Answer]) -> Answer:
    """An action through the organiser's one write path, idempotent by the form's key."""
    organiser = services().organiser
    request = {"path": router.current_event.path, "body": body, "by": visit.identity.name}
    answer = organiser.perform(visit.identity.caller, form.get("key", ""), action, series_id,
                               request, lambda: run(organiser))
    metrics.add_metric(name="OrganiserActions", unit=MetricUnit.Count, value=1)
    return answer


class _NotFound(InvalidInputError):
    status = 404


def _visit(handle: Callable[[Visit], Response[str]]) -> Response[str]:
    try:
        visit = _signed_in()
        return handle(visit)
    except SignedOut as out:
        return _redirect(SIGN_IN, cookie=console_session.cleared_cookie() if out.clear
                         else None)
    except InvalidInputError as error:
        return _error(error, None)


def _series_visit(series_id: str, role: Role, handle: Callable[[Visit, ConsoleViews],
                                                                Response[str]],
                  json_errors: bool = False, **ids: str) -> Response[str]:
    """A page of one series: signed in, holding ``role`` on it, ids well-formed."""
    visit: Visit | None = None
    try:
        visit = _signed_in()
        for name, value in {"series_id": series_id, **ids}.items():
            edge.check_id(value, name.replace("_", " "))
        require(visit.identity, series_id, role)
        return handle(visit, _views())
    except SignedOut as out:
        if json_errors:
            return _json(401, {"error": "sign in again"})
        return _redirect(SIGN_IN, cookie=console_session.cleared_cookie() if out.clear
                         else None)
    except InvalidInputError as error:
        if json_errors:
            return _json(error.status, {"error": str(error)})
        return _error(error, visit)


def _signed_in() -> Visit:
    event = router.current_event
    raw = event.raw_event
    cookies = raw.get("cookies") if isinstance(raw.get("cookies"), list) else None
    token = console_session.token_from_cookies(cookies, (event.headers or {}).get("cookie"))
    if token is None:
        raise SignedOut(clear=False)
    try:
        claims = services().verifier.verify(token)
        identity = identity_from_claims(claims)
    except SignatureError:
        metrics.add_metric(name="ConsoleSessionsRefused", unit=MetricUnit.Count, value=1)
        raise SignedOut(clear=True) from None
    return Visit(identity, token, console_session.csrf_token(_csrf_secret(), token))


def _csrf_secret() -> bytes:
    return console_session.csrf_secret(services().organiser.secrets.token_secrets()[0])


def _checked_form(visit: Visit) -> dict[str, str]:
    """The posted form, once it is known to come from this session's own page."""
    event = router.current_event
    form = read_form(event, MAX_CONSOLE_FORM, 40, keep_blank=True)
    refuse_cross_site(event)
    if not console_session.csrf_ok(_csrf_secret(), visit.token, form.get("csrf", "")):
        raise AccessDenied("this form has expired or was not sent from the console: "
                           "reload the page and try again")
    return form


def _form() -> dict[str, str]:
    event = router.current_event
    form = read_form(event, keep_blank=True)
    refuse_cross_site(event)
    return form


def _views() -> ConsoleViews:
    s = services()
    return ConsoleViews(s.store, s.organiser.schedule, s.organiser.audit, s.organiser.secrets,
                        s.clock)


def _query(name: str) -> str:
    return str((router.current_event.query_string_parameters or {}).get(name, ""))


def _series_url(series_id: str, page: str, **query: str) -> str:
    return f"{CONSOLE}/series/{series_id}/{page}" + (f"?{urlencode(query)}" if query else "")


def _render(template: str, visit: Visit | None, **context: Any) -> str:
    base: dict[str, Any] = {
        "signed_in": visit is not None,
        "organiser_name": visit.identity.name if visit else "",
        "my_series": list(visit.identity.series_ids) if visit else [],
        "csrf": visit.csrf if visit else "",
        "series": None, "nav": "", "can_edit": False, "notice": "", "errors": [],
        "key": random_tokens.token_urlsafe(18), "console": CONSOLE,
        "page_notice": _query("notice") if visit else "",
    }
    return services().organiser.renderer.render(f"console/{template}", base | context)


def _series_page(template: str, visit: Visit, model: dict[str, Any], nav: str,
                 heading: str = "", **context: Any) -> str:
    """A page of one series, headed ``heading`` or "<nav item>: <series title>"; ``nav`` is
    the navigation item marked current (none matches "session": a session is no overview)."""
    series_id = model["series"]["id"]
    return _render(template, visit, **model, nav=nav,
                   can_edit=visit.identity.can_edit(series_id),
                   title=heading or f"{_TITLES[nav]}: {model['series']['title']}",
                   base_url=f"{CONSOLE}/series/{series_id}", **context)


_TITLES = {"overview": "Overview", "registrants": "Registrants", "timeline": "Timeline",
           "delivery": "Delivery", "compose": "Compose", "audit": "Audit trail"}


def not_found_page() -> Response[str]:
    """A console path that matches no route: a page, as every other console answer is."""
    return _html(404, _render("error.html", None, title="Not found",
                              message="There is no such page in the console."))


def _error(error: InvalidInputError, visit: Visit | None) -> Response[str]:
    titles = {400: "That did not work", 403: "Not allowed", 404: "Not found",
              409: "Try again", 413: "Too large", 415: "Not a form", 422: "Not accepted",
              429: "Too many attempts"}
    metrics.add_metric(name="ConsolePagesRefused", unit=MetricUnit.Count, value=1)
    return _html(error.status, _render("error.html", visit,
                                       title=titles.get(error.status, "That did not work"),
                                       message=str(error)))


def _html(status: int, body: str) -> Response[str]:
    metrics.add_metric(name="ConsolePages", unit=MetricUnit.Count, value=1)
    return Response(status, HTML, body)


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    metrics.add_metric(name="ConsolePreviews", unit=MetricUnit.Count, value=1)
    return Response(status, "application/json", json.dumps(body, ensure_ascii=False))


def _redirect(location: str, cookie: str | None = None) -> Response[str]:
    metrics.add_metric(name="ConsoleRedirects", unit=MetricUnit.Count, value=1)
    cookies = [cast(Cookie, _SetCookie(cookie))] if cookie else None
    return Response(303, HTML, "", headers={"Location": location}, cookies=cookies)


class _SetCookie:
    """A Set-Cookie value made elsewhere (core/console_session.py), passed on as it is."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return self.value


def include(app: APIGatewayHttpResolver) -> None:
    app.include_router(router)
