"""Every AWS API call a boto3 client makes off-cloud, as seen before it is sent.

moto answers calls but checks neither IAM nor several service limits. Listeners registered
here see each call (service, operation, parameters) and the local function making it, so the
stand-in can refuse what AWS would refuse and the tests can check calls against policies.
Answer listeners see each call again with what came back, so that requests and the items
they read or wrote can be counted (benchmarks/cost.py prices them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import boto3
from botocore.handlers import BUILTIN_HANDLERS

Listener = Callable[[str, str, Mapping[str, Any]], None]
"""Called with (service name as botocore knows it, e.g. "sesv2", operation, parameters)."""
AnswerListener = Callable[[str, str, Mapping[str, Any], Mapping[str, Any], float], None]
"""Called after each call with (service, operation, parameters, the parsed answer or error,
seconds since its parameters were built)."""

current_function: ContextVar[str] = ContextVar("current_function", default="")
_listeners: list[Listener] = []
_answer_listeners: list[AnswerListener] = []
_PARAMS = "webinar_notify_params"  # where a call's parameters wait for its answer
_STARTED = "webinar_notify_started"


def watch(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` before every AWS call from now on; returns the way to stop."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def watch_answers(listener: AnswerListener) -> Callable[[], None]:
    """Call ``listener`` after every AWS call from now on; returns the way to stop."""
    _answer_listeners.append(listener)
    return lambda: _answer_listeners.remove(listener) if listener in _answer_listeners \
        else None


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Attribute the calls made inside to this function (a logical id of the template)."""
    token = current_function.set(function)
    try:
        yield
    finally:
        current_function.reset(token)


def _before_parameter_build(params: Mapping[str, Any], model: Any,
                            context: dict[str, Any] | None = None, **_: Any) -> None:
    service = model.service_model.service_name
    for listener in list(_listeners):
        listener(service, model.name, params)
    if _answer_listeners and context is not None:
        context[_PARAMS] = params
        context[_STARTED] = time.perf_counter()


def _after_call(parsed: Mapping[str, Any], model: Any, context: dict[str, Any] | None = None,
                **_: Any) -> None:
    if not _answer_listeners:
        return
    params = (context or {}).get(_PARAMS, {})
    seconds = time.perf_counter() - (context or {}).get(_STARTED, time.perf_counter())
    for listener in list(_answer_listeners):
        listener(model.service_model.service_name, model.name, params, parsed, seconds)


# Every session made from now on carries the hook (as moto's own stub does), and so does the
# default session if it exists already; clients copy their session's hooks when made.
BUILTIN_HANDLERS.append(("before-parameter-build", _before_parameter_build))
BUILTIN_HANDLERS.append(("after-call", _after_call))
if boto3.DEFAULT_SESSION is not None:
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", _before_parameter_build)
    boto3.DEFAULT_SESSION.events.register("after-call", _after_call)
