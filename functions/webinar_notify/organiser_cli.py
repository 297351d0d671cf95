"""Organiser verbs of the ``webinar-notify`` command: signed requests to the organiser API.

Every request is signed with the caller's AWS credentials (SigV4, service execute-api) and
carries a fresh Idempotency-Key, so a retried command never acts twice.

A change that emails people (a session update or cancellation, a series push) is first sent
as a dry run: the command says how many people it would email, with what subject, and asks
before it sends (``--yes`` does not ask; without a terminal and without ``--yes`` it refuses).
An announcement says its recipient count and asks the same way.

``organisers add`` is different: it calls Cognito directly with the operator's credentials, to
give an organiser a console account and a role on a series.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from .core.errors import InvalidInputError
from .core.organiser_access import ROLES
from .organiser_requests import to_request

RETRIES = 3
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


def add_commands(commands: Any) -> None:
    """Add the organiser verbs to the top-level parser's subcommands."""
    session = commands.add_parser("session", help="change or cancel a session")
    verbs = session.add_subparsers(required=True, metavar="ACTION")
    update = verbs.add_parser("update", help="change a session's time, title, link or status")
    _target(update, session=True)
    update.add_argument("--start", help='e.g. "2024-01-09T16:00:00+01:00"')
    update.add_argument("--duration-minutes", type=int)
    update.add_argument("--title")
    update.add_argument("--join-url")
    update.add_argument("--status", choices=["scheduled", "cancelled"])
    update.add_argument("--quiet", action="store_true", help="store it, tell nobody")
    add_yes(update)
    update.set_defaults(run=_session_update)
    cancel = verbs.add_parser("cancel", help="cancel a session (sends a calendar CANCEL)")
    _target(cancel, session=True)
    cancel.add_argument("--quiet", action="store_true", help="store it, tell nobody")
    add_yes(cancel)
    cancel.set_defaults(run=lambda a: _confirmed_call(a, {
        "action": "cancel_session", "session": a.session, **({"quiet": True} if a.quiet else {})}))

    announce = commands.add_parser("announce", help="send or schedule an announcement")
    _target(announce)
    announce.add_argument("--id", required=True, help="lower-case id, e.g. pre-meeting-open")
    announce.add_argument("--subject", required=True)
    body = announce.add_mutually_exclusive_group(required=True)
    body.add_argument("--body", help="Markdown text")
    body.add_argument("--body-file", type=Path, help="a Markdown file")
    announce.add_argument("--audience", required=True,
                          help='JSON: {"all": true}, {"sessions": ["s3"]}, '
                               '{"interest": "estro24-pre-meeting"}, {"attended": "s3"}, '
                               '{"absent": "s3"}')
    announce.add_argument("--send-at", help="ISO time with offset; default: now")
    announce.add_argument("--preview", type=Path, metavar="HTML",
                          help="write the email to this file for a browser; send nothing")
    announce.add_argument("--test-to", metavar="ADDRESS", help="send one copy to this address")
    announce.add_argument("--yes", action="store_true", help="do not ask before sending")
    announce.set_defaults(run=_announce)

    announcement = commands.add_parser("announcement",
                                       help="cancel a scheduled announcement (ACTION: cancel)")
    announcement_verbs = announcement.add_subparsers(required=True, metavar="ACTION")
    cancel_announcement = announcement_verbs.add_parser("cancel")
    _target(cancel_announcement)
    cancel_announcement.add_argument("id")
    cancel_announcement.set_defaults(run=lambda a: _call(a, {"action": "cancel_announcement",
                                                             "id": a.id}))

    follow_up = commands.add_parser("follow-up", help="after a session: recording, slides, "
                                    "survey, to its registrants or split by attendance")
    _target(follow_up, session=True)
    follow_up.add_argument("--recording-url")
    follow_up.add_argument("--slides-url")
    follow_up.add_argument("--survey-url")
    follow_up.add_argument("--split", action="store_true",
                           help="thank attendees, catch absentees up (needs attendance)")
    follow_up.add_argument("--send-at", help="ISO time with offset; default: now")
    follow_up.set_defaults(run=_follow_up)

    attendance = commands.add_parser("attendance", help="record who attended a session")
    _target(attendance, session=True)
    attendance.add_argument("--emails-file", type=Path, required=True,
                            help="one address per line")
    attendance.set_defaults(run=_attendance)

    report = commands.add_parser("attendance-report", help="upload a session's attendance: "
                                 "Zoom's attendee report or a CSV (email, minutes or join "
                                 "and leave)")
    _target(report, session=True)
    report.add_argument("file", type=Path, help="the CSV file")
    report.add_argument("--format", choices=("zoom", "csv"), default="zoom")
    report.add_argument("--time-zone", help="the zone the file's times are in (Zoom: the "
                        "downloading account's); default: the series'")
    report.set_defaults(run=lambda a: _call(a, {
        "action": "upload_attendance", "session": a.session, "file": str(a.file.resolve()),
        "format": a.format,
        **({"time_zone": a.time_zone} if a.time_zone else {})}))

    marks = commands.add_parser("attendance-mark", help="mark people present for a whole "
                                "session, (--absent) not there, or (--minutes N) present N "
                                "minutes")
    _target(marks, session=True)
    marks.add_argument("--emails-file", type=Path, required=True, help="one address per line")
    marked = marks.add_mutually_exclusive_group()
    marked.add_argument("--absent", action="store_true")
    marked.add_argument("--minutes", type=int, help="present this many minutes (not the "
                        "whole session)")
    marks.set_defaults(run=lambda a: _call(a, {"action": "mark_attendance",
                                               "session": a.session,
                                               "emails": _addresses(a.emails_file),
                                               "attended": not a.absent,
                                               **({"minutes": a.minutes}
                                                  if a.minutes is not None else {})}))

    certificates = commands.add_parser("certificates", help="issue what is earned (ACTION: "
                                       "issue) or revoke one (ACTION: revoke ID)")
    certificate_verbs = certificates.add_subparsers(required=True, metavar="ACTION")
    issue = certificate_verbs.add_parser("issue")
    _target(issue)
    issue.set_defaults(run=lambda a: _call(a, {"action": "assess_certificates"}))
    revoke = certificate_verbs.add_parser("revoke")
    _target(revoke)
    revoke.add_argument("id", help="the certificate id, e.g. JALM-RKKL-DH6S-BA5K")
    revoke.set_defaults(run=lambda a: _call(a, {"action": "revoke_certificate", "id": a.id}))

    for verb in ("approve", "decline"):  # a series under manual approval
        deciding = commands.add_parser(verb, help=f"{verb} registrants awaiting approval "
                                       "(by address or registrant id), with a reason")
        _target(deciding)
        deciding.add_argument("--email", action="append", default=[], help="an address "
                              "(repeat for more)")
        deciding.add_argument("--emails-file", type=Path, help="one address per line")
        deciding.add_argument("--registrant", action="append", default=[],
                              help="a registrant id, as the console shows it (repeat)")
        deciding.add_argument("--reason", help="shown to the registrant (at most 1,000 "
                              "characters)")
        deciding.set_defaults(run=lambda a, verb=verb: _call(a, {
            "action": verb, "registrants": a.registrant,
            "emails": a.email + (_addresses(a.emails_file) if a.emails_file else []),
            **({"reason": a.reason} if a.reason else {})}))

    organisers = commands.add_parser("organisers", help="console accounts (Amazon Cognito)")
    organiser_verbs = organisers.add_subparsers(required=True, metavar="ACTION")
    add = organiser_verbs.add_parser(
        "add", help="give an organiser a role on a series (creates the account if new; "
                    "Cognito emails it a temporary password)")
    add.add_argument("email", help="the organiser's address, their user name")
    add.add_argument("--series", required=True, help="the series id")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="viewer: sees the series; editor: also acts on it")
    add.add_argument("--name", default="", help="how the console greets them")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--user-pool-id", help="on AWS: the stack's OrganiserUserPoolId output")
    where.add_argument("--api", help="a local `webinar-notify serve`, e.g. "
                                     "http://127.0.0.1:8000 (signed with the key it prints)")
    add.add_argument("--region", help="default: from the user pool id (or serve's region)")
    add.set_defaults(run=_organisers_add)


