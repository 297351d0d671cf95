"""Webhook signatures (``Webinar-Signature``) and the signed tokens in email links."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

import pytest

from webinar_notify.core import signatures, tokens
from webinar_notify.core.errors import InvalidInputError, SignatureError
from webinar_notify.core.providers.generic import GenericProvider

NOW = 1_698_300_000  # 2023-10-26T06:00:00Z
OLD_SECRET = "whsec-old-0123456789"
NEW_SECRET = "whsec-new-9876543210"
PAYLOAD = {
    "id": "evt_1",
    "type": "registration.created",
    "created": NOW,
    "data": {"registrant": {"email": "heidi@example.org", "full_name": "Heidi Rønde"}},
}
BODY = json.dumps(PAYLOAD, ensure_ascii=False).encode("utf-8")


def _v1(header: str) -> str:
    return header.split("v1=", 1)[1]


# --- sign / verify --------------------------------------------------------------------------


def test_sign_then_verify_returns_the_signed_timestamp() -> None:
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    assert header.startswith(f"t={NOW},v1=")
    assert len(_v1(header)) == 64
    assert signatures.verify(header, BODY, [NEW_SECRET], NOW) == NOW


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    want = hmac.new(NEW_SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert _v1(signatures.sign(NEW_SECRET, NOW, BODY)) == want


def test_several_v1_entries_during_rotation() -> None:
    old = _v1(signatures.sign(OLD_SECRET, NOW, BODY))
    new = _v1(signatures.sign(NEW_SECRET, NOW, BODY))
    header = f"t={NOW},v1={old},v1={new}"
    # A receiver that knows only one of the two secrets accepts either way round.
    assert signatures.verify(header, BODY, [OLD_SECRET], NOW) == NOW
    assert signatures.verify(header, BODY, [NEW_SECRET], NOW) == NOW
    assert signatures.verify(f"t={NOW},v1={new},v1={old}", BODY, [OLD_SECRET], NOW) == NOW


def test_several_secrets_at_the_receiver() -> None:
    for secret in (OLD_SECRET, NEW_SECRET):
        header = signatures.sign(secret, NOW, BODY)
        assert signatures.verify(header, BODY, [OLD_SECRET, NEW_SECRET], NOW) == NOW
        assert signatures.verify(header, BODY, ["", NEW_SECRET, OLD_SECRET], NOW) == NOW


def test_wrong_secret_is_rejected() -> None:
    header = signatures.sign("someone-else", NOW, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        signatures.verify(header, BODY, [OLD_SECRET, NEW_SECRET], NOW)


@pytest.mark.parametrize("skew", [300, -300, 0, 299, -1])
def test_timestamp_within_tolerance_is_accepted(skew: int) -> None:
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    assert signatures.verify(header, BODY, [NEW_SECRET], NOW + skew) == NOW


@pytest.mark.parametrize("skew", [301, -301, 3600, -86_400])
def test_stale_or_future_timestamp_is_rejected(skew: int) -> None:
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="tolerance"):
        signatures.verify(header, BODY, [NEW_SECRET], NOW + skew)


def test_changing_the_timestamp_breaks_the_signature() -> None:
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    forged = header.replace(f"t={NOW}", f"t={NOW + 60}")
    with pytest.raises(SignatureError, match="does not match"):
        signatures.verify(forged, BODY, [NEW_SECRET], NOW + 60)


def test_reserialised_body_fails_even_though_the_json_is_the_same() -> None:
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    compact = json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    escaped = json.dumps(PAYLOAD).encode("ascii")  # "R\u00f8nde" instead of raw UTF-8
    for other in (compact, escaped, BODY + b"\n"):
        assert json.loads(other) == json.loads(BODY)
        assert other != BODY
        with pytest.raises(SignatureError, match="does not match"):
            signatures.verify(header, other, [NEW_SECRET], NOW)


def test_tampered_body_fails() -> None:
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    with pytest.raises(SignatureError):
        signatures.verify(header, BODY.replace(b"heidi", b"mallory"), [NEW_SECRET], NOW)


def test_upper_case_hex_and_spaces_after_commas_are_accepted() -> None:
    digest = _v1(signatures.sign(NEW_SECRET, NOW, BODY))
    header = f"t={NOW}, v1=deadbeef, v1={digest.upper()}"
    assert signatures.verify(header, BODY, [NEW_SECRET], NOW) == NOW


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        signatures.verify(header, BODY, [NEW_SECRET], NOW)


@pytest.mark.parametrize("header", [
    "garbage",
    "v1=abcdef",                      # no timestamp
    f"t={NOW}",                       # no signature
    f"t={NOW},v1=",                   # empty signature
    "t=soon,v1=abcdef",               # not a number
    "t=-5,v1=abcdef",                 # negative
    "t=1698300000000,v1=abcdef",      # 13 digits: milliseconds, not seconds
    f"T={NOW},V1=abcdef",             # keys are case-sensitive
    f"t={NOW};v1=abcdef",             # wrong separator
])
def test_malformed_header(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        signatures.verify(header, BODY, [NEW_SECRET], NOW)


@pytest.mark.parametrize("secrets", [[], [""], ["", ""]])
def test_no_configured_secret_is_a_signature_error(secrets: list[str]) -> None:
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="no webhook secret"):
        signatures.verify(header, BODY, secrets, NOW)


def test_signature_error_is_a_401_input_error() -> None:
    assert issubclass(SignatureError, InvalidInputError)
    assert SignatureError.status == 401


def test_non_ascii_digits_in_timestamp_are_a_signature_error() -> None:
    # "¹²³".isdigit() is True but int("¹²³") raises ValueError: a crafted header must still
    # end as a SignatureError (401), not an unexpected exception (500).
    with pytest.raises(SignatureError):
        signatures.verify("t=¹²³,v1=abcdef", BODY, [NEW_SECRET], NOW)


def test_non_ascii_signature_is_a_signature_error() -> None:
    # hmac.compare_digest raises TypeError on non-ASCII str; the verifier must not leak it.
    with pytest.raises(SignatureError):
        signatures.verify(f"t={NOW},v1=ä", BODY, [NEW_SECRET], NOW)


# --- the generic provider's verify ----------------------------------------------------------


def test_generic_provider_reads_the_lower_case_header() -> None:
    provider = GenericProvider()
    header = signatures.sign(NEW_SECRET, NOW, BODY)
    provider.verify({"webinar-signature": header}, BODY, [OLD_SECRET, NEW_SECRET], NOW)
    with pytest.raises(SignatureError, match="missing"):
        provider.verify({"content-type": "application/json"}, BODY, [NEW_SECRET], NOW)
    with pytest.raises(SignatureError):
        provider.verify({"webinar-signature": header}, BODY + b" ", [NEW_SECRET], NOW)


# --- tokens in email links ------------------------------------------------------------------

RID = "r0123456789abcdef0123456789abcde"
EXPIRES, TODAY = date(2025, 5, 23), date(2024, 1, 1)


def test_token_round_trip_returns_the_registrant_id() -> None:
    token = tokens.make(NEW_SECRET, "manage", "reirradiation-2023", RID, expires=EXPIRES)
    assert token.startswith(RID + ".")
    assert "@" not in token
    assert tokens.check([NEW_SECRET], "manage", "reirradiation-2023", token, today=TODAY) == RID


def test_token_is_scoped_to_purpose_series_and_secret() -> None:
    token = tokens.make(NEW_SECRET, "manage", "reirradiation-2023", RID, expires=EXPIRES)
    check = tokens.check
    assert check([NEW_SECRET], "unsubscribe", "reirradiation-2023", token, today=TODAY) is None
    assert check([NEW_SECRET], "manage", "another-series", token, today=TODAY) is None
    assert check([OLD_SECRET], "manage", "reirradiation-2023", token, today=TODAY) is None
    assert check([OLD_SECRET, NEW_SECRET], "manage", "reirradiation-2023", token,
                 today=TODAY) == RID


def test_token_cannot_be_moved_to_another_registrant() -> None:
    token = tokens.make(NEW_SECRET, "manage", "reirradiation-2023", RID, expires=EXPIRES)
    other = "r" + "f" * 31
    moved = other + token[len(RID):]
    assert tokens.check([NEW_SECRET], "manage", "reirradiation-2023", moved, today=TODAY) is None


@pytest.mark.parametrize("token", ["", RID, RID + ".", ".abc", RID + ".x" * 200])
def test_malformed_token_is_none(token: str) -> None:
    assert tokens.check([NEW_SECRET], "manage", "reirradiation-2023", token, today=TODAY) is None


def test_non_ascii_token_is_none() -> None:
    # A token comes from a URL path; a non-ASCII one must be "not valid", not a TypeError.
    assert tokens.check([NEW_SECRET], "manage", "reirradiation-2023", RID + ".ä",
                        today=TODAY) is None


def test_a_token_expires_after_its_day_and_its_day_cannot_be_changed() -> None:
    token = tokens.make(NEW_SECRET, "manage", "reirradiation-2023", RID,
                        expires=date(2025, 5, 23))
    check = tokens.check
    assert check([NEW_SECRET], "manage", "reirradiation-2023", token,
                 today=date(2025, 5, 23)) == RID
    assert check([NEW_SECRET], "manage", "reirradiation-2023", token,
                 today=date(2025, 5, 24)) is None
    rid, day, signature = token.split(".")
    extended = f"{rid}.{int(day) + 365}.{signature}"
    assert check([NEW_SECRET], "manage", "reirradiation-2023", extended,
                 today=date(2025, 5, 24)) is None
    never = f"{rid}.-.{signature}"
    assert check([NEW_SECRET], "manage", "reirradiation-2023", never,
                 today=date(2025, 5, 1)) is None
