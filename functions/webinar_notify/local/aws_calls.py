"""Every AWS API call a boto3 client makes off-cloud, as seen before it is sent.

moto answers calls but checks neither IAM nor several service limits. Listeners registered
here see each call (service, operation, parameters) and the local function making it, so the
stand-in can refuse what AWS would refuse and the tests can check calls against policies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import boto3
from botocore.handlers import BUILTIN_HANDLERS

Listener = Callable[[str, str, Mapping[str, Any]], None]
"""Called with (service name as botocore knows it, e.g. "sesv2", operation, parameters)."""

current_function: ContextVar[str] = ContextVar("current_function", default="")
_listeners: list[Listener] = []


def watch(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` before every AWS call from now on; returns the way to stop."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Attribute the calls made inside to this function (a logical id of the template)."""
    token = current_function.set(function)
    try:
        yield
    finally:
        current_function.reset(token)


def _before_parameter_build(params: Mapping[str, Any], model: Any, **_: Any) -> None:
    service = model.service_model.service_name
    for listener in list(_listeners):
        listener(service, model.name, params)


# Every session made from now on carries the hook (as moto's own stub does), and so does the
# default session if it exists already; clients copy their session's hooks when made.
BUILTIN_HANDLERS.append(("before-parameter-build", _before_parameter_build))
if boto3.DEFAULT_SESSION is not None:
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", _before_parameter_build)
