"""Where webhook and token secrets come from: SSM Parameter Store, or local configuration.

A parameter may hold several secrets, one per line (or comma-separated): every one is
accepted when verifying, the first one signs. That is how a secret is rotated without a gap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient

CACHE_SECONDS = 300


class Secrets(Protocol):
    def webhook_secrets(self, series_id: str, provider: str) -> list[str]: ...
    def token_secrets(self) -> list[str]: ...


def split_secrets(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", value) if part]


class SsmSecrets:
    """``{prefix}/{series_id}/{provider}`` SecureStrings, cached for five minutes."""

    def __init__(self, client: SSMClient, webhook_prefix: str, token_parameter: str) -> None:
        self.provider = SSMProvider(boto3_client=client)
        self.webhook_prefix = webhook_prefix.rstrip("/")
        self.token_parameter = token_parameter

    def webhook_secrets(self, series_id: str, provider: str) -> list[str]:
        return self._get(f"{self.webhook_prefix}/{series_id}/{provider}")

    def token_secrets(self) -> list[str]:
        secrets = self._get(self.token_parameter)
        if not secrets:
            raise RuntimeError("the token secret parameter is missing or empty")
        return secrets

    def _get(self, name: str) -> list[str]:
        try:
            value: Any = self.provider.get(name, decrypt=True, max_age=CACHE_SECONDS)
        except GetParameterError as error:
            if "ParameterNotFound" in str(error):
                return []
            raise
        return split_secrets(str(value or ""))


class StaticSecrets:
    """Secrets from local configuration: ``{provider: secret}`` for every series."""

    def __init__(self, webhook: Mapping[str, str], token: str) -> None:
        self.webhook = dict(webhook)
        self.token = token

    def webhook_secrets(self, series_id: str, provider: str) -> list[str]:
        return split_secrets(self.webhook.get(provider, ""))

    def token_secrets(self) -> list[str]:
        return [self.token]
