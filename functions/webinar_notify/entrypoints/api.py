"""HTTP API entry point: registration webhooks here; organiser routes, registrants' pages and
the console in their own routers.

Each router is imported and included on the first request under its paths (``ROUTERS``): a
container that only receives webhooks never loads the console, its views or its sign-in, and a
cold start pays for the webhook route alone.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..bootstrap import services
from ..core import edge
from ..core.errors import InvalidInputError, RetryableError, SignatureError
from ..core.providers import PROVIDERS
from ..services.intake import MAX_BODY_BYTES
from . import page_security
from .request_body import raw_body
from .tracing import traced

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()
CONSOLE = "/console"
# Path prefix -> the modules (in this package) whose routers answer under it; each module's
# ``include(app)`` adds its routes. tests/test_lambda_wiring.py checks every route is covered.
ROUTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/organiser/", ("organiser_routes", "organiser_reads", "certificate_routes")),
    (CONSOLE, ("console_pages",)),
    ("/manage/", ("public_pages",)),
    ("/optin/", ("public_pages",)),
    ("/unsubscribe/", ("public_pages",)),
    ("/calendar/", ("public_pages",)),
    ("/verify", ("public_pages",)),
)
_included: set[str] = set()
_including = threading.Lock()  # the local server answers each connection in its own thread


def include_routes(path: str) -> None:
    """Include the routers that answer under ``path``, once each."""
    for prefix, modules in ROUTERS:
        if not path.startswith(prefix):
            continue
        for name in modules:
            if name in _included:
                continue
            with _including:
                if name not in _included:
                    importlib.import_module(f"{__package__}.{name}").include(app)
                    _included.add(name)


_OUTCOME_METRICS = {"registered": "Registrations", "cancelled": "Cancellations",
                    "duplicate": "WebhooksDuplicate", "ignored": "WebhooksOutdated",
                    "answered": "WebhooksAnswered", "attendance": "AttendanceRecorded",
                    "unmatched": "AttendanceUnmatched"}


@app.post("/webhooks/<provider>/<series_id>")
def webhook(provider: str, series_id: str) -> Response[str]:
    edge.check_provider(provider, PROVIDERS)  # before any lookup: nothing else can be stored
    edge.check_id(series_id, "series id")
    event = app.current_event
    body = raw_body(event)
    if len(body) <= MAX_BODY_BYTES:  # a larger body is refused with 413 by the intake
        edge.check_json_depth(body)
    result = services().intake.receive(provider, series_id, dict(event.headers or {}), body,
                                       dict(event.query_string_parameters or {}))
    logger.info("webhook accepted", extra={"provider": provider, "series": series_id,
                                           "outcome": result.outcome,
                                           "registrant": result.registrant_id})
    metrics.add_metric(name=_OUTCOME_METRICS[result.outcome], unit=MetricUnit.Count, value=1)
    return _json(result.status, result.body())


@app.exception_handler(InvalidInputError)  # type: ignore[untyped-decorator]
def refuse(error: InvalidInputError) -> Response[str]:
    logger.info("request refused", extra={"status": error.status, "reason": type(error).__name__})
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    if isinstance(error, SignatureError) and app.current_event.path.startswith("/organiser/"):
        return _json(403, {"error": str(error)})  # unauthenticated, as API Gateway would say
    return _json(error.status, {"error": str(error)})


@app.exception_handler(RetryableError)  # type: ignore[untyped-decorator]
def busy(error: RetryableError) -> Response[str]:
    metrics.add_metric(name="WebhooksDeferred", unit=MetricUnit.Count, value=1)
    return _json(503, {"error": str(error)}, headers={"Retry-After": "5"})


@app.not_found
def no_route(_error: Exception) -> Response[str]:
    if app.current_event.path.startswith(CONSOLE + "/"):
        from .console_pages import not_found_page  # included with the console's routes

        return not_found_page()
    metrics.add_metric(name="WebhooksRefused", unit=MetricUnit.Count, value=1)
    return _json(404, {"error": "no such route"})


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
          ) -> Response[str]:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(body, ensure_ascii=False), headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    include_routes(_path(event))
    return page_security.secured(event, app.resolve(event, context))


def _path(event: Mapping[str, Any]) -> str:
    path = event.get("rawPath")
    return path if isinstance(path, str) else ""
