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
from botocore.exceptions import ClientError

from ..core.errors import NotConfiguredError

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient

CACHE_SECONDS = 300


class Secrets(Protocol):
    def webhook_secrets(self, series_id: str, provider: str) -> list[str]: ...
    def token_secrets(self) -> list[str]: ...
    def registrant_key(self) -> str: ...
    def certificate_secret(self) -> str: ...


def split_secrets(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", value) if part]


class SsmSecrets:
    """``{prefix}/{series_id}/{provider}`` SecureStrings, cached for five minutes."""

    def __init__(self, client: SSMClient, webhook_prefix: str, token_parameter: str,
                 registrant_key_parameter: str, certificate_parameter: str = "") -> None:
        self.provider = SSMProvider(boto3_client=client)
        self.certificate_parameter = certificate_parameter
        self.webhook_prefix = webhook_prefix.rstrip("/")
        self.token_parameter = token_parameter
        self.registrant_key_parameter = registrant_key_parameter

    def webhook_secrets(self, series_id: str, provider: str) -> list[str]:
        return self._get(f"{self.webhook_prefix}/{series_id}/{provider}")

    def token_secrets(self) -> list[str]:
        return self._required(self.token_parameter)

    def registrant_key(self) -> str:
        return self._required(self.registrant_key_parameter)[0]

    def certificate_secret(self) -> str:
        """The key of certificate ids (core/certificates): never rotated once issued."""
        if not self.certificate_parameter:
            raise NotConfiguredError("certificates are not configured here "
                                     "(CERTIFICATE_SECRET_PARAMETER)")
        return self._required(self.certificate_parameter)[0]

    def _required(self, name: str) -> list[str]:
        secrets = self._get(name)
        if not secrets:
            raise RuntimeError(f"the SSM parameter {name} is missing or empty")
        return secrets

    def _get(self, name: str) -> list[str]:
        try:
            value: Any = self.provider.get(name, decrypt=True, max_age=CACHE_SECONDS)
        except GetParameterError as error:
            cause = error.__cause__ or error.__context__  # Powertools raises inside except
            if isinstance(cause, ClientError) and \
                    cause.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return []
            raise
        return split_secrets(str(value or ""))


class StaticSecrets:
    """Secrets from local configuration: ``{provider: secret}`` for every series."""

    def __init__(self, webhook: Mapping[str, str], token: str, registrant_key: str,
                 certificate: str = "") -> None:
        self.certificate = certificate
        self.webhook = dict(webhook)
        self.token = token
        self.key = registrant_key

    def webhook_secrets(self, series_id: str, provider: str) -> list[str]:
        return split_secrets(self.webhook.get(provider, ""))

    def token_secrets(self) -> list[str]:
        return [self.token]

    def registrant_key(self) -> str:
        return self.key

    def certificate_secret(self) -> str:
        """Given, or (local runs) one made from the token secret, never the same as it."""
        return self.certificate or f"certificates:{self.token}"
