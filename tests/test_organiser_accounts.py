"""Organiser accounts on moto's Cognito: signing in, the first-sign-in password, adding
organisers (the CLI's `organisers add`), and the CLI's other organiser verbs' safeguards."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from conftest import SERIES_ID, Harness
from webinar_notify.adapters.accounts import (
    PASSWORD_MINIMUM_LENGTH,
    PasswordRefused,
    SignInRefused,
)
from webinar_notify.core.errors import InvalidInputError
from webinar_notify.core.organiser_access import identity_from_claims
from webinar_notify.local.infra import REGION, load_template
from webinar_notify.local.server import LocalKey, LocalServer

PASSWORD = "Correct-Horse-42"


def _cognito() -> Any:
    return boto3.client("cognito-idp", region_name=REGION)


def _groups(harness: Harness, email: str) -> set[str]:
    listed = _cognito().admin_list_groups_for_user(
        UserPoolId=harness.runtime.pool.pool_id, Username=email)
    return {g["GroupName"] for g in listed["Groups"]}


def test_a_wrong_password_and_an_unknown_address_get_the_same_refusal(harness: Harness) -> None:
    harness.runtime.add_organiser("ada@example.com", "Ada", SERIES_ID, "viewer", PASSWORD)
    accounts = harness.runtime.services.accounts
    refusals = []
    for username, password in (("ada@example.com", "Wrong-Horse-42"),
                               ("nobody@example.com", PASSWORD), ("", PASSWORD),
                               ("ada@example.com", "")):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in(username, password)
        refusals.append((refused.value.status, str(refused.value)))
    assert len(set(refusals)) == 1 and refusals[0][0] == 401
    assert accounts.sign_in(" Ada@Example.com ", PASSWORD).id_token  # the pool ignores case


def test_a_new_account_chooses_its_password_at_the_first_sign_in(harness: Harness) -> None:
    runtime = harness.runtime
    added = runtime.accounts_admin.add_organiser("grace@example.org", "Grace", SERIES_ID,
                                                 "editor")  # as on AWS: no password given
    assert added.account_created and not added.password_set
    temporary = "Temporary-Pass-1"  # what Cognito would have emailed
    _cognito().admin_set_user_password(UserPoolId=runtime.pool.pool_id,
                                       Username="grace@example.org", Password=temporary,
                                       Permanent=False)
    accounts = runtime.services.accounts

    step = accounts.sign_in("grace@example.org", temporary)
    assert step.id_token is None and step.challenge == "NEW_PASSWORD_REQUIRED" and step.session
    with pytest.raises(PasswordRefused) as weak:
        accounts.choose_password("grace@example.org", step.session, "short")
    assert weak.value.status == 400 and f"{PASSWORD_MINIMUM_LENGTH} characters" in str(weak.value)
    with pytest.raises(PasswordRefused):  # long enough, but Cognito's policy wants a digit
        accounts.choose_password("grace@example.org", step.session, "no-digits-in-here-Ab")
    with pytest.raises(SignInRefused):
        accounts.choose_password("grace@example.org", "an-expired-session-" * 3, PASSWORD)

    done = accounts.choose_password("grace@example.org", step.session, PASSWORD)
    assert done.id_token and done.expires_in == 3600
    claims = runtime.services.verifier.verify(done.id_token)
    assert dict(identity_from_claims(claims).roles) == {SERIES_ID: "editor"}
    assert accounts.sign_in("grace@example.org", PASSWORD).id_token


def test_adding_a_role_again_replaces_the_other_role_on_that_series(harness: Harness) -> None:
    admin = harness.runtime.accounts_admin
    first = admin.add_organiser("ada@example.com", "Ada", SERIES_ID, "viewer", PASSWORD)
    assert first.group_created and first.account_created
    admin.add_organiser("ada@example.com", "Ada", "other-series", "viewer", PASSWORD)
    promoted = admin.add_organiser("ada@example.com", "Ada", SERIES_ID, "editor", PASSWORD)
    assert not promoted.account_created and promoted.replaced_role == "viewer"
    assert _groups(harness, "ada@example.com") == {f"{SERIES_ID}.editor", "other-series.viewer"}
    with pytest.raises(InvalidInputError):
        admin.add_organiser("not-an-address", "", SERIES_ID, "viewer", PASSWORD)
    with pytest.raises(InvalidInputError):
        admin.add_organiser("x@example.com", "", "Bad Series", "viewer", PASSWORD)
    with pytest.raises(PasswordRefused):
        admin.add_organiser("y@example.com", "", SERIES_ID, "viewer", "weak")


def test_the_password_rules_people_read_are_the_pools_policy() -> None:
    resources = load_template()["Resources"]
    policy = resources["OrganiserUserPool"]["Properties"]["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] == PASSWORD_MINIMUM_LENGTH
    assert policy["RequireUppercase"] and policy["RequireLowercase"] and policy["RequireNumbers"]
    assert not policy["RequireSymbols"]
    client = resources["OrganiserUserPoolClient"]["Properties"]
    assert client["PreventUserExistenceErrors"] == "ENABLED" and not client["GenerateSecret"]
    assert client["IdTokenValidity"] == 1 and client["TokenValidityUnits"]["IdToken"] == "hours"
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH",
                                                "ALLOW_REFRESH_TOKEN_AUTH"}


def test_the_pool_takes_only_operator_made_accounts_and_survives_the_stack() -> None:
    resources = load_template()["Resources"]
    pool = resources["OrganiserUserPool"]
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert properties["UsernameAttributes"] == ["email"]
    assert properties["DeletionProtection"] == "ACTIVE" and pool["DeletionPolicy"] == "Retain"
    assert properties["AccountRecoverySetting"]["RecoveryMechanisms"] == [
        {"Name": "verified_email", "Priority": 1}]
    api = resources["ApiFunction"]["Properties"]
    assert api["Environment"]["Variables"]["USER_POOL_ID"] == {"Ref": "OrganiserUserPool"}
    assert api["Environment"]["Variables"]["USER_POOL_CLIENT_ID"] == {
        "Ref": "OrganiserUserPoolClient"}
    console = [e["Properties"] for e in api["Events"].values()
               if e["Properties"]["Path"].startswith("/console")]
    # No API Gateway authorizer: the session is a cookie, which the function verifies.
    assert {(e["Method"], e["Path"]) for e in console} == {("ANY", "/console/{proxy+}"),
                                                           ("GET", "/console")}
    assert all("Auth" not in e for e in console)


# -- the command line -------------------------------------------------------------------------

def test_organisers_add_creates_the_account_and_the_group_and_says_so(
        harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify.cli import main

    pool = harness.runtime.pool.pool_id
    command = ["organisers", "add", "heidi@example.dk", "--series", SERIES_ID,
               "--role", "viewer", "--name", "Heidi Rønde", "--user-pool-id", pool]
    assert main(command) == 0
    first = capsys.readouterr().out
    assert f"created group {SERIES_ID}.viewer" in first and "temporary password" in first
    assert "Correct" not in first and "password:" not in first.lower()
    assert main([*command[:5], "--role", "editor", *command[7:]]) == 0
    second = capsys.readouterr().out
    assert "the account existed" in second and f"no longer viewer of series {SERIES_ID}" in second
    assert _groups(harness, "heidi@example.dk") == {f"{SERIES_ID}.editor"}
    user = _cognito().admin_get_user(UserPoolId=pool, Username="heidi@example.dk")
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["name"] == "Heidi Rønde"

    assert main([*command[:-1], "not-a-pool"]) == 2
    assert "--user-pool-id" in capsys.readouterr().err
    assert main([*command[:-1], "eu-west-1_doesnotexist"]) == 2


@pytest.fixture
def api(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The local API on a port, and the CLI's arguments (with its key) to reach it."""
    key = LocalKey("LOCALORGANISER", "local-organiser-secret")
    server = LocalServer(("127.0.0.1", 0), io.StringIO())
    server.install(harness.runtime, key, idle_timeout=5.0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    try:
        yield ["--api", f"http://127.0.0.1:{server.server_address[1]}", "--region", REGION]
    finally:
        server.shutdown()
        server.server_close()


def _sent(harness: Harness, kind: str) -> list[str]:
    harness.runtime.drain()
    return [str(e["to"]) for e in harness.outbox.entries() if e["kind"] == kind]


def test_session_cancel_quiet_stores_it_and_tells_nobody(
        harness: Harness, api: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify.cli import main

    harness.register_many(2, sessions=["s4"])
    before = len(harness.outbox.entries())
    assert main(["session", "cancel", SERIES_ID, "s4", "--quiet", *api]) == 0
    assert "This will email" not in capsys.readouterr().out
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None and stored.session("s4").status == "cancelled"  # type: ignore[union-attr]
    harness.runtime.drain()
    assert len(harness.outbox.entries()) == before  # nobody was told


def test_announce_without_a_terminal_refuses_unless_told_yes(
        harness: Harness, api: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify.cli import main

    addresses = harness.register_many(2)
    announce = ["announce", SERIES_ID, "--id", "pre-meeting-open", "--subject", "Doors open",
                "--body", "The pre-meeting opens at 14:30.", "--audience", '{"all": true}', *api]
    assert main(announce) == 2  # pytest's standard input is no terminal
    captured = capsys.readouterr()
    assert "no terminal" in captured.err and "--yes" in captured.err
    assert _sent(harness, "announcement") == []
    assert main([*announce, "--yes"]) == 0
    assert sorted(_sent(harness, "announcement")) == sorted(addresses)


def test_cognito_sign_in_calls_need_no_iam_permission_and_admin_calls_do() -> None:
    from webinar_notify.local.iam import needs

    for operation in ("InitiateAuth", "RespondToAuthChallenge"):
        assert needs("cognito-idp", operation, {"ClientId": "c"}) == []
    [need] = needs("cognito-idp", "AdminCreateUser", {"UserPoolId": "eu-west-1_abc",
                                                      "Username": "a@x.example"})
    assert need.action == "cognito-idp:AdminCreateUser"
    assert need.resources == ("arn:aws:cognito-idp:eu-west-1:123456789012:userpool/"
                              "eu-west-1_abc",)


def test_organisers_add_against_a_local_serve_makes_an_account_that_signs_in(
        harness: Harness, api: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The same account code as on AWS, on serve's own (moto) user pool."""
    from webinar_notify.cli import main

    base = api[1]
    command = ["organisers", "add", "nadia@example.org", "--name", "Nadia Naidoo",
               "--series", SERIES_ID, "--role", "viewer", "--api", base]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "console account: nadia@example.org" in printed and "viewer of" in printed
    password = printed.split("password: ")[1].split()[0]
    signed_in = harness.runtime.services.accounts.sign_in("nadia@example.org", password)
    assert signed_in.id_token is not None
    claims = harness.runtime.services.verifier.verify(signed_in.id_token)
    assert identity_from_claims(claims).roles == {SERIES_ID: "viewer"}

    assert main([*command[:-1], "https://abc.execute-api.eu-west-1.amazonaws.com"]) == 2
    with pytest.raises(SystemExit):  # argparse refuses an unknown role
        main([*command[:7], "--role", "owner", "--api", base])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-key")
    assert main(command) == 2  # the server checks the signature
    assert "403" in capsys.readouterr().err
