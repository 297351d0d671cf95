"""X-Ray tracing of a handler, paid for only where it is on.

Powertools' ``Tracer()`` loads the X-Ray SDK (about fifty modules) even when tracing is off, at
every cold start. Tracing is off, as Powertools decides it, with ``POWERTOOLS_TRACE_DISABLED``
true or outside Lambda (no ``LAMBDA_TASK_ROOT``, or SAM's or Chalice's local emulators): the
handler is then left as it is and the SDK never imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

Handler = TypeVar("Handler", bound=Callable[..., Any])
_TRUE = {"1", "true", "on", "y", "yes", "t"}  # Powertools' truthy values


def tracing_on(env: Mapping[str, str] = os.environ) -> bool:
    """Whether Powertools would trace here."""
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    in_lambda = bool(env.get("LAMBDA_TASK_ROOT"))
    emulated = bool(env.get("AWS_SAM_LOCAL") or env.get("AWS_CHALICE_CLI_MODE"))
    return in_lambda and not emulated


def traced(handler: Handler) -> Handler:
    """The handler with Powertools' ``capture_lambda_handler`` where tracing is on; else the
    handler itself."""
    if not tracing_on():
        return handler
    from aws_lambda_powertools import Tracer

    return cast(Handler, Tracer().capture_lambda_handler(handler))
