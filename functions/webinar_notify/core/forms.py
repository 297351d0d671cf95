"""Reading multipart/form-data bodies: registrants' pages (RFC 8058 one-click unsubscribes may
come as multipart) and Jotform's webhooks post them."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP

from .errors import PayloadError


def multipart_fields(content_type: str, body: bytes, max_fields: int = 100) -> dict[str, str]:
    """The named fields of a multipart body (the first of a name wins), as UTF-8 text.

    ``content_type`` is the header with its boundary. PayloadError for anything that is not
    such a body: no parts, more than ``max_fields``, a malformed structure, or bytes that are
    not UTF-8.
    """
    header = f"Content-Type: {content_type}\r\n\r\n".encode("ascii", "replace")
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    parts = list(message.iter_parts()) if message.is_multipart() else []
    if not parts or len(parts) > max_fields or message.defects:
        raise PayloadError("expected a multipart/form-data body")
    fields: dict[str, str] = {}
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            try:
                fields.setdefault(name, payload.decode("utf-8"))
            except UnicodeDecodeError:
                raise PayloadError(f"form field {name[:40]!r} is not UTF-8") from None
    return fields