def push(args: argparse.Namespace) -> int:
    return _confirmed_call(args, {"action": "push_series", "file": str(args.file.resolve()),
                                  "quiet": args.quiet})


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true",
                        help="do not ask before emailing people (for scripts)")


def _target(parser: argparse.ArgumentParser, session: bool = False) -> None:
    parser.add_argument("series", help="the series id")
    if session:
        parser.add_argument("session", help="the session id, e.g. s4")
    parser.add_argument("--api", required=True, help="the stack's API URL (https://...)")
    parser.add_argument("--region", help="AWS region of the API (default: from the URL)")


def _session_update(args: argparse.Namespace) -> int:
    fields = {"start": args.start, "duration_minutes": args.duration_minutes,
              "title": args.title, "join_url": args.join_url, "status": args.status}
    action = {"action": "update_session", "session": args.session,
              **{k: v for k, v in fields.items() if v is not None}}
    if args.quiet:
        action["quiet"] = True
    return _confirmed_call(args, action)


def _confirmed_call(args: argparse.Namespace, action: dict[str, Any]) -> int:
    """Carry out a change, after a dry run and a yes when it would email anybody."""
    if action.get("quiet"):  # a typo fix: nobody is emailed
        return _call(args, action)
    preview = _request(args, action | {"dry_run": True})
    notices = [n for n in preview.get("notices", []) if n.get("recipients")]
    total = sum(int(n["recipients"]) for n in notices)
    if total == 0:
        return _call(args, action)
    what = ", ".join(f"{n['kind']} of {n['session']}" for n in notices)
    people = f"{_bound(preview)}{total} {'person' if total == 1 else 'people'}"
    print(f"This will email {people}: {what}")
    for notice in notices:
        print(f"  {notice['kind']} of {notice['session']}, to {_bound(notice)}"
              f"{notice['recipients']}: {notice['subject']!r}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidInputError(f"this change would email {people} and there is no "
                                    "terminal to ask: check the dry run, then pass --yes")
        if not _agreed("Send? [y/N] "):
            print("not sent")
            return 1
    return _call(args, action)


