"""Organiser routes for attendance and certificates (AWS IAM auth, audited and idempotent
by key as every organiser action): a session's report uploaded, manual marks, the series'
certificates assessed and issued, a certificate revoked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ..bootstrap import services
from ..core.organiser_jobs import MAX_ATTENDANCE_BODY_BYTES, job_view
from ..services.answers import Answer
from ..services.attendance import accept_upload, mark_people
from .organiser_routes import SERIES, perform_signed

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def _perform(action: str, series_id: str, run: Callable[[str, dict[str, Any]], Answer],
             **ids: str) -> Response[str]:
    """An organiser action (organiser_routes.perform_signed) whose body may be a session's
    attendance report."""
    return perform_signed(action, series_id, run, MAX_ATTENDANCE_BODY_BYTES, **ids)


@router.post(f"{SERIES}/sessions/<session_id>/attendance-report")
def attendance_report(series_id: str, session_id: str) -> Response[str]:
    """Zoom's attendee report or a generic CSV: checked whole, then written by a job."""
    def run(caller: str, body: dict[str, Any]) -> Answer:
        s = services()
        organiser = s.organiser
        job = accept_upload(s.jobs, organiser.store, organiser.secrets, organiser.clock,
                            caller, series_id, session_id, body)
        return Answer(202, {"job": job.job_id, **job_view(job)})
    return _perform("upload_attendance", series_id, run, session_id=session_id)


@router.post(f"{SERIES}/sessions/<session_id>/marks")
def marks(series_id: str, session_id: str) -> Response[str]:
    """``{emails: [...], attended: true | false, minutes?: N}``: present for the whole
    session, not there, or present N minutes; then each marked person's certificates are
    assessed again."""
    def run(_caller: str, body: dict[str, Any]) -> Answer:
        s = services()
        organiser, certificates = s.organiser, s.certificates
        series, ids, counted = mark_people(
            organiser.store, certificates.certificates, organiser.secrets, organiser.clock,
            series_id, session_id, body.get("emails"), body.get("attended", True),
            body.get("minutes"))
        issued = certificates.issue_after_marks(series, ids)
        return Answer(200, {"marked": counted.marked, "not_registered": counted.not_registered,
                            "issued": issued})
    return _perform("mark_attendance", series_id, run, session_id=session_id)


@router.post(f"{SERIES}/certificates")
def assess_series(series_id: str) -> Response[str]:
    """Assess every registrant and issue what is earned, as a job."""
    def run(caller: str, _body: dict[str, Any]) -> Answer:
        job = services().jobs.start_certificates(caller, series_id)
        return Answer(202, {"job": job.job_id, **job_view(job)})
    return _perform("assess_certificates", series_id, run)


@router.post(f"{SERIES}/certificates/<certificate_id>/revoke")
def revoke(series_id: str, certificate_id: str) -> Response[str]:
    """Revoke one of the series' certificates: the verification page then says so."""
    def run(_caller: str, _body: dict[str, Any]) -> Answer:
        revoked = services().certificates.revoke(series_id, certificate_id)
        return Answer(200, {"revoked": revoked})
    return _perform("revoke_certificate", series_id, run)


def include(app: APIGatewayHttpResolver) -> None:
    app.include_router(router)
