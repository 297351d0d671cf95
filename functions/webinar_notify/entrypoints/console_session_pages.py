"""Signing in to the console and out of it: Cognito's password check (and the new password
it asks for on a first sign-in), then the ID token as the session cookie."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..core import console_session
from ..core.errors import InvalidInputError, PayloadError
from . import console_forms as forms
from .console_common import (
    CONSOLE,
    SIGN_IN,
    Visit,
    checked_form,
    html,
    metrics,
    plain_form,
    redirect,
    render,
    visit,
)

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.get(SIGN_IN)
def sign_in_page() -> Response[str]:
    return html(200, render("sign_in.html", None, title="Sign in", step="password",
                            username="", session="", errors=[]))


@router.post(SIGN_IN)
def sign_in() -> Response[str]:
    try:
        form = plain_form()
    except InvalidInputError as error:
        return html(error.status, render("sign_in.html", None, title="Sign in",
                                         step="password", username="", session="",
                                         errors=[forms.error("", str(error))]))
    username = form.get("username", "").strip()
    accounts = services().accounts
    step = "new_password" if form.get("step") == "new_password" else "password"
    try:
        if step == "new_password":
            if form.get("new_password", "") != form.get("confirm_password", ""):
                raise PayloadError("the two new passwords are not the same")
            result = accounts.choose_password(username, form.get("session", ""),
                                              form.get("new_password", ""))
        else:
            result = accounts.sign_in(username, form.get("password", ""))
    except InvalidInputError as error:
        metrics.add_metric(name="ConsoleSignInsRefused", unit=MetricUnit.Count, value=1)
        field = "new_password" if step == "new_password" else "password"
        return html(error.status, render(
            "sign_in.html", None, title="Sign in", step=step, username=username,
            session=form.get("session", ""), errors=[forms.error(field, str(error))]))
    if result.id_token is None:  # Cognito asks for a step first (a new password)
        return html(200, render("sign_in.html", None, title="Choose a new password",
                                step="new_password", username=username,
                                session=result.session or "", errors=[]))
    metrics.add_metric(name="ConsoleSignIns", unit=MetricUnit.Count, value=1)
    return redirect(CONSOLE,
                    cookie=console_session.session_cookie(result.id_token, result.expires_in))


@router.post(f"{CONSOLE}/sign-out")
def sign_out() -> Response[str]:
    def act(seen: Visit) -> Response[str]:
        checked_form(seen)
        return redirect(SIGN_IN, cookie=console_session.cleared_cookie())
    return visit(act)
