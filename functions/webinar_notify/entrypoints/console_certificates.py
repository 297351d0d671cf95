"""The console's attendance and certificates page: upload a session's report (Zoom's attendee
report or a CSV), mark people present, absent or present for some minutes, issue the
certificates earned, revoke one (after a page that shows whose it is and asks); and the review
of attendance, person by person, rows needing a decision first, from which a person is marked
or a certificate revoked.

Every action goes through the organiser's one write path (``perform``: idempotent by the
form's key, audited without addresses) to the same services as the CLI and the API. An upload
is a file in a multipart form, larger than the console's other forms allow: it is read with
its own limit, and checked for the session's CSRF token as every console form is."""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ..bootstrap import services
from ..core import console_session, edge
from ..core.attendance import DEFAULT_THRESHOLD
from ..core.attendance_review import NEAR_POINTS
from ..core.certificates import SERIES_SCOPE, normalised_id
from ..core.errors import InvalidInputError, PayloadError
from ..core.organiser_access import AccessDenied
from ..core.organiser_jobs import MAX_ATTENDANCE_BODY_BYTES, job_view
from ..services.answers import Answer
from ..services.attendance import (
    UPLOAD_FORMATS,
    accept_upload,
    held_session,
    mark_people,
    mark_registrant,
    read_upload,
)
from ..services.attendance_review import person_names, review_page, unmatched_rows
from ..services.certificates import certificate_rules
from ..services.console_views import ConsoleViews, zone_choices
from . import console_forms as forms
from .console_common import (
    SERIES,
    NotFound,
    Visit,
    answer_notice,
    html,
    perform,
    query,
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
    """One of the page's forms, by its ``action``: upload, mark, mark_one (from the review),
    issue, revoke."""
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = _form(seen)
        action = form.get("action", "")
        try:
            if action == "upload":
                return _upload(seen, views, form, series_id)
            if action == "mark":
                return _page(seen, views, series_id, notice=_mark(seen, form, series_id))
            if action == "mark_one":
                return _mark_one(seen, views, form, series_id)
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
                notice = answer_notice(answer, f"Certificate {answer.body.get('revoked')} "
                                       "is revoked: the verification page now says so.")
                back = form.get("back", "")
                if back in _scopes(views.series(series_id)):
                    return _review(seen, views, series_id, back, notice=notice)
                return _page(seen, views, series_id, notice=notice)
            raise PayloadError("unknown action")
        except InvalidInputError as error:
            if action in ("mark_one", "revoke") and form.get("back"):
                raise  # from the review or the confirmation: the error page says why
            field = {"upload": "report", "mark": "emails", "revoke": "certificate_id"} \
                .get(action, "")
            if str(error).startswith("minutes:"):
                field = "minutes"
            return _page(seen, views, series_id, status=error.status, form=form,
                         errors=[forms.error(field, str(error))])
    return series_visit(series_id, "editor", act)


def _job(job: Any) -> Answer:
    return Answer(202, {"job": job.job_id, **job_view(job)})


def _to_job(series_id: str, answer: Answer) -> Response[str]:
    if answer.status >= 300:
        raise PayloadError(str(answer.body.get("error", "not done")))
    return redirect(series_url(series_id, f"jobs/{answer.body['job']}"))


def _upload(seen: Visit, views: ConsoleViews, form: dict[str, str],
            series_id: str) -> Response[str]:
    """The file is checked whole and handed to a job; the review of its session follows,
    headed by the rows that matched no registrant (worked out again here from the file, so
    their addresses are shown once and kept nowhere, not even in the audit trail)."""
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
    if answer.status >= 300:
        raise PayloadError(str(answer.body.get("error", "not done")))
    series = views.series(series_id)
    session = held_session(series, session_id, s.clock.now())
    _source, upload = read_upload(series, session, body)
    unmatched = unmatched_rows(s.organiser.store, s.organiser.secrets, series_id, upload)
    return _review(seen, views, series_id, session_id, job=str(answer.body["job"]),
                   unmatched=unmatched)


def _mark(seen: Visit, form: dict[str, str], series_id: str) -> str:
    emails = [line.strip() for line in form.get("emails", "").splitlines() if line.strip()]
    how = form.get("attended", "yes")
    attended = how != "no"
    minutes = form.get("minutes", "").strip() if how == "minutes" else None
    if how == "minutes" and not minutes:
        raise PayloadError("minutes: say how many minutes they were present")
    session_id = form.get("session", "")

    def run(o: Any) -> Answer:
        s = services()
        series, ids, counted = mark_people(o.store, s.certificates.certificates, o.secrets,
                                           o.clock, series_id, session_id, emails, attended,
                                           minutes)
        issued = s.certificates.issue_after_marks(series, ids)
        return Answer(200, {"marked": counted.marked, "not_registered": counted.not_registered,
                            "issued": issued})
    answer = perform(seen, form, "mark_attendance", series_id,
                     {"session": session_id, "emails": emails, "attended": attended,
                      **({"minutes": minutes} if minutes is not None else {})}, run)
    if answer.status >= 300:
        raise PayloadError(str(answer.body.get("error", "not done")))
    body = answer.body
    what = f"present {minutes} minutes" if minutes is not None \
        else "present" if attended else "absent"
    return (f"Marked {body['marked']} {'person' if body['marked'] == 1 else 'people'} "
            f"{what} at {session_id}; "
            f"{body['not_registered']} matched no registration; "
            f"{body['issued']} certificates issued.")


# -- the review: per person, rows needing a decision first ------------------------------------
def _scopes(series: Any) -> list[str]:
    """What the review can show: the whole series, or a session that took place."""
    now = services().clock.now()
    return [SERIES_SCOPE] + [x.id for x in series.sessions
                             if not x.cancelled and x.start <= now]


def _review(seen: Visit, views: ConsoleViews, series_id: str, scope: str, status: int = 200,
            notice: str = "", job: str = "", unmatched: list[dict[str, Any]] | None = None,
            cursor: str = "") -> Response[str]:
    series = views.series(series_id)
    scopes = _scopes(series)
    if scope not in scopes:
        raise NotFound(f"no attendance to review for {scope[:40]!r}: choose the series or "
                       "a session that has taken place")
    s = services()
    rules = certificate_rules(series)
    threshold = rules.threshold if rules is not None else DEFAULT_THRESHOLD
    page = review_page(views.store, s.certificates.certificates, series, scope,
                       cursor or None)
    session = series.session(scope)
    length = int(session.duration.total_seconds() // 60) if session else 0
    percent = float(threshold) * 100
    choices = [{"id": SERIES_SCOPE, "title": "The whole series"}] + [
        {"id": x.id, "title": f"{x.id}: {x.title}"} for x in series.sessions if x.id in scopes]
    return html(status, series_page(
        "attendance_review.html", seen, {"series": views.head(series)}, PAGE,
        heading=f"Review attendance: {series.title}", scope=scope, choices=choices,
        rows=page.rows, next_cursor=page.next_cursor, cursor=cursor,
        needing=sum(1 for r in page.rows if r.needs_review),
        notice=notice or ("The file was read without errors and is being recorded; this "
                          "page shows the new minutes once that is done." if job else ""),
        notice_link={"href": series_url(series_id, f"jobs/{job}"),
                     "text": "Follow its progress"} if job else None,
        unmatched=unmatched or [], percent=f"{percent:g}",
        needed_minutes=math.ceil(length * threshold) if length else 0, length=length,
        near=f"{float(NEAR_POINTS) * 100:g}", certificates=rules is not None,
        session=session.title if session else ""))


@router.get(f"{SERIES}/{PAGE}/review")
def review(series_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        return _review(seen, views, series_id, query("session") or SERIES_SCOPE,
                       cursor=query("cursor"))
    return series_visit(series_id, "viewer", page)


def _mark_one(seen: Visit, views: ConsoleViews, form: dict[str, str],
              series_id: str) -> Response[str]:
    """One person marked present or absent from the review, then assessed again."""
    rid, session_id = form.get("registrant", ""), form.get("session", "")
    edge.check_id(rid, "registrant id")
    attended = form.get("attended", "") == "yes"

    def run(o: Any) -> Answer:
        s = services()
        series = mark_registrant(o.store, s.certificates.certificates, o.clock, series_id,
                                 session_id, rid, attended)
        return Answer(200, {"issued": s.certificates.issue_after_marks(series, [rid])})
    answer = perform(seen, form, "mark_attendance", series_id,
                     {"session": session_id, "registrant": rid, "attended": attended}, run)
    if answer.status >= 300:
        raise PayloadError(str(answer.body.get("error", "not done")))
    name = person_names(views.store, series_id, [rid]).get(rid) or "The registrant"
    issued = int(answer.body.get("issued", 0))
    notice = (f"{name} is marked {'present' if attended else 'absent'} at {session_id}."
              + (f" {issued} {'certificate' if issued == 1 else 'certificates'} issued."
                 if issued else "")
              + ("" if attended else " A certificate already issued stays valid: revoke it "
                 "if it should not stand."))
    return _review(seen, views, series_id, form.get("back", session_id), notice=notice)


@router.get(f"{SERIES}/{PAGE}/revoke")
def confirm_revoke(series_id: str) -> Response[str]:
    """What revoking a certificate means, and one button: nothing changes until it is
    pressed."""
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        series = views.series(series_id)
        certificate_id = normalised_id(query("certificate_id"))
        records = services().certificates.certificates
        found = records.verification(certificate_id) \
            if certificate_id and records.series_of(certificate_id) == series.id else None
        if found is None:
            raise NotFound("no such certificate in this series: check the ID as printed "
                           "on the certificate, e.g. JALM-RKKL-DH6S-BA5K")
        back = query("back")
        return html(200, series_page(
            "revoke_certificate.html", seen, {"series": views.head(series)}, PAGE,
            heading=f"Revoke certificate {certificate_id}", certificate=found,
            back=back if back in _scopes(series) else ""))
    return series_visit(series_id, "editor", page)
