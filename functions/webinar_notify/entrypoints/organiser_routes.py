"""Organiser routes of the HTTP API (AWS IAM auth: API Gateway checks the SigV4 signature and
passes the caller's identity, which every action is audited under)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, assert_never

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..core import edge
from ..core.errors import PayloadError, PayloadTooLargeError, SignatureError
from ..core.organiser_jobs import MAX_ATTENDANCE_BODY_BYTES, OrganiserJob, job_view
from ..services.answers import (
    Announced,
    AnnouncementCancelled,
    Answer,
    ChangePreview,
    Decided,
    FollowedUp,
    OrganiserResult,
    Preview,
    Published,
)
from ..services.organising import Organiser
from .request_body import raw_body

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
SERIES = "/organiser/series/<series_id>"


def _act(action: str, series_id: str,
         run: Callable[[Organiser, dict[str, Any]], OrganiserResult], **ids: str) -> Response[str]:
    """Authenticate, check the path's ids (e.g. ``session_id=...``) and the body, then act."""
    return perform_signed(action, series_id,
                          lambda _caller, body: http_answer(run(services().organiser, body)),
                          None, **ids)


def perform_signed(action: str, series_id: str, run: Callable[[str, dict[str, Any]], Answer],
                   max_body: int | None = None, **ids: str) -> Response[str]:
    """Every organiser action: authenticate, check the path's ids and the body (at most
    ``max_body`` bytes when given), run once per Idempotency-Key with the caller and the body,
    audit; the answer as JSON."""
    event = router.current_event
    caller = _iam_caller()
    headers = event.headers or {}
    # IAM checked the signature over the headers it names: the key must be one of them, so
    # that a captured request cannot be replayed under a new key and act twice.
    if "idempotency-key" not in edge.signed_header_names(headers.get("authorization", ""),
                                                         event.query_string_parameters or {}):
        raise SignatureError("sign the Idempotency-Key header (list it in SignedHeaders)")
    for name, value in {"series_id": series_id, **ids}.items():
        edge.check_id(value, name.replace("_", " "))
    if max_body is not None and len(raw_body(event)) > max_body:
        raise PayloadTooLargeError(f"body is larger than {max_body} bytes")
    body = edge.json_object(raw_body(event) or b"{}")
    request = {"path": event.path, "body": body}
    answer = services().organiser.perform(caller, headers.get("idempotency-key", ""), action,
                                          series_id, request, lambda: run(caller, dict(body)))
    metrics.add_metric(name="OrganiserActions", unit=MetricUnit.Count, value=1)
    return Response(status_code=answer.status, content_type="application/json",
                    body=json.dumps(answer.body, ensure_ascii=False))


def _iam_caller() -> str:
    """Who signed the request, as API Gateway's IAM authorizer passes it."""
    context = router.current_event.raw_event.get("requestContext", {})
    iam = (context.get("authorizer") or {}).get("iam") or {}
    caller = iam.get("userArn") or iam.get("callerId")
    if not caller:
        raise SignatureError("organiser routes need AWS IAM (SigV4) credentials")
    return str(caller)


def _crowded(result: Published) -> dict[str, Any]:
    """Reminders too big for their window at the send rate (services/publishing.py)."""
    if not result.crowded:
        return {}
    return {"crowded": [c.to_doc() for c in result.crowded],
            "warnings": [c.sentence() for c in result.crowded]}


def http_answer(result: OrganiserResult) -> Answer:
    """The HTTP status and JSON body for an action's result (recorded for its retries)."""
    match result:
        case Published(outcome="unchanged"):
            return Answer(200, {"outcome": "unchanged", "revision": result.revision,
                                **_crowded(result)})
        case Published():
            return Answer(201 if result.outcome == "created" else 200, {
                "outcome": result.outcome, "revision": result.revision,
                "changed_sessions": list(result.changed_sessions),
                "notices": list(result.notices), "recipients": result.recipients,
                "quiet": result.quiet, **({"job": result.job} if result.job else {}),
                **_crowded(result)})
        case ChangePreview():
            return Answer(200, {
                "dry_run": True, "outcome": result.outcome,
                "changed_sessions": list(result.changed_sessions),
                "notices": [{"kind": n.kind, "session": n.session, "recipients": n.recipients,
                             "recipients_bound": n.bound, "subject": n.subject,
                             "text": n.text, "html": n.html}
                            for n in result.notices],
                "recipients": result.recipients, "recipients_bound": result.bound,
                "quiet": result.quiet,
                "revision": result.revision})
        case Preview():
            return Answer(200, {"recipients": result.recipients,
                                "recipients_bound": result.bound, "subject": result.subject,
                                "audience": result.audience, "html": result.html,
                                "text": result.text})
        case Announced():
            return Answer(200 if result.state == "exists" else 202, _announced(result))
        case FollowedUp():
            return Answer(202, {"announcements": [_announced(a) for a in result.announcements],
                                "recipients": result.recipients})
        case AnnouncementCancelled():
            return Answer(200, {"status": "cancelled", "id": result.id})
        case OrganiserJob():
            return Answer(202, {"job": result.job_id, **job_view(result)})
        case Decided():
            return Answer(200, {"decision": result.decision, "changed": list(result.changed),
                                "refused": result.refused, "recipients": len(result.changed)})
    assert_never(result)


