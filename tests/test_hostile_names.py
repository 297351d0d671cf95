"""Names arrive from strangers: through the real webhook they never add a header or markup."""

from __future__ import annotations

import email
import email.policy

from conftest import Harness


def _raw(harness: Harness) -> bytes:
    """The bytes exactly as handed to the mailer (SES would receive the same)."""
    harness.runtime.drain()
    [entry] = harness.outbox.entries()
    return (harness.outbox_dir / str(entry["file"])).read_bytes()


def _sent(harness: Harness) -> email.message.EmailMessage:
    message = email.message_from_bytes(_raw(harness), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_crlf_and_bcc_in_a_name_add_no_header(harness: Harness) -> None:
    assert harness.register(name="Mallory\r\nBcc: victim@example.net\r\nX-Evil: 1").status == 202
    raw = _raw(harness)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert not any(line.lower().startswith((b"bcc:", b"x-evil:")) for line in headers)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw
    assert message["To"].addresses[0].addr_spec == "ada@example.com"
    assert len(message["To"].addresses) == 1


def test_script_in_a_name_is_escaped_in_html(harness: Harness) -> None:
    harness.register(name="<script>alert('x')</script> Ada")
    html = _sent(harness).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_non_ascii_names_stay_exact_in_7bit_headers(harness: Harness) -> None:
    harness.register(name="Heidi Rønde")
    raw = _raw(harness)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert raw.isascii()
    assert message["To"].addresses[0].display_name == "Heidi Rønde"
