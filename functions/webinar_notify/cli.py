"""The webinar-notify command: publish series, rehearse them locally, sign test requests.

Every error is one clear line on stderr and exit status 2; no tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from . import doctor, kit, organiser_cli
from .core.errors import InvalidInputError, WebinarNotifyError
from .core.signatures import sign

if TYPE_CHECKING:
    from .local.runtime import LocalRuntime


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except WebinarNotifyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"error: AWS said: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: nothing left to say
        return 0
    except OSError as error:  # e.g. the port for `serve` is taken
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webinar-notify", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    series = commands.add_parser("series", help="check or publish a series file")
    series_commands = series.add_subparsers(required=True, metavar="ACTION")
    check = series_commands.add_parser("check", help="validate a series file and summarise it")
    check.add_argument("file", type=Path)
    check.set_defaults(run=_series_check)
    push = series_commands.add_parser(
        "push", help="publish a series, or its changes (registrants get the updates)")
    push.add_argument("file", type=Path)
    push.add_argument("--api", required=True, help="the stack's API URL (https://...)")
    push.add_argument("--region", help="AWS region of the API (default: from the URL)")
    push.add_argument("--quiet", action="store_true",
                      help="store the changes without telling registrants (typo fixes)")
    organiser_cli.add_yes(push)
    push.set_defaults(run=_series_push)
    organiser_cli.add_commands(commands)
    doctor.add_commands(commands)

    counts = commands.add_parser("counts", help="the counters the console shows")
    counts_commands = counts.add_subparsers(required=True, metavar="ACTION")
    repair = counts_commands.add_parser(
        "repair", help="recount a series' registration counters from its registrations and "
                       "say what changed (on AWS, with the stack's table)")
    repair.add_argument("series_id")
    repair.add_argument("--table", required=True,
                        help="the stack's DynamoDB table (its Table resource's physical name)")
    repair.add_argument("--region", help="default: your AWS configuration's")
    repair.set_defaults(run=_counts_repair)

    ledger = commands.add_parser("ledger", help="the delivery ledger")
    ledger_commands = ledger.add_subparsers(required=True, metavar="ACTION")
    migrate = ledger_commands.add_parser(
        "migrate", help="copy the emails recorded before the ledger moved under the registrant "
                        "into its new place (once, after updating a stack deployed before; "
                        "safe to run again)")
    migrate.add_argument("--table", required=True,
                         help="the stack's DynamoDB table (its Table resource's physical name)")
    migrate.add_argument("--region", help="default: your AWS configuration's")
    migrate.set_defaults(run=_ledger_migrate)

    simulate = commands.add_parser("simulate", help="replay a scenario locally in virtual time")
    simulate.add_argument("scenario", type=Path, help="a scenario file (see scenarios/)")
    simulate.add_argument("--outbox", type=Path, required=True, help="directory for the emails")
    simulate.add_argument("--every-tick", action="store_true",
                          help="run the scheduler at every 5-minute tick, even when the index "
                               "says nothing is due (slower; the same emails)")
    simulate.set_defaults(run=_simulate)

    demo = commands.add_parser("demo", help="replay the shipped demo scenario")
    demo.add_argument("--outbox", type=Path, default=Path("outbox"))
    demo.set_defaults(run=_demo)

    serve = commands.add_parser(
        "serve", help="the API on localhost (new random secrets each run, printed at start)")
    serve.add_argument("--port", type=int, default=8000, help="default: 8000 (0: any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    serve.add_argument("--series", type=Path, default=None,
                       help="series file to serve (default: the sandbox series shipped with "
                            "webinar-notify, series/sandbox.yaml in a checkout, whose sessions "
                            "are ahead, so registrations get confirmations)")
    serve.add_argument("--demo", action="store_true",
                       help="serve the seed series with the demo's registrants and emails, "
                            "replayed to the middle of the series (15 Jan 2024); the clock "
                            "carries on from there (the outbox is emptied first)")
    serve.add_argument("--outbox", type=Path, default=Path("outbox-serve"),
                       help="where the emails go (default: outbox-serve)")
    serve.add_argument("--secret", help="the generic provider's webhook secret, e.g. the one a "
                       "test form already holds (default: a new random one)")
    serve.add_argument("--organiser-secret", help="the secret key of the local organiser key "
                       "pair, e.g. for a script (default: a new random one)")
    serve.add_argument("--provider-answers", type=Path, default=None, metavar="FILE",
                       help="what Eventbrite's API would answer, by order URL (YAML, as a "
                            "scenario's provider_api: see docs/rehearsal.md); Eventbrite "
                            "webhooks are then accepted with ?token=<the webhook secret>")
    serve.add_argument("--region", default=None,
                       help="the region organiser requests must be signed for "
                            "(default: eu-west-1, the local stack's)")
    serve.set_defaults(run=_serve)

    signer = commands.add_parser("sign", help="print a Webinar-Signature header for a body")
    signer.add_argument("body", type=Path, help="file with the exact body bytes, or -")
    signer.add_argument("--secret", required=True)
    signer.add_argument("--timestamp", type=int, help="unix time (default: now)")
    signer.set_defaults(run=_sign)
    return parser


def _ledger_migrate(args: argparse.Namespace) -> int:
    import boto3

    from .adapters.ledger_migration import migrate_ledger

    report = migrate_ledger(boto3.client("dynamodb", region_name=args.region), args.table)
    print(f"{report.copied} email(s) copied, {report.present} already in place"
          + (f", {report.unfinished} claim(s) still unfinished (run it again later)"
             if report.unfinished else "")
          + (f", {report.unreadable} with a key of another form left as they were"
             if report.unreadable else ""))
    return 0


def _counts_repair(args: argparse.Namespace) -> int:
    import boto3

    from .adapters.store import DynamoStore
    from .core.edge import check_id
    from .services.counts_repair import repair_counts

    check_id(args.series_id, "series id")
    store = DynamoStore(boto3.client("dynamodb", region_name=args.region), args.table)
    changed = repair_counts(store, args.series_id)
    for name, (was, now) in changed.items():
        print(f"{name}: {was} -> {now}")
    print(f"{len(changed)} counter(s) repaired" if changed else "every counter was right")
    return 0


def _series_check(args: argparse.Namespace) -> int:
    from .series_files import load_series_file

    series = load_series_file(args.file)
    print(f"{series.id}: {series.title}")
    for session in series.sessions:
        print(f"  {session.id}  {session.start:%a %d %b %Y %H:%M} {session.start:%Z}".ljust(34)
              + "  "
              f"{int(session.duration.total_seconds() // 60)} min  {session.title}")
    return 0


def _series_push(args: argparse.Namespace) -> int:
    from .series_files import load_series_file

    args.series = load_series_file(args.file).id  # a bad file fails here, naming the field
    return organiser_cli.push(args)


def _simulate(args: argparse.Namespace) -> int:
    from .local.scenario import load_scenario
    from .local.simulate import simulate

    report = simulate(load_scenario(args.scenario), args.outbox, sys.stdout,
                      every_tick=getattr(args, "every_tick", False))
    print(f"\n{report.requests} requests, {report.emails} emails, "
          f"{report.dead_letters} in the dead-letter queue"
          + (f", {report.step_errors} step(s) not played as written (see above)"
             if report.step_errors else ""))
    print(f"outbox:  {report.outbox.resolve()}")
    print(f"open in a browser: {report.index.resolve()}")
    return 0 if report.dead_letters == 0 and report.step_errors == 0 else 1


def _demo(args: argparse.Namespace) -> int:
    args.scenario = kit.demo_scenario()
    return _simulate(args)


def _serve(args: argparse.Namespace) -> int:
    """Serve the API with secrets of its own: the link-token secret and the registrant key are
    new each run (the store lives in memory, so links from an earlier run lead nowhere anyway);
    the webhook and organiser secrets may be given, as a form or script may already hold them.
    With ``--demo``, the seed series' demo is replayed into it first (see local/demo_state.py).
    While it serves, the scheduler runs as EventBridge runs it (see local/scheduled_runs.py)."""
    from .adapters.clock import Clock, SystemClock
    from .adapters.outbox import OutboxMailer
    from .local.demo_state import CarryOnClock, demo_scenario, replay
    from .local.infra import REGION
    from .local.provider_api import load_answers
    from .local.runtime import LocalSettings, local_runtime
    from .local.server import LocalKey, LocalServer
    from .series_files import load_series_file

    webhook_secret = args.secret if args.secret is not None else secrets.token_hex(16)
    organiser_secret = args.organiser_secret if args.organiser_secret is not None \
        else secrets.token_hex(16)
    if not webhook_secret or not organiser_secret:
        raise InvalidInputError("--secret and --organiser-secret must not be empty")
    if args.demo and args.series is not None:
        raise InvalidInputError("--demo serves the seed series of the demo; leave out --series")
    region = args.region or REGION
    provider_api = load_answers(args.provider_answers) if args.provider_answers else {}
    scenario = demo_scenario() if args.demo else None
    series = scenario.series if scenario else load_series_file(args.series or kit.sandbox_series())
    key = LocalKey("LOCALORGANISER", organiser_secret)
    demo_clock = CarryOnClock(scenario.start) if scenario else None
    clock: Clock = demo_clock or SystemClock()
    if args.demo:
        _empty_outbox(args.outbox)
    with LocalServer((args.host, args.port), sys.stdout) as server:
        base = f"http://{args.host}:{server.server_address[1]}"
        webhook_secrets = {"generic": webhook_secret}
        if provider_api:  # Eventbrite: the token in its webhook URL, and its API's stand-in
            webhook_secrets |= {"eventbrite": webhook_secret, "eventbrite-oauth": "local"}
        settings = LocalSettings(webhook_secrets=webhook_secrets,
                                 token_secret=secrets.token_hex(32),
                                 registrant_key=secrets.token_hex(32), public_base_url=base,
                                 provider_api=provider_api)
        mailer = OutboxMailer(args.outbox, clock)
        with local_runtime(clock, mailer, settings) as runtime:
            if scenario is not None and demo_clock is not None:
                replayed = replay(runtime, demo_clock, scenario,
                                  webhook_secrets=dict(settings.webhook_secrets))
                demo_clock.carry_on()
                mailer.write_index()
                print(f"demo: {series.id} as on {replayed.moment:%a %d %b %Y %H:%M} UTC, "
                      f"{replayed.requests} requests and {len(mailer.entries())} emails "
                      "replayed; the clock carries on from there at real speed")
            else:
                runtime.push_series(series)
            print(f"series {series.id}: POST {base}/webhooks/generic/{series.id}")
            if provider_api:
                print(f"eventbrite:        POST {base}/webhooks/eventbrite/{series.id}"
                      f"?token={webhook_secret} ({len(provider_api)} order(s) answered "
                      "from --provider-answers)")
            if all(s.end <= clock.now() for s in series.sessions):
                print(f"note: every session of {series.id} has taken place, so registrations "
                      "are stored but confirm nothing; pass --series with a file whose sessions "
                      "are ahead")
            print(f"webhook secret:    {webhook_secret}  (sign with: webinar-notify sign "
                  f"--secret {webhook_secret} BODY.json)")
            print(f"link token secret: {settings.token_secret}  (signs the links in emails; "
                  "new each run)")
            print(f"registrant key:    {settings.registrant_key}  (turns addresses into "
                  "registrant ids; new each run)")
            print(f"organiser routes:  sign with AWS_ACCESS_KEY_ID={key.access_key} "
                  f"AWS_SECRET_ACCESS_KEY={key.secret_key} and --api {base} --region {region} "
                  "(the Idempotency-Key header must be signed)")
            account, password = _local_organiser(runtime, series.id)
            print(f"console:           {base}/console")
            print(f"console account:   {account}  password: {password}  (editor of "
                  f"{series.id}; new each run)")
            print(f"outbox: {args.outbox.resolve()} (index.html is rewritten after each request "
                  "and scheduler run that sends mail)")
            print("scheduler:         runs every 5 minutes of the server's clock, as EventBridge "
                  "runs it, and at once when something falls due in between")
            server.run(runtime, key, region)
    return 0


LOCAL_ORGANISER_EMAIL = "organiser@example.org"


def _local_organiser(runtime: LocalRuntime, series_id: str) -> tuple[str, str]:
    """A ready organiser account in the local user pool: editor of the served series."""
    from .local.accounts import add_organiser

    password = add_organiser(runtime.accounts_admin, LOCAL_ORGANISER_EMAIL, "Local organiser",
                             series_id, "editor", None)
    return LOCAL_ORGANISER_EMAIL, password


def _empty_outbox(outbox: Path) -> None:
    """The demo's outbox holds the demo's emails only (as ``simulate`` leaves its own)."""
    outbox.mkdir(parents=True, exist_ok=True)
    for stale in ("log.jsonl", "requests.jsonl", "index.html"):
        (outbox / stale).unlink(missing_ok=True)
    for old_email in outbox.glob("*.eml"):
        old_email.unlink()


def _sign(args: argparse.Namespace) -> int:
    try:
        body = sys.stdin.buffer.read() if str(args.body) == "-" else args.body.read_bytes()
    except OSError as error:
        raise InvalidInputError(f"{args.body}: cannot read ({error.strerror})") from None
    if not args.secret:
        raise InvalidInputError("--secret must not be empty")
    timestamp = args.timestamp if args.timestamp is not None else int(time.time())
    print(f"Webinar-Signature: {sign(args.secret, timestamp, body)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