def _announced(result: Announced) -> dict[str, Any]:
    body: dict[str, Any] = {"status": result.state, "id": result.id}
    if result.state == "sending":
        body |= {"recipients": result.recipients, "job": result.job}
    if result.state == "scheduled" and result.send_at is not None:
        body |= {"send_at": result.send_at.isoformat(), "recipients_now": result.recipients_now}
    return body


@router.post(f"{SERIES}/push")
def push(series_id: str) -> Response[str]:
    return _act("push_series", series_id,
                lambda o, b: o.push(series_id, b.get("series"), bool(b.get("quiet")),
                                    dry_run=_dry_run(b)))


@router.post(f"{SERIES}/sessions/<session_id>")
def change_session(series_id: str, session_id: str) -> Response[str]:
    def run(o: Organiser, b: dict[str, Any]) -> OrganiserResult:
        quiet, dry_run, revision = bool(b.pop("quiet", False)), _dry_run(b), _revision(b)
        b.pop("dry_run", None)
        b.pop("revision", None)
        return o.change_session(series_id, session_id, b, quiet, dry_run=dry_run,
                                expected_revision=revision)
    return _act("update_session", series_id, run, session_id=session_id)


@router.post(f"{SERIES}/sessions/<session_id>/cancel")
def cancel_session(series_id: str, session_id: str) -> Response[str]:
    return _act("cancel_session", series_id,
                lambda o, b: o.cancel_session(series_id, session_id, bool(b.get("quiet")),
                                              dry_run=_dry_run(b),
                                              expected_revision=_revision(b)),
                session_id=session_id)


def _dry_run(body: dict[str, Any]) -> bool:
    """``"dry_run": true`` asks what the change would do; anything but a boolean is refused,
    as a mistyped flag must not send the real thing."""
    value = body.get("dry_run", False)
    if not isinstance(value, bool):
        raise PayloadError("dry_run: expected true or false")
    return value


def _revision(body: dict[str, Any]) -> int | None:
    """``"revision": N``, the series revision a dry run showed: act only if it is still so."""
    value = body.get("revision")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PayloadError("revision: expected the series revision a dry run answered")
    return value


@router.post(f"{SERIES}/sessions/<session_id>/attendance")
def attendance(series_id: str, session_id: str) -> Response[str]:
    """Who attended, as an import job: 202 at once with the job, then follow the job."""
    caller = _iam_caller()
    if len(raw_body(router.current_event)) > MAX_ATTENDANCE_BODY_BYTES:
        raise PayloadTooLargeError(f"body is larger than {MAX_ATTENDANCE_BODY_BYTES} bytes; "
                                   "send the list in parts")
    return _act("record_attendance", series_id,
                lambda o, b: o.record_attendance(caller, series_id, session_id,
                                                 b.get("emails")),
                session_id=session_id)


@router.post(f"{SERIES}/announcements")
def announce(series_id: str) -> Response[str]:
    return _act("announce", series_id, lambda o, b: o.announce(series_id, b))


@router.post(f"{SERIES}/announcements/<announcement_id>/cancel")
def cancel_announcement(series_id: str, announcement_id: str) -> Response[str]:
    return _act("cancel_announcement", series_id,
                lambda o, b: o.cancel_announcement(series_id, announcement_id),
                announcement_id=announcement_id)


@router.post(f"{SERIES}/follow-ups")
def follow_up(series_id: str) -> Response[str]:
    return _act("follow_up", series_id, lambda o, b: o.follow_up(series_id, b))


@router.post(f"{SERIES}/approvals")
def approvals(series_id: str) -> Response[str]:
    """Approve or decline registrants (ids or addresses), with an optional reason."""
    return _act("approvals", series_id, lambda o, b: o.decide(_iam_caller(), series_id, b))


@router.post(f"{SERIES}/exports")
def export(series_id: str) -> Response[str]:
    """Every registrant as CSV, made by a job: 202 at once, then follow the job."""
    return _act("export_registrants", series_id,
                lambda o, b: services().jobs.start_export(_iam_caller(), series_id))


def include(app: APIGatewayHttpResolver) -> None:
    app.include_router(router)
