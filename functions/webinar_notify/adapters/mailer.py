"""The mailer port and its SES v2 adapter: one raw message, one recipient, per call."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from ..core.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client

_TAG_VALUE = re.compile(r"[^A-Za-z0-9_-]")
MAX_TAG_VALUE = 256  # SES's limit for a message tag's value
THROTTLING = {"TooManyRequestsException", "Throttling", "ThrottlingException",
              "LimitExceededException"}


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    raw: bytes
    sender: str
    to: str
    kind: str
    series_id: str
    session_ids: tuple[str, ...]
    subject: str
    delivery_key: str = ""  # the ledger's key: SES's events name the email by it
    announcement: str = ""  # the announcement an email of that kind carries (its id)

    def tags(self) -> dict[str, str]:
        """The message tags SES puts on every event about this email (no address)."""
        tags = {"kind": self.kind, "series": _TAG_VALUE.sub("_", self.series_id)}
        if self.delivery_key:
            tags["delivery"] = delivery_tag(self.delivery_key)
        return tags


def delivery_tag(delivery_key: str) -> str:
    """The delivery key as a tag value: URL-safe base64 without padding (SES allows only
    letters, digits, "_" and "-")."""
    value = base64.urlsafe_b64encode(delivery_key.encode()).decode("ascii").rstrip("=")
    if len(value) > MAX_TAG_VALUE:
        raise ValueError("delivery key too long for an SES message tag")
    return value


def delivery_key_of(tag: str) -> str | None:
    """The delivery key a tag names, or None when it is not one of ours."""
    if not tag or len(tag) > MAX_TAG_VALUE or _TAG_VALUE.search(tag):
        return None
    try:
        return base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None


class Mailer(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Hand the message over for delivery; return the provider's message id."""


class SesMailer:
    def __init__(self, client: SESV2Client, configuration_set: str) -> None:
        self.client = client
        self.configuration_set = configuration_set

    def send(self, message: OutgoingMessage) -> str:
        try:
            response = self.client.send_email(
                FromEmailAddress=message.sender,
                Destination={"ToAddresses": [message.to]},
                Content={"Raw": {"Data": message.raw}},
                ConfigurationSetName=self.configuration_set,
                EmailTags=[{"Name": name, "Value": value}
                           for name, value in message.tags().items()],
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in THROTTLING:
                raise RetryableError("SES is throttling; the message will be retried") from None
            raise
        return response["MessageId"]
