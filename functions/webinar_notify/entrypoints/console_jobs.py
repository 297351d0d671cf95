"""Jobs on the console: starting the registrant export, a job's page (an export's progress
and download, an announcement's fan-out and how many it was sent to, or an attendance
import and how many matched), the progress its script asks for, and the download, which the
service records in the audit trail."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..services.console_exports import jobs_from
from ..services.console_views import ConsoleViews
from .console_common import (
    SERIES,
    Visit,
    checked_form,
    html,
    json_answer,
    metrics,
    perform,
    redirect,
    request_path,
    series_page,
    series_url,
    series_visit,
)
from .organiser_routes import http_answer

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
_HEADINGS = {"registrants_csv": ("Export of the registrants", "registrants"),
             "fan_out": ("Sending an announcement", "compose"),
             "attendance": ("Attendance of a session", "overview"),
             "certificates": ("Certificates of the series", "certificates")}


@router.post(f"{SERIES}/exports")
def start_export(series_id: str) -> Response[str]:
    """Every registrant as CSV: a job, accepted at once (and audited), then its page."""
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
        answer = perform(seen, form, "export_registrants", series_id, {},
                         lambda o: http_answer(services().jobs.start_export(
                             seen.identity.caller, series_id)))
        return redirect(series_url(series_id, f"jobs/{answer.body['job']}"))
    return series_visit(series_id, "viewer", act)


@router.get(f"{SERIES}/jobs/<job_id>")
def job_page(series_id: str, job_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        job = jobs_from(services()).state(series_id, job_id)
        heading, nav = _HEADINGS[job["kind"]]
        if job["kind"] == "fan_out" and job.get("session"):  # a session change's notices
            heading, nav = f"Sending the change to session {job['session']}", "overview"
        model = {"series": views.head(views.series(series_id)), "job": job}
        return html(200, series_page("job.html", seen, model, nav, heading=heading))
    return series_visit(series_id, "viewer", page, job_id=job_id)


@router.get(f"{SERIES}/jobs/<job_id>/progress")
def job_progress(series_id: str, job_id: str) -> Response[str]:
    """The job page's script asks here while the job runs (no link: a download is the page's
    own, and audited there)."""
    def answer(seen: Visit, views: ConsoleViews) -> Response[str]:
        return json_answer(200, jobs_from(services()).state(series_id, job_id))
    return series_visit(series_id, "viewer", answer, json_errors=True, job_id=job_id)


@router.get(f"{SERIES}/jobs/<job_id>/download")
def job_download(series_id: str, job_id: str) -> Response[str]:
    """A finished export: on AWS a link to it that works for five minutes, here the file
    itself. Anything else (a fan-out, an export not finished) is a 400 page."""
    def fetch(seen: Visit, views: ConsoleViews) -> Response[str]:
        handout = jobs_from(services()).hand_out(
            series_id, job_id, seen.identity.caller, seen.identity.name, request_path(),
            file_if_no_link=True)
        metrics.add_metric(name="ConsoleExports", unit=MetricUnit.Count, value=1)
        if handout.link is not None:
            return redirect(handout.link)
        return Response(200, "text/csv; charset=utf-8", (handout.data or b"").decode("utf-8"),
                        headers={"Content-Disposition":
                                 f'attachment; filename="{handout.filename}"'})
    return series_visit(series_id, "viewer", fetch, job_id=job_id)
