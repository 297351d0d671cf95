"""The checks `doctor` makes, pure functions of what was read: one line each, with the fix.

A FAIL is something that breaks mail in production (no sending at all, mail only to verified
addresses, throttled sends, bounces that never come back); a warn works but is worth fixing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from ..core import send_plan
from .snapshot import (
    CONFIGURATION_SET,
    FEEDBACK_TOPIC,
    OUTPUTS,
    Account,
    Audience,
    ConfigurationSet,
    Identity,
    Parameter,
    ReadFailure,
    Snapshot,
    Stack,
)

Status = Literal["ok", "warn", "FAIL"]
SLOWER_THAN = 0.5
"""A stack rate under this share of the account's maximum is a warning: reminders go slower."""
FEEDBACK_EVENTS = frozenset({"BOUNCE", "COMPLAINT"})


@dataclass(frozen=True, slots=True)
class Check:
    status: Status
    subject: str
    message: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.subject}: {self.message}"


def run_checks(snapshot: Snapshot) -> list[Check]:
    """Every check, in the order an organiser would fix things."""
    checks: list[Check] = []
    for produce in _CHECKS:
        checks.extend(produce(snapshot))
    return checks


def failed(checks: list[Check]) -> bool:
    return any(check.status == "FAIL" for check in checks)


def _cannot_read(subject: str, failure: ReadFailure) -> Check:
    return Check("FAIL", subject, f"cannot read {failure.what}: {failure.reason} "
                 f"(needs {failure.action})")


def _stack(snapshot: Snapshot) -> Iterator[Check]:
    subject = f"stack {snapshot.stack_name}"
    stack = snapshot.stack
    if isinstance(stack, ReadFailure):
        yield _cannot_read(subject, stack)
        return
    if stack is None:
        yield Check("FAIL", subject, f"no such stack in {snapshot.region}: check --stack-name "
                    "and --region, or deploy it (see the README, Deploying to AWS)")
        return
    status = stack.status
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"):
        yield Check("ok", subject, status)
    elif status in ("UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"):
        yield Check("warn", subject, f"{status}: the last update was rolled back, so the "
                    "previous version runs; see the stack's events and deploy again")
    elif status.endswith("_IN_PROGRESS"):
        yield Check("FAIL", subject, f"{status}: wait until it ends, then run doctor again")
    else:
        yield Check("FAIL", subject, f"{status}: the stack does not run; see its events in "
                    "the CloudFormation console, fix the cause and deploy again")
    missing = [name for name in OUTPUTS if not stack.outputs.get(name)]
    if missing:
        yield Check("FAIL", "stack outputs", f"missing {', '.join(missing)}: deploy the "
                    "current infra/template.yaml")
    else:
        yield Check("ok", "stack outputs", ", ".join(OUTPUTS))


def _identity(snapshot: Snapshot) -> Iterator[Check]:
    name = snapshot.identity_name
    if not name:
        yield Check("FAIL", "SES identity", "unknown, since the stack could not be read: "
                    "pass --identity DOMAIN")
        return
    subject = f"SES identity {name}"
    identity = snapshot.identity
    if isinstance(identity, ReadFailure):
        yield _cannot_read(subject, identity)
        return
    if identity is None:
        then = ("follow the link SES mails to it" if "@" in name
                else "publish the DKIM records it gives in your DNS")
        yield Check("FAIL", subject, f"does not exist in {snapshot.region}: create it "
                    f"(aws sesv2 create-email-identity --email-identity {name} --region "
                    f"{snapshot.region}) and {then}")
        return
    if identity.verified:
        yield Check("ok", subject, "verified for sending")
    else:
        how = ("follow the link SES mailed to it" if identity.kind == "EMAIL_ADDRESS"
               else "publish the DKIM CNAME records shown in the SES console and wait")
        yield Check("FAIL", subject, f"not verified: SES refuses mail from it; {how}")
    yield from _dkim(subject, identity)


def _dkim(subject: str, identity: Identity) -> Iterator[Check]:
    if identity.dkim_signing and identity.dkim_status == "SUCCESS":
        yield Check("ok", f"{subject} DKIM", "signing, status SUCCESS")
        return
    problem = ("signing is off" if not identity.dkim_signing
               else f"status {identity.dkim_status or 'unknown'}")
    if identity.kind == "EMAIL_ADDRESS":
        yield Check("warn", f"{subject} DKIM", f"{problem}: verify the address's domain with "
                    "Easy DKIM, so mail is signed and passes DMARC")
    else:
        yield Check("FAIL", f"{subject} DKIM", f"{problem}: unsigned mail fails DMARC at many "
                    "providers; publish the three DKIM CNAME records from the SES console "
                    "and enable DKIM signing")


def _account(snapshot: Snapshot) -> Iterator[Check]:
    account = snapshot.account
    if isinstance(account, ReadFailure):
        yield _cannot_read("SES account", account)
        return
    if account is None:
        return
    yield _production_access(snapshot.region, account)
    yield _sending(account)
    yield from _send_rate(snapshot, account)


