"""SigV4 for organiser requests: signing (the CLI) and checking (the local API stands in for
API Gateway's IAM authorizer, with one local key pair)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"
MAX_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"execute-api/aws4_request, ?SignedHeaders=(?P<headers>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})")


def sign(credentials: Credentials, region: str, method: str, url: str, body: bytes,
         headers: Mapping[str, str]) -> dict[str, str]:
    """Headers of a SigV4-signed request, as API Gateway's IAM authorizer expects them."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def verify(access_key: str, secret_key: str, method: str, url: str, body: bytes,
           headers: Mapping[str, str], now: datetime) -> bool:
    """True when the request was signed with this key pair within the last five minutes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    match = _AUTHORIZATION.fullmatch(lowered.get("authorization", "").strip())
    stamp = lowered.get("x-amz-date", "")
    if not match or match["key"] != access_key or not stamp.startswith(match["date"]):
        return False
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    if abs(now - signed_at) > MAX_SKEW:
        return False
    names = match["headers"].split(";")
    if any(name not in lowered for name in names) or not {"host", "x-amz-date"} <= set(names):
        return False
    claimed = lowered.get("x-amz-content-sha256")
    if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
        return False  # also refuses UNSIGNED-PAYLOAD: the body must be what was signed
    request = AWSRequest(method=method, url=url, data=body,
                         headers={name: lowered[name] for name in names})
    request.context["timestamp"] = stamp
    auth = SigV4Auth(Credentials(access_key, secret_key), SERVICE, match["region"])
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, match["signature"])
