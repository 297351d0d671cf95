"""The console's page of a series' registration policy: registrants awaiting approval, with
checkboxes to approve or decline several at once (with an optional reason), every session's
seats, and one session's waitlist in order (docs/registration_policies.md)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ..bootstrap import services
from ..core.errors import PayloadError
from ..services.answers import Answer
from ..services.console_views import ConsoleViews
from ..services.organising import Organiser
from ..services.seat_views import approvals_view
from .console_common import (
    SERIES,
    Visit,
    checked_form,
    html,
    perform,
    query,
    series_page,
    series_visit,
)

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
_PICKED = "pick-"  # a checkbox per pending registrant: pick-<registrant id>


@router.get(f"{SERIES}/approvals")
def approvals(series_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        return html(200, _page(seen, views, series_id))
    return series_visit(series_id, "viewer", page)


@router.post(f"{SERIES}/approvals")
def decide(series_id: str) -> Response[str]:
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
        decision = form.get("action", "")
        if decision not in ("approve", "decline"):
            raise PayloadError("unknown action")
        picked = sorted(name.removeprefix(_PICKED) for name, value in form.items()
                        if name.startswith(_PICKED) and value)
        if not picked:
            return html(400, _page(seen, views, series_id, notice="Tick at least one "
                                   "registrant first."))
        body = {"decision": decision, "registrants": picked,
                **({"reason": form["reason"]} if form.get("reason", "").strip() else {})}

        def run(o: Organiser) -> Answer:
            from .organiser_routes import http_answer

            return http_answer(o.decide(seen.identity.caller, series_id, body))
        answer = perform(seen, form, "approvals", series_id, body, run)
        return html(200, _page(seen, views, series_id, notice=_said(answer)))
    return series_visit(series_id, "editor", act)


def _said(answer: Answer) -> str:
    if answer.status >= 300:
        return str(answer.body.get("error", "Not done."))
    changed = len(answer.body.get("changed", []))
    refused = answer.body.get("refused") or {}
    verb = "Approved" if answer.body.get("decision") == "approve" else "Declined"
    said = f"{verb}: {changed}. Each person is emailed."
    if refused:
        said += f" Left as they were: {len(refused)} (no longer awaiting approval)."
    return said


def _page(seen: Visit, views: ConsoleViews, series_id: str, notice: str = "") -> str:
    series = views.series(series_id)
    model = approvals_view(services().store, series, query("cursor"), query("session"),
                           query("line"), services().clock.now())
    return series_page("approvals.html", seen, {"series": views.head(series), **model},
                       "approvals", heading=f"Approvals and waitlists: {series.title}",
                       notice=notice, picked_prefix=_PICKED)
