"""Composing an announcement: a preview as one registrant would read it, a test copy to the
organiser's own address, sending now (a fan-out job whose page follows it) or at a time, and
cancelling one that is scheduled."""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ..bootstrap import services
from ..core.console_views import announced_words
from ..core.errors import InvalidInputError, PayloadError
from ..services.console_views import ConsoleViews
from . import console_forms as forms
from .console_common import (
    SERIES,
    Visit,
    checked_form,
    html,
    job_link,
    json_answer,
    perform,
    series_page,
    series_visit,
)
from .organiser_routes import http_answer

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.get(f"{SERIES}/compose")
def compose_page(series_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        return _compose(seen, views, series_id, forms.blank_compose())
    return series_visit(series_id, "viewer", page)


@router.post(f"{SERIES}/compose")
def compose_action(series_id: str) -> Response[str]:
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
        action = form.get("action", "preview")
        series = views.series(series_id)
        try:
            doc = forms.announcement_doc(form, series, services().clock.now())
        except InvalidInputError as error:
            return _compose(seen, views, series_id, form, status=400,
                            errors=[forms.error(forms.field_of(str(error)), str(error))])
        if action == "preview":
            return _compose(seen, views, series_id, form, show_preview=True)
        if action == "test":
            if not seen.identity.email:
                raise PayloadError("your account has no email address for a test copy")
            body = {**doc, "test_to": seen.identity.email}
        elif action == "send":
            body = doc
        else:
            raise PayloadError("unknown action")
        answer = perform(seen, form, "announce", series_id, body,
                         lambda o: http_answer(o.announce(series_id, dict(body))))
        if action == "test":
            return _compose(seen, views, series_id, form, show_preview=True,
                            notice="A test copy is on its way to your own address.")
        return _compose(seen, views, series_id, forms.blank_compose(),
                        notice=announced_words(answer.body, series.time_zone),
                        notice_link=job_link(series_id, answer))
    return series_visit(series_id, "editor", act)


@router.post(f"{SERIES}/compose/preview")
def compose_preview(series_id: str) -> Response[str]:
    """The live preview's JSON (the page's script): nothing is stored or sent."""
    def preview(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
        series = views.series(series_id)
        try:
            doc = forms.announcement_doc(form, series, services().clock.now())
            model = views.compose_preview(series, doc, form.get("preview_as", ""),
                                          services().organiser)
        except InvalidInputError as error:
            return json_answer(200, {"error": str(error)})
        return json_answer(200, model)
    return series_visit(series_id, "editor", preview, json_errors=True)


@router.post(f"{SERIES}/announcements/<announcement_id>/cancel")
def cancel_announcement(series_id: str, announcement_id: str) -> Response[str]:
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
        answer = perform(seen, form, "cancel_announcement", series_id, {},
                         lambda o: http_answer(o.cancel_announcement(series_id,
                                                                     announcement_id)))
        notice = "The announcement is cancelled." if answer.status < 300 else \
            str(answer.body.get("error", "Not cancelled."))
        return _compose(seen, views, series_id, forms.blank_compose(), notice=notice)
    return series_visit(series_id, "editor", act, announcement_id=announcement_id)


def _compose(seen: Visit, views: ConsoleViews, series_id: str, form: Mapping[str, str],
             status: int = 200, errors: list[dict[str, str]] | None = None, notice: str = "",
             show_preview: bool = False, notice_link: dict[str, str] | None = None
             ) -> Response[str]:
    series = views.series(series_id)
    people = views.registrants(series, "", None, limit=20)["registrants"]
    preview = None
    if show_preview and not errors:
        doc = forms.announcement_doc(form, series, services().clock.now())
        preview = views.compose_preview(series, doc, form.get("preview_as", ""),
                                        services().organiser)
    timeline = views.timeline(series)
    scheduled = [d for d in timeline["ahead"] if d["cancellable"]]
    return html(status, series_page(
        "compose.html", seen, {"series": timeline["series"]}, "compose",
        form=forms.compose_values(form, series), audiences=forms.audience_choices(series),
        send_at_words=forms.moment_words(form.get("send_at", ""), series),
        people=people, preview=preview, scheduled=scheduled, errors=errors or [],
        notice=notice, notice_link=notice_link))
