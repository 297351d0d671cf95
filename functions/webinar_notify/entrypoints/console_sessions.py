"""Changing or cancelling a session: a dry run first (how many people it would email, and the
update email itself), then the confirming press, or a quiet save that emails nobody."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ..bootstrap import services
from ..core.console_views import KIND_LABELS, moment_in
from ..core.errors import InvalidInputError, PayloadError
from ..core.text import whole_number
from ..services.answers import Answer, ChangePreview, OrganiserResult
from ..services.console_views import ConsoleViews
from . import console_forms as forms
from .console_common import (
    SERIES,
    NotFound,
    Visit,
    checked_form,
    html,
    job_link,
    perform,
    series_page,
    series_visit,
)
from .organiser_routes import http_answer

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.get(f"{SERIES}/sessions/<session_id>")
def session_page(series_id: str, session_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        series = views.series(series_id)
        return _session(seen, series_id, session_id,
                        forms.session_form(series, session_id), None, views)
    return series_visit(series_id, "viewer", page, session_id=session_id)


@router.post(f"{SERIES}/sessions/<session_id>")
def session_action(series_id: str, session_id: str) -> Response[str]:
    """Edit → a dry run (the count and the update email) → "Send to N people"; the same
    for cancelling the session. Only the confirming press changes anything."""
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
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
                return _session(seen, series_id, session_id, form, None, views, status=400,
                                errors=[forms.error(forms.field_of(str(error)), str(error))])
            if action == "preview":
                return _session(seen, series_id, session_id, form, _dry(dry), views)
            revision = _previewed_revision(form)
            answer = perform(
                seen, form, "update_session", series_id, {**fields, "quiet": quiet},
                lambda o: http_answer(o.change_session(series_id, session_id, fields, quiet,
                                                       expected_revision=revision)))
            return _session(seen, series_id, session_id,
                            forms.session_form(views.series(series_id), session_id), None,
                            views, notice=_published_notice(answer),
                            notice_link=job_link(series_id, answer))
        if action in ("cancel_preview", "cancel_confirm"):
            if action == "cancel_preview":
                dry = organiser.cancel_session(series_id, session_id, quiet, dry_run=True)
                return _session(seen, series_id, session_id, form, _dry(dry), views,
                                cancelling=True)
            revision = _previewed_revision(form)
            answer = perform(seen, form, "cancel_session", series_id, {"quiet": quiet},
                             lambda o: http_answer(o.cancel_session(
                                 series_id, session_id, quiet, expected_revision=revision)))
            return _session(seen, series_id, session_id,
                            forms.session_form(views.series(series_id), session_id), None,
                            views, notice=_published_notice(answer),
                            notice_link=job_link(series_id, answer))
        raise PayloadError("unknown action")
    return series_visit(series_id, "editor", act, session_id=session_id)


def _session(seen: Visit, series_id: str, session_id: str, form: Mapping[str, str],
             dry: dict[str, Any] | None, views: ConsoleViews, status: int = 200,
             errors: list[dict[str, str]] | None = None, notice: str = "",
             cancelling: bool = False,
             notice_link: dict[str, str] | None = None) -> Response[str]:
    series = views.series(series_id)
    session = series.session(session_id)
    if session is None:
        raise NotFound("no such session in this series")
    values = forms.session_values(form, series, session_id)
    current = forms.session_form(series, session_id)
    chosen = values.get("start", "")
    return html(status, series_page(
        "session.html", seen, {"series": views.head(series)}, "session",
        heading=f"Session {session.id}: {session.title}",
        session={"id": session.id, "title": session.title, "status": session.status,
                 "cancelled": session.cancelled,
                 "took_place": session.end <= services().clock.now(),
                 "starts": moment_in(session.start, series.time_zone),
                 "minutes": int(session.duration.total_seconds() // 60)},
        chosen_start=forms.moment_words(chosen, series) if chosen != current["start"] else "",
        form=values, dry=dry,
        cancelling=cancelling, errors=errors or [], notice=notice, notice_link=notice_link,
        zone=series.time_zone))


def _previewed_revision(form: Mapping[str, str]) -> int | None:
    """The series revision the confirmed preview showed: the change is made only if the
    series is still so (another organiser's change meanwhile is a 409, nothing sent)."""
    text = form.get("revision", "")
    if not text:
        return None
    revision = whole_number(text)
    if revision is None:
        raise PayloadError("revision: this form was changed; preview the change again")
    return revision


def _dry(result: OrganiserResult) -> dict[str, Any]:
    assert isinstance(result, ChangePreview)
    return {"outcome": result.outcome, "recipients": result.recipients, "quiet": result.quiet,
            "revision": result.revision, "about": result.bound != "exact",
            "notices": [{"kind": n.kind, "kind_label": f"{KIND_LABELS.get(n.kind, n.kind)} email",
                         "session": n.session, "recipients": n.recipients,
                         "about": n.bound != "exact",
                         "subject": n.subject, "text": n.text, "html": n.html}
                        for n in result.notices]}


def _published_notice(answer: Answer) -> str:
    """What the organiser reads after a change, with any reminder too big for its window
    at the account's send rate (the figures and the rate that would fit)."""
    return " ".join([_outcome(answer.body),
                     *(f"Warning: {w}" for w in answer.body.get("warnings", []))])


def _outcome(body: dict[str, Any]) -> str:
    if body.get("outcome") == "unchanged":
        return "Nothing changed."
    if body.get("quiet"):
        return "Saved quietly: nobody was emailed."
    sent = int(body.get("recipients") or 0)
    return (f"Saved. The update is on its way to about {sent} "
            f"{'person' if sent == 1 else 'people'}.")
