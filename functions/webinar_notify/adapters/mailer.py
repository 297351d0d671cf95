"""The mailer port and its SES v2 adapter: one raw message, one recipient, per call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from ..core.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client

_TAG_VALUE = re.compile(r"[^A-Za-z0-9_-]")
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
                EmailTags=[{"Name": "kind", "Value": message.kind},
                           {"Name": "series", "Value": _TAG_VALUE.sub("_", message.series_id)}],
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in THROTTLING:
                raise RetryableError("SES is throttling; the message will be retried") from None
            raise
        return response["MessageId"]
