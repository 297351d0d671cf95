"""`webinar-notify doctor`: a read-only check of an AWS account before going live.

One line per check, "ok", "warn" or "FAIL" with what to do; exit status 1 when any check fails
(2, as everywhere in the command, for bad arguments). Only Get, List and Describe calls are made,
and no parameter value is ever read.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..adapters.clock import SystemClock
from ..core.edge import ID_PATTERN
from ..core.errors import InvalidInputError
from .checks import failed, run_checks

DEFAULT_STACK = "webinar-notify"
_REGION = re.compile(r"[a-z]{2,4}(-[a-z]+)+-\d{1,2}")
_SERIES = re.compile(ID_PATTERN)
_STACK = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}|arn:[-a-z]+:cloudformation:\S+")


def add_commands(commands: Any) -> None:
    """Add the `doctor` verb to the top-level parser's subcommands."""
    parser = commands.add_parser(
        "doctor", help="check an AWS account and the deployed stack before going live "
                       "(read-only)",
        description="Read-only checks of a real account before going live: the SES identity "
                    "and DKIM, production access (not the sandbox), the account's send rate "
                    "against the stack's SesSendRate, the configuration set and its event "
                    "destination, the SSM parameters (names only), the stack's outputs. One "
                    "line per check with the fix; exit status 1 when a check fails.")
    parser.add_argument("--stack-name", default=DEFAULT_STACK,
                        help=f"the deployed stack (default: {DEFAULT_STACK})")
    parser.add_argument("--region", help="its region (default: your AWS configuration's)")
    parser.add_argument("--identity", help="the SES identity to check (default: the stack's "
                                           "SenderIdentity parameter)")
    parser.add_argument("--series", action="append", default=[], metavar="ID",
                        help="also check that this series' reminders fit their windows at "
                             "the stack's SesSendRate (repeatable)")
    parser.set_defaults(run=doctor)


def doctor(args: argparse.Namespace) -> int:
    import boto3

    from .reader import read_account

    session = boto3.Session()
    region = args.region or session.region_name
    if not region:
        raise InvalidInputError("no AWS region: pass --region (e.g. --region eu-west-1) or "
                                "set AWS_REGION")
    if not _REGION.fullmatch(region):
        raise InvalidInputError(f"--region: {region!r} is not a region name, e.g. eu-west-1")
    if not _STACK.fullmatch(args.stack_name):
        raise InvalidInputError(f"--stack-name: {args.stack_name!r} is not a stack name "
                                "(letters, digits and hyphens, starting with a letter)")
    if session.get_credentials() is None:
        raise InvalidInputError("no AWS credentials found (set AWS_PROFILE or "
                                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    print(f"checking stack {args.stack_name} in {region} (read-only)")
    for series_id in args.series:
        if not _SERIES.fullmatch(series_id):
            raise InvalidInputError(f"--series: {series_id[:60]!r} is not a series id "
                                    "(lower-case letters, digits and hyphens)")
    checks = run_checks(read_account(session, region, args.stack_name, args.identity,
                                     args.series, SystemClock().now()))
    for check in checks:
        print(check.line())
    failures = sum(check.status == "FAIL" for check in checks)
    warnings = sum(check.status == "warn" for check in checks)
    verdict = ": not ready to go live" if failures else ""
    print(f"\n{failures} failed, {warnings} warning{'' if warnings == 1 else 's'}, "
          f"{len(checks) - failures - warnings} ok{verdict}")
    return 1 if failed(checks) else 0
