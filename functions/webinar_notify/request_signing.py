"""SigV4 signing of organiser requests, as API Gateway's IAM authorizer checks them."""

from __future__ import annotations

from collections.abc import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"


def sign(credentials: Credentials, region: str, method: str, url: str, body: bytes,
         headers: Mapping[str, str]) -> dict[str, str]:
    """Headers of a SigV4-signed request, as API Gateway's IAM authorizer expects them.

    Every header passed in is signed (Idempotency-Key and Content-Type included)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())