def _bound(counted: dict[str, Any]) -> str:
    """"about " or "at least " before a count the API did not make one by one (a large
    audience: from the kept counts, or counting stopped); nothing before an exact one."""
    bound = counted.get("recipients_bound", "exact")
    return "" if bound == "exact" else f"{bound} "


def _agreed(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _announce(args: argparse.Namespace) -> int:
    try:
        audience = json.loads(args.audience)
        body = args.body if args.body is not None else args.body_file.read_text("utf-8")
    except ValueError:
        raise InvalidInputError("--audience must be JSON, e.g. '{\"all\": true}'") from None
    except OSError as error:
        raise InvalidInputError(f"--body-file: {error.strerror}") from None
    action = {"action": "announce", "id": args.id, "subject": args.subject,
              "body_markdown": body, "audience": audience,
              **({"send_at": args.send_at} if args.send_at else {})}
    preview = _request(args, action | {"dry_run": True})
    count = preview.get("recipients", "?")
    print(f"{_bound(preview)}{count} recipient{'' if count == 1 else 's'} "
          f"({preview.get('audience', '')})")
    if args.preview:
        args.preview.write_text(str(preview.get("html", "")), encoding="utf-8")
        print(f"preview written to {args.preview.resolve()}")
        return 0
    if args.test_to:
        return _call(args, action | {"test_to": args.test_to})
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidInputError(f"this announcement would email {count} "
                                    f"{'person' if count == 1 else 'people'} and there is no "
                                    "terminal to ask: check the count, then pass --yes")
        if not _agreed("Send it? [y/N] "):
            print("not sent")
            return 1
    return _call(args, action)


def _organisers_add(args: argparse.Namespace) -> int:
    """On AWS, with the operator's credentials: the account, the group, the membership.
    With ``--api``, the same on a local ``serve`` (its moto user pool), which answers with a
    password for the new account."""
    if args.api:
        return _local_organiser(args)
    import boto3
    from botocore.exceptions import NoCredentialsError

    from .adapters.accounts import AccountsAdmin

    region = args.region or args.user_pool_id.partition("_")[0]
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region or ""):
        raise InvalidInputError("--user-pool-id looks like eu-west-1_AbC123 (or pass --region)")
    admin = AccountsAdmin(boto3.client("cognito-idp", region_name=region), args.user_pool_id)
    try:
        added = admin.add_organiser(args.email, args.name, args.series, args.role)
    except NoCredentialsError:
        raise InvalidInputError("no AWS credentials found (set AWS_PROFILE or "
                                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)") from None
    print(describe_added(added, args.series, args.role))
    return 0


