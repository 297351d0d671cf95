"""The request body as the client sent it: API Gateway base64-encodes bodies it does not take
for text, and every check (signatures, forms, JSON) must see the original bytes."""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from ..core.errors import PayloadError


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    raw = event.body or ""
    if not event.is_base64_encoded:
        return raw.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError("the body could not be decoded") from None
