"""The console's attendance and certificates page: upload a session's report (Zoom's attendee
report or a CSV), mark people present or absent, issue the certificates earned, revoke one.

Every action goes through the organiser's one write path (``perform``: idempotent by the
form's key, audited without addresses) to the same services as the CLI and the API. An upload
is a file in a multipart form, larger than the console's other forms allow: it is read with
its own limit, and checked for the session's CSRF token as every console form is."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ..bootstrap import services
from ..core import console_session
from ..core.errors import InvalidInputError, PayloadError
from ..core.organiser_access import AccessDenied
from ..core.organiser_jobs import MAX_ATTENDANCE_BODY_BYTES, job_view
from ..services.answers import Answer
from ..services.attendance import UPLOAD_FORMATS, accept_upload, mark_people
from ..services.certificates import certificate_rules
from ..services.console_views import ConsoleViews, zone_choices
from . import console_forms as forms
from .console_common import (
    SERIES,
    Visit,
    answer_notice,
    html,
    perform,
    redirect,
    series_page,
    series_url,
    series_visit,
)
from .console_common import (
    router as common_router,
)
from .page_security import read_form, refuse_cross_site

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
PAGE = "certificates"


def _form(seen: Visit) -> dict[str, str]:
    """The posted form (up to an upload's size), once it is known to come from this
    session's own page."""
    event = common_router.current_event
    form = read_form(event, MAX_ATTENDANCE_BODY_BYTES, 12, keep_blank=True)
    refuse_cross_site(event)
    secret = console_session.csrf_secret(services().organiser.secrets.token_secrets()[0])
    if not console_session.csrf_ok(secret, seen.token, form.get("csrf", "")):
        raise AccessDenied("this form has expired or was not sent from the console: "
                           "reload the page and try again")
    return form


def _page(seen: Visit, views: ConsoleViews, series_id: str, status: int = 200,
          notice: str = "", errors: list[dict[str, str]] | None = None,
          form: dict[str, str] | None = None) -> Response[str]:
    series = views.series(series_id)
    rules = certificate_rules(series)
    now = services().clock.now()
    held = [{"id": s.id, "title": s.title} for s in series.sessions
            if not s.cancelled and s.start <= now]
    model = {"series": views.head(series)}
    return html(status, series_page(
        "certificates.html", seen, model, PAGE, heading=f"Attendance and certificates: "
        f"{series.title}", held=held, rules=_rules_words(rules), notice=notice,
        errors=errors or [], form=form or {},
        zones=zone_choices(series, (form or {}).get("time_zone", "")),
        series_zone=series.time_zone,
        to_email=len(services().certificates.to_email(series_id)) if rules else 0))


def _rules_words(rules: Any) -> list[str]:
    if rules is None:
        return []
    words = [f"Attended at {float(rules.threshold) * 100:g} % of a session's length or more."]
    if rules.series is not None:
        listed = ", ".join(rules.series.sessions) if rules.series.sessions else "every session"
        words.append(f"A series certificate for {listed}"
                     + (", once the series' evaluation is done." if rules.series.evaluation
                        else "."))
    if rules.per_session_all or rules.sessions:
        words.append("A certificate for each session attended"
                     + (" (listed in the series file)." if rules.sessions else "."))
    words.append(f"{rules.credits_per_hour} {rules.credit_label} per hour, rounded down to "
                 f"{rules.credit_step}.")
    return words


@router.get(f"{SERIES}/{PAGE}")
def certificates_page(series_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        return _page(seen, views, series_id)
    return series_visit(series_id, "viewer", page)


@router.post(f"{SERIES}/{PAGE}")
def certificates_action(series_id: str) -> Response[str]:
    """One of the page's forms, by its ``action``: upload, mark, issue, revoke."""
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = _form(seen)
        action = form.get("action", "")
        try:
            if action == "upload":
                return _upload(seen, form, series_id)
            if action == "mark":
                return _page(seen, views, series_id, notice=_mark(seen, form, series_id))
            if action == "issue":
                answer = perform(seen, form, "assess_certificates", series_id, {},
                                 lambda o: _job(services().jobs.start_certificates(
                                     seen.identity.caller, series_id)))
                return _to_job(series_id, answer)
            if action == "revoke":
                typed = form.get("certificate_id", "").strip()
                answer = perform(seen, form, "revoke_certificate", series_id,
                                 {"certificate_id": typed[:40]},
                                 lambda o: Answer(200, {"revoked": services().certificates
                                                        .revoke(series_id, typed)}))
                return _page(seen, views, series_id, notice=answer_notice(
                    answer, f"Certificate {answer.body.get('revoked')} is revoked: the "
                    "verification page now says so."))
            raise PayloadError("unknown action")
        except InvalidInputError as error:
            field = {"upload": "report", "mark": "emails", "revoke": "certificate_id"} \
                .get(action, "")
            return _page(seen, views, series_id, status=error.status, form=form,
                         errors=[forms.error(field, str(error))])
    return series_visit(series_id, "editor", act)


def _job(job: Any) -> Answer:
    return Answer(202, {"job": job.job_id, **job_view(job)})


def _to_job(series_id: str, answer: Answer) -> Response[str]:
    if answer.status >= 300:
        raise PayloadError(str(answer.body.get("error", "not done")))
    return redirect(series_url(series_id, f"jobs/{answer.body['job']}"))


def _upload(seen: Visit, form: dict[str, str], series_id: str) -> Response[str]:
    session_id = form.get("session", "")
    body = {"report": form.get("report", ""), "format": form.get("format", "zoom"),
            "time_zone": form.get("time_zone", "")}
    if body["format"] not in UPLOAD_FORMATS:
        raise PayloadError("format: choose Zoom's attendee report or a CSV")
    s = services()
    answer = perform(seen, form, "upload_attendance", series_id,
                     {**body, "session": session_id},
                     lambda o: _job(accept_upload(s.jobs, o.store, o.secrets, o.clock,
                                                  seen.identity.caller, series_id,
                                                  session_id, body)))
    return _to_job(series_id, answer)


def _mark(seen: Visit, form: dict[str, str], series_id: str) -> str:
    emails = [line.strip() for line in form.get("emails", "").splitlines() if line.strip()]
    attended = form.get("attended", "yes") == "yes"
    session_id = form.get("session", "")

    def run(o: Any) -> Answer:
        s = services()
        series, ids, counted = mark_people(o.store, s.certificates.certificates, o.secrets,
                                           o.clock, series_id, session_id, emails, attended)
        issued = sum(len(s.certificates.assess(series, rid).issued) for rid in ids) \
            if series.certificates else 0
        return Answer(200, {"marked": counted.marked, "not_registered": counted.not_registered,
                            "issued": issued})
    answer = perform(seen, form, "mark_attendance", series_id,
                     {"session": session_id, "emails": emails, "attended": attended}, run)
    if answer.status >= 300:
        raise PayloadError(str(answer.body.get("error", "not done")))
    body = answer.body
    return (f"Marked {body['marked']} {'person' if body['marked'] == 1 else 'people'} "
            f"{'present' if attended else 'absent'} at {session_id}; "
            f"{body['not_registered']} matched no registration; "
            f"{body['issued']} certificates issued.")