def _local_organiser(args: argparse.Namespace) -> int:
    import boto3

    from .request_signing import sign

    if not args.api.startswith(("http://127.0.0.1", "http://localhost")):
        raise InvalidInputError("--api is for a local `webinar-notify serve` "
                                "(http://127.0.0.1:PORT); on AWS pass --user-pool-id")
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise InvalidInputError("sign with the key pair `serve` prints (AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY)")
    url = args.api.rstrip("/") + "/local/organisers"
    data = json.dumps({"email": args.email, "name": args.name, "series": args.series,
                       "role": args.role}).encode()
    headers = sign(credentials, args.region or "eu-west-1", "POST", url, data,
                   {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
    request = urllib.request.Request(url, data=data, method="POST",  # noqa: S310
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            detail = json.loads(detail).get("error", detail)
        raise InvalidInputError(f"the local server answered {error.code}: {detail}") from None
    except urllib.error.URLError as error:
        raise InvalidInputError(f"no local server at {args.api} ({error.reason})") from None
    print(f"console account: {answer['email']}  password: {answer['password']}  "
          f"({answer['role']} of {answer['series']}; local, for this run of serve)")
    return 0


def describe_added(added: Any, series_id: str, role: str) -> str:
    """What ``organisers add`` did, in a few lines (no password: Cognito sends it)."""
    lines = [f"{'created' if added.group_created else 'group exists:'} group {added.group}"]
    if added.account_created and added.password_set:
        lines.append("created the account, with the password given")
    elif added.account_created:
        lines.append("created the account: Cognito emails a temporary password, and the "
                     "console asks for a new one at the first sign-in")
    else:
        lines.append("the account existed: its password is unchanged"
                     if not added.password_set else "the account existed: password set")
    if added.replaced_role:
        lines.append(f"no longer {added.replaced_role} of series {series_id}")
    lines.append(f"now {role} of series {series_id}")
    return "\n".join(lines)


def _follow_up(args: argparse.Namespace) -> int:
    fields = {"recording_url": args.recording_url, "slides_url": args.slides_url,
              "survey_url": args.survey_url, "send_at": args.send_at}
    return _call(args, {"action": "follow_up", "session": args.session, "split": args.split,
                        **{k: v for k, v in fields.items() if v}})


def _attendance(args: argparse.Namespace) -> int:
    try:
        emails = [line.strip() for line in args.emails_file.read_text("utf-8").splitlines()
                  if line.strip()]
    except OSError as error:
        raise InvalidInputError(f"--emails-file: {error.strerror}") from None
    return _call(args, {"action": "record_attendance", "session": args.session,
                        "emails": emails})


def _addresses(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise InvalidInputError(f"--emails-file: {error.strerror}") from None


def _call(args: argparse.Namespace, action: dict[str, Any]) -> int:
    answer = _request(args, action)
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    for warning in answer.get("warnings", []):  # a reminder too big for its window
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _request(args: argparse.Namespace, action: dict[str, Any]) -> dict[str, Any]:
    """POST one action, signed; a 4xx or 5xx becomes one clear error line."""
    import boto3

    from .request_signing import sign

    path, body = to_request(action, args.series, Path.cwd())
    url = args.api.rstrip("/") + path
    data = json.dumps(body).encode()
    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise InvalidInputError("no AWS credentials found to sign the request "
                                "(set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    match = _REGION_IN_HOST.search(url)
    region = args.region or (match.group(1) if match else None) or session.region_name \
        or "us-east-1"
    key = str(uuid.uuid4())  # one per command: its retries below reuse it, so it acts once
    for attempt in range(1, RETRIES + 1):
        headers = sign(credentials, region, "POST", url, data,
                       {"Content-Type": "application/json", "Idempotency-Key": key})
        request = urllib.request.Request(url, data=data, method="POST",  # noqa: S310
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return dict(json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError):
                detail = json.loads(detail).get("error", detail)
            if (error.code < 500 and error.code != 409) or attempt == RETRIES:
                raise InvalidInputError(f"the API answered {error.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError) as error:
            if attempt == RETRIES:
                reason = getattr(error, "reason", error)
                raise InvalidInputError(f"cannot reach {args.api}: {reason}") from None
        time.sleep(2 * attempt)
    raise AssertionError("unreachable")

