"""SigV4 checking of organiser requests: the local API stands in for API Gateway's IAM
authorizer, with one local key pair (signing is ``request_signing``).

The check refuses what API Gateway refuses: a credential scoped to another region or another
service than ``execute-api``, a stale ``X-Amz-Date``, a body other than the one signed. The local
API also requires the ``Idempotency-Key`` to be signed (``must_sign``), so that a replayed
request cannot come back with a new key and act twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..request_signing import SERVICE

LOCAL_REGION = "eu-west-1"  # local/infra.REGION, without importing the whole stack
MAX_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<headers>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})")


def check(access_key: str, secret_key: str, method: str, url: str, body: bytes,
          headers: Mapping[str, str], now: datetime, *, region: str = LOCAL_REGION,
          must_sign: Collection[str] = ()) -> str | None:
    """Why the request is refused (one sentence for the caller), or None when it was signed
    with this key pair, for this region and execute-api, within the last five minutes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    match = _AUTHORIZATION.fullmatch(lowered.get("authorization", "").strip())
    if not match:
        return "organiser routes need a request signed with AWS SigV4 (AWS4-HMAC-SHA256)"
    if match["service"] != SERVICE:
        return (f"Credential should be scoped to correct service: '{SERVICE}' "
                f"(it names '{match['service']}')")
    if match["region"] != region:
        return (f"Credential should be scoped to a valid region: this API is in {region} "
                f"(the signature names {match['region']}; sign with --region {region})")
    if match["key"] != access_key:
        return "the access key is not the one this API accepts"
    refusal = _check_time(lowered.get("x-amz-date", ""), match["date"], now)
    if refusal:
        return refusal
    names = match["headers"].split(";")
    if not {"host", "x-amz-date"} <= set(names) or any(n not in lowered for n in names):
        return "SignedHeaders must list host and x-amz-date, and every signed header be sent"
    for name in must_sign:
        if name.lower() not in names:
            return (f"organiser requests must sign their {name} header "
                    f"(list {name.lower()} in SignedHeaders)")
    claimed = lowered.get("x-amz-content-sha256")
    if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
        return "the body is not the one that was signed"  # UNSIGNED-PAYLOAD too
    request = AWSRequest(method=method, url=url, data=body,
                         headers={name: lowered[name] for name in names})
    request.context["timestamp"] = lowered["x-amz-date"]
    auth = SigV4Auth(Credentials(access_key, secret_key), SERVICE, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)),
                              request)
    if not hmac.compare_digest(expected, match["signature"]):
        return "the request signature does not match (wrong secret key, or the request changed)"
    return None


def verify(access_key: str, secret_key: str, method: str, url: str, body: bytes,
           headers: Mapping[str, str], now: datetime, *, region: str = LOCAL_REGION) -> bool:
    """True when :func:`check` finds nothing to refuse."""
    return check(access_key, secret_key, method, url, body, headers, now, region=region) is None


def _check_time(stamp: str, scope_date: str, now: datetime) -> str | None:
    if not stamp.startswith(scope_date):
        return "X-Amz-Date must be on the credential scope's date"
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "X-Amz-Date must look like 20240101T120000Z"
    if abs(now - signed_at) > MAX_SKEW:
        return "Signature expired: it was made more than 5 minutes from now"
    return None