def _production_access(region: str, account: Account) -> Check:
    subject = f"SES production access in {region}"
    if account.production_access:
        return Check("ok", subject, "granted")
    pending = (f" (a request is {account.review_status}; its answer comes by email)"
               if account.review_status else "")
    return Check("FAIL", subject, "the account is in the SES sandbox: mail goes only to "
                 "verified addresses, at most 200 a day and 1 a second" + pending + ". "
                 "Request production access in the SES console (Account dashboard) "
                 f"or with: aws sesv2 put-account-details --region {region} "
                 "--production-access-enabled --mail-type TRANSACTIONAL --website-url URL "
                 "--use-case-description TEXT")


def _sending(account: Account) -> Check:
    if not account.sending_enabled:
        return Check("FAIL", "SES sending", "paused for the whole account: nothing is sent; "
                     "see the SES console's reputation page, then: aws sesv2 "
                     "put-account-sending-attributes --sending-enabled")
    if account.enforcement_status == "SHUTDOWN":
        return Check("FAIL", "SES sending", "the account is shut down by SES enforcement "
                     "(reputation); contact AWS support")
    if account.enforcement_status == "PROBATION":
        return Check("warn", "SES sending", "the account is on probation (bounce or complaint "
                     "rate too high); see the SES console's reputation page")
    return Check("ok", "SES sending", "enabled"
                 + (f", {account.enforcement_status}" if account.enforcement_status else ""))


def _send_rate(snapshot: Snapshot, account: Account) -> Iterator[Check]:
    subject = "SES send rate"
    stated = snapshot.stack_parameter("SesSendRate")
    allowed = (f"the account allows {account.max_send_rate:g}/s, "
               f"{account.max_24_hour_send:,.0f} a day")
    if stated is None:
        return
    try:
        rate = float(stated)
    except ValueError:
        yield Check("FAIL", subject, f"the stack's SesSendRate {stated!r} is not a number")
        return
    fix = f"update the stack with SesSendRate={account.max_send_rate:g}"
    if rate > account.max_send_rate:
        yield Check("FAIL", subject, f"the stack sends up to {rate:g}/s but {allowed}: SES "
                    f"would throttle the senders; {fix}, or ask for a higher quota (Service "
                    "Quotas, Amazon SES, Sending rate)")
    elif rate < account.max_send_rate * SLOWER_THAN:
        yield Check("warn", subject, f"the stack sends at most {rate:g}/s but {allowed}: "
                    f"reminders go out slower than they could; {fix}")
    else:
        yield Check("ok", subject, f"the stack sends up to {rate:g}/s; {allowed}")


def _configuration_set(snapshot: Snapshot) -> Iterator[Check]:
    name = snapshot.configuration_set_name
    if name is None:
        if isinstance(snapshot.stack, Stack):
            yield Check("FAIL", "SES configuration set", f"the stack has no {CONFIGURATION_SET} "
                        "resource: deploy the current infra/template.yaml")
        return
    subject = f"SES configuration set {name}"
    found = snapshot.configuration_set
    if isinstance(found, ReadFailure):
        yield _cannot_read(subject, found)
        return
    if found is None:
        yield Check("FAIL", subject, "does not exist: the senders' mail would be refused; "
                    "deploy the stack again to re-create it")
        return
    yield _configuration_set_sending(subject, found)
    yield _event_destination(snapshot, subject)


def _configuration_set_sending(subject: str, found: ConfigurationSet) -> Check:
    if found.sending_enabled:
        return Check("ok", subject, "exists, sending enabled")
    return Check("FAIL", subject, "sending is paused for this configuration set: nothing is "
                 f"sent; aws sesv2 put-configuration-set-sending-options "
                 f"--configuration-set-name {found.name} --sending-enabled")


def _event_destination(snapshot: Snapshot, subject: str) -> Check:
    subject = f"{subject} events"
    destinations = snapshot.event_destinations
    if isinstance(destinations, ReadFailure):
        return _cannot_read(subject, destinations)
    topic = (snapshot.stack.resources.get(FEEDBACK_TOPIC)
             if isinstance(snapshot.stack, Stack) else None)
    feeding = [d for d in destinations if d.enabled and d.sns_topic
               and d.event_types >= FEEDBACK_EVENTS and (topic is None or d.sns_topic == topic)]
    if feeding:
        return Check("ok", subject, f"bounces and complaints go to SNS ({feeding[0].name})")
    return Check("FAIL", subject, "no enabled SNS event destination for bounces and complaints"
                 + (" to the stack's feedback topic" if topic else "") + ": bounced and "
                 "complaining addresses would keep getting mail; deploy the stack again "
                 "(its FeedbackEventDestination) and keep that destination enabled")


