"""What `doctor` read from an AWS account: plain values, so the checks need no AWS at all.

Every read either gives its value or a ReadFailure (the reason it could not be made, such as
AccessDenied). Something that is simply absent (no such identity, no such parameter) is a value,
not a failure: the checks tell the two apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.series import Series

# The stack's own names, as infra/template.yaml declares them.
OUTPUTS = ("ApiUrl", "WebhookUrl", "TableName", "SendQueueUrl", "DeadLetterQueueUrl")
CONFIGURATION_SET = "ConfigurationSet"
FEEDBACK_TOPIC = "FeedbackTopic"
PARAMETER_DEFAULTS = {
    "TokenSecretParameter": "webinar-notify/token-secret",
    "RegistrantKeyParameter": "webinar-notify/registrant-key",
    "WebhookSecretsPath": "webinar-notify/webhooks",
    "CertificateSecretParameter": "webinar-notify/certificate-secret",
}


@dataclass(frozen=True, slots=True)
class ReadFailure:
    """A read that AWS refused or that never arrived; ``action`` is the IAM action it needs."""

    what: str
    reason: str
    action: str


@dataclass(frozen=True, slots=True)
class Stack:
    name: str
    status: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    resources: Mapping[str, str]  # logical id -> physical id


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    kind: str  # DOMAIN, EMAIL_ADDRESS or MANAGED_DOMAIN
    verified: bool
    dkim_signing: bool
    dkim_status: str


@dataclass(frozen=True, slots=True)
class Account:
    production_access: bool
    sending_enabled: bool
    max_send_rate: float
    max_24_hour_send: float
    enforcement_status: str
    review_status: str = ""  # of a production access request: PENDING, DENIED...


@dataclass(frozen=True, slots=True)
class EventDestination:
    name: str
    enabled: bool
    event_types: frozenset[str]  # upper case, as SES v2 names them: BOUNCE, COMPLAINT...
    sns_topic: str | None


@dataclass(frozen=True, slots=True)
class ConfigurationSet:
    name: str
    sending_enabled: bool


@dataclass(frozen=True, slots=True)
class Audience:
    """A stored series and, per session, how many its reminders go to (the kept counts)."""

    series: Series
    per_session: Mapping[str, int]

    def of(self, session_id: str) -> int:
        return self.per_session.get(session_id, 0)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    kind: str  # String, StringList or SecureString
    key_id: str = ""  # a SecureString's KMS key ("alias/aws/ssm": the account's default)


@dataclass(frozen=True, slots=True)
class Snapshot:
    region: str
    stack_name: str
    stack: Stack | ReadFailure | None  # None: no such stack in this region
    identity_name: str | None
    identity: Identity | ReadFailure | None = None  # None: no such identity
    account: Account | ReadFailure | None = None
    configuration_set_name: str | None = None
    configuration_set: ConfigurationSet | ReadFailure | None = None
    event_destinations: tuple[EventDestination, ...] | ReadFailure = ()
    # SSM name (with its leading slash) -> what is there, None when absent
    parameters: Mapping[str, Parameter | None] | ReadFailure = field(default_factory=dict)
    webhook_path: str = ""
    webhook_secrets: tuple[str, ...] | ReadFailure = ()
    # The series asked about (--series), as stored, with their audiences; and when read.
    series: Mapping[str, Audience | ReadFailure | None] = field(default_factory=dict)
    read_at: datetime | None = None

    def stack_parameter(self, key: str) -> str | None:
        """A parameter of the stack as deployed, or None when the stack could not be read."""
        return self.stack.parameters.get(key) if isinstance(self.stack, Stack) else None

    def parameter_name(self, key: str) -> str:
        """The SSM name the functions read (the template's parameters carry no leading slash)."""
        value = self.stack_parameter(key) or PARAMETER_DEFAULTS[key]
        return "/" + value.strip("/")