def _parameters(snapshot: Snapshot) -> Iterator[Check]:
    found = snapshot.parameters
    if isinstance(found, ReadFailure):
        yield _cannot_read("SSM parameters", found)
    else:
        for key, purpose in (("TokenSecretParameter", "signs the links in emails"),
                             ("RegistrantKeyParameter", "turns addresses into registrant ids")):
            name = snapshot.parameter_name(key)
            parameter = found.get(name)
            if parameter is None:
                yield Check("FAIL", f"SSM parameter {name}", f"missing (it {purpose}): aws ssm "
                            f"put-parameter --type SecureString --name {name} --region "
                            f"{snapshot.region} --value \"$(openssl rand -hex 32)\"")
            elif parameter.kind != "SecureString":
                yield Check("warn", f"SSM parameter {name}", f"a {parameter.kind}, not a "
                            "SecureString: store it encrypted (put-parameter --overwrite "
                            "--type SecureString)")
            else:
                yield Check("ok", f"SSM parameter {name}", "exists (SecureString)")
        yield from _certificate_secret(snapshot, found)
    yield _webhook_secrets(snapshot)


DEFAULT_SSM_KEY = "alias/aws/ssm"


def _certificate_secret(snapshot: Snapshot, found: Mapping[str, Parameter | None]
                        ) -> Iterator[Check]:
    """The key of certificate ids, needed as soon as a series gives certificates: the
    functions read it with ssm:GetParameter, which decrypts with the account's default SSM
    key only (their roles hold no other key). Without it, no certificate is issued. Checked
    when it exists, or when a series asked about (--series) gives certificates."""
    name = snapshot.parameter_name("CertificateSecretParameter")
    subject = f"SSM parameter {name}"
    parameter = found.get(name)
    giving = sorted(series_id for series_id, audience in snapshot.series.items()
                    if isinstance(audience, Audience) and audience.series.certificates)
    if parameter is None:
        if giving:
            yield Check("FAIL", subject, f"missing, and {', '.join(giving)} "
                        f"{'gives' if len(giving) == 1 else 'give'} certificates: none can "
                        "be issued until it exists (set it once, never change it): aws ssm "
                        f"put-parameter --type SecureString --name {name} --region "
                        f"{snapshot.region} --value \"$(openssl rand -hex 32)\"")
        return
    if parameter.kind != "SecureString":
        yield Check("warn", subject, f"a {parameter.kind}, not a SecureString: the key of "
                    "certificate ids should be stored encrypted (put-parameter --overwrite "
                    "--type SecureString, with the same value, so ids stay the same)")
    elif parameter.key_id and parameter.key_id.removeprefix("alias/") != "aws/ssm":
        yield Check("FAIL", subject, f"encrypted with the KMS key {parameter.key_id}, which "
                    "the functions may not use: no certificate could be issued; put it "
                    f"again with the same value and --key-id {DEFAULT_SSM_KEY} --overwrite")
    else:
        yield Check("ok", subject, "exists (SecureString)" + (
            f"; {', '.join(giving)} {'gives' if len(giving) == 1 else 'give'} certificates"
            if giving else ""))


def _webhook_secrets(snapshot: Snapshot) -> Check:
    path = snapshot.webhook_path
    subject = f"SSM webhook secrets {path}/"
    secrets = snapshot.webhook_secrets
    if isinstance(secrets, ReadFailure):
        return _cannot_read(subject, secrets)
    if not secrets:
        return Check("FAIL", subject, "none: every form's webhook would be refused; put one "
                     f"per series and provider: aws ssm put-parameter --type SecureString "
                     f"--name {path}/SERIES_ID/generic --value \"$(openssl rand -hex 32)\"")
    shown = ", ".join(name.removeprefix(path + "/") for name in secrets[:5])
    more = f" and {len(secrets) - 5} more" if len(secrets) > 5 else ""
    return Check("ok", subject, f"{len(secrets)} ({shown}{more})")


def _reminder_windows(snapshot: Snapshot) -> Iterator[Check]:
    """Each series asked about: do its reminders ahead fit their windows at the stack's
    SesSendRate? The scheduler starts a crowded one early; the organiser should know."""
    stated = snapshot.stack_parameter("SesSendRate")
    try:
        rate = float(stated) if stated is not None else 0.0
    except ValueError:
        return  # the send-rate check names that fault
    for series_id, found in snapshot.series.items():
        subject = f"reminders of {series_id}"
        if isinstance(found, ReadFailure):
            yield _cannot_read(subject, found)
        elif found is None:
            yield Check("FAIL", subject, f"no series {series_id!r} in the stack's table; "
                        "check the id, or publish it first")
        elif rate <= 0 or snapshot.read_at is None:
            yield Check("warn", subject, "the stack's SesSendRate is unknown: windows not "
                        "checked")
        else:
            crowded = send_plan.crowded(found.series, found.of, rate, snapshot.read_at)
            for c in crowded:
                yield Check("warn", subject, c.sentence())
            if not crowded:
                largest = max(found.per_session.values(), default=0)
                yield Check("ok", subject, f"every reminder ahead fits its window at "
                            f"{rate:g}/s (largest audience {largest:,})")


_CHECKS: tuple[Callable[[Snapshot], Iterator[Check]], ...] = (
    _stack, _identity, _account, _configuration_set, _parameters, _reminder_windows)
