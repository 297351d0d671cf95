"""Certificate rules as a series file writes them, who earns which certificate (sessions at
the presence threshold, the evaluation where required), hours and credits rounded down, and a
certificate id that is stable, unguessable and verifiable."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from conftest import SERIES_FILE
from webinar_notify.core.attendance import (
    Interval,
    Presence,
    PresenceEvent,
    presence,
    presence_from_events,
)
from webinar_notify.core.certificates import (
    CertificateRules,
    ScopeRule,
    assess,
    certificate_id,
    clean_name,
    credits_for,
    issue,
    normalised_id,
    parse_threshold,
    rules_from_mapping,
)
from webinar_notify.core.errors import SeriesFileError
from webinar_notify.series_files import load_series_file

SERIES = load_series_file(SERIES_FILE)
SESSIONS = tuple(s for s in SERIES.sessions if s.id.startswith("s"))  # s1..s8, s5 is 90 min
IDS = [s.id for s in SESSIONS]
RULES_DOC: dict[str, Any] = {"series": {"sessions": "all", "evaluation": "required"},
                             "sessions": "all", "credits_per_hour": 1, "threshold": 0.85}
SECRET = "test-certificate-secret"


def present(share: float) -> dict[str, Presence]:
    """Present for ``share`` of every session, from its start."""
    return {s.id: presence([Interval(s.start, s.start + s.duration * share)],
                           s.start, s.end) for s in SESSIONS}


def by_scope(rules: CertificateRules, attendance: dict[str, Presence],
             evaluations: set[str]) -> dict[str, tuple[str, Decimal]]:
    return {a.scope: (a.state, a.credits) for a in assess(rules, SESSIONS, attendance,
                                                          evaluations)}


# -- rules ------------------------------------------------------------------------------------
def test_the_rules_read_as_a_series_file_writes_them() -> None:
    rules = rules_from_mapping(RULES_DOC, IDS)
    assert rules.series == ScopeRule(None, evaluation=True)
    assert rules.per_session_all and rules.threshold == Fraction(85, 100)
    assert (rules.credits_per_hour, rules.credit_step, rules.credit_label) == \
        (Decimal(1), Decimal("0.5"), "ECMEC")


def test_session_rules_may_be_a_list_or_per_session() -> None:
    listed = rules_from_mapping({"sessions": ["s1", "s2"]}, IDS)
    assert listed.session_rule("s2") == ScopeRule(("s2",)) and listed.session_rule("s3") is None
    each = rules_from_mapping({"sessions": {"s5": {"evaluation": "required"}, "s6": None}}, IDS)
    assert each.session_rule("s5") == ScopeRule(("s5",), evaluation=True)
    assert each.session_rule("s6") == ScopeRule(("s6",))


@pytest.mark.parametrize(("value", "expected"), [
    ("85%", Fraction(85, 100)), (0.85, Fraction(85, 100)), (85, Fraction(85, 100)),
    ("100 %", Fraction(1)), ("66.5%", Fraction(665, 1000))])
def test_a_threshold_is_a_percentage_or_a_fraction(value: object, expected: Fraction) -> None:
    assert parse_threshold(value) == expected


@pytest.mark.parametrize(("doc", "error"), [
    ("yes", "certificates: must be a mapping"),
    ({}, "certificates: give series:, sessions: or both"),
    ({"sessions": "all", "treshold": 0.8}, "certificates: unknown field 'treshold'"),
    ({"sessions": "all", "threshold": "most"}, "certificates.threshold: expected a percentage"),
    ({"sessions": "all", "threshold": 0}, "certificates.threshold: must be more than 0 %"),
    ({"sessions": "all", "credits_per_hour": -1}, "certificates.credits_per_hour: must be"),
    ({"sessions": "all", "credits_per_hour": "one"}, "certificates.credits_per_hour: expected"),
    ({"sessions": "all", "credit_step": 0}, "certificates.credit_step: must be more than 0"),
    ({"sessions": "all", "credit_basis": "vibes"}, "certificates.credit_basis: must be"),
    ({"series": {"sessions": ["s1", "s9"]}}, "certificates.series.sessions: no session 's9'"),
    ({"series": {"sessions": "most"}}, "certificates.series.sessions: must be all or a list"),
    ({"series": {"evaluation": "maybe"}},
     "certificates.series.evaluation: must be required or none"),
    ({"series": ["s1"]}, "certificates.series: must be a mapping"),
    ({"sessions": {"s9": None}}, "certificates.sessions: no session 's9'"),
    ({"sessions": {"s1": {"evaluation": "required", "credits": 3}}},
     "certificates.sessions.s1: unknown field 'credits'"),
])
def test_a_wrong_rule_names_its_field(doc: object, error: str) -> None:
    with pytest.raises(SeriesFileError, match=re.escape(error)):
        rules_from_mapping(doc, IDS)


# -- earning ----------------------------------------------------------------------------------
def test_all_sessions_and_the_evaluation_earn_the_series_certificate() -> None:
    rules = rules_from_mapping(RULES_DOC, IDS)
    results = assess(rules, SESSIONS, present(0.86), {"series"})
    series = results[-1]
    assert (series.scope, series.state) == ("series", "earned")
    assert [s.id for s in series.sessions] == IDS
    assert (series.hours, series.credits) == (Decimal("8.5"), Decimal("8.5"))  # 7 h + 1.5 h
    assert [a.scope for a in results[:-1]] == [f"session:{i}" for i in IDS]
    assert {a.state for a in results[:-1]} == {"earned"}


def test_without_the_evaluation_the_series_certificate_waits_for_it() -> None:
    scopes = by_scope(rules_from_mapping(RULES_DOC, IDS), present(1.0), set())
    assert scopes["series"][0] == "needs_evaluation"
    assert scopes["session:s1"] == ("earned", Decimal(1))  # its own needs no evaluation here


def test_below_the_threshold_nothing_is_earned() -> None:
    rules = rules_from_mapping(RULES_DOC, IDS)
    results = assess(rules, SESSIONS, present(0.40), {"series"})
    assert {a.state for a in results} == {"not_earned"}
    assert results[-1].missing == tuple(IDS)


def test_one_missed_session_loses_the_series_but_not_the_others() -> None:
    attendance = present(1.0)
    s3 = SESSIONS[2]
    attendance["s3"] = presence([Interval(s3.start, s3.start + timedelta(minutes=50))],
                                s3.start, s3.end)  # 83 %
    scopes = by_scope(rules_from_mapping(RULES_DOC, IDS), attendance, {"series"})
    assert scopes["series"][0] == "not_earned"
    assert scopes["session:s3"][0] == "not_earned"
    assert scopes["session:s4"] == ("earned", Decimal(1))
    assert scopes["session:s5"] == ("earned", Decimal("1.5"))


def test_a_cancelled_session_is_neither_required_nor_certified() -> None:
    sessions = tuple(replace(s, status="cancelled") if s.id == "s8" else s for s in SESSIONS)
    attendance = present(1.0)
    del attendance["s8"]
    results = assess(rules_from_mapping(RULES_DOC, IDS), sessions, attendance, {"series"})
    assert results[-1].state == "earned" and results[-1].credits == Decimal("7.5")
    assert "session:s8" not in [a.scope for a in results]


def test_per_session_evaluations_are_each_sessions_own() -> None:
    rules = rules_from_mapping({"sessions": {"sessions": "all", "evaluation": "required"}}, IDS)
    scopes = by_scope(rules, present(1.0), {"session:s1"})
    assert scopes["session:s1"][0] == "earned" and scopes["session:s2"][0] == "needs_evaluation"
    assert "series" not in scopes


@pytest.mark.parametrize(("hours", "per_hour", "step", "credits"), [
    ("1", "1", "0.5", "1"), ("1.5", "1", "0.5", "1.5"), ("0.83", "1", "0.5", "0.5"),
    ("0.49", "1", "0.5", "0"), ("8.5", "1", "1", "8"), ("1.5", "2", "0.25", "3"),
    ("0.83", "1", "0.25", "0.75")])
def test_credits_are_rounded_down_to_the_step(hours: str, per_hour: str, step: str,
                                              credits: str) -> None:
    rules = CertificateRules(credits_per_hour=Decimal(per_hour), credit_step=Decimal(step))
    assert credits_for(rules, Decimal(hours)) == Decimal(credits)


def test_credits_on_presence_count_only_the_time_present() -> None:
    rules = rules_from_mapping({"sessions": ["s1"], "credit_basis": "presence"}, IDS)
    s1 = by_scope(rules, present(0.9), set())["session:s1"]
    assert s1 == ("earned", Decimal("0.5"))  # 54 minutes: 0.9 h, rounded down to 0.5


# -- ids and verification ---------------------------------------------------------------------
def test_a_certificate_id_is_stable_and_differs_by_person_scope_and_secret() -> None:
    first = certificate_id(SECRET, SERIES.id, "r1", "series")
    assert first == certificate_id(SECRET, SERIES.id, "r1", "series")
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", first)
    others = {certificate_id(SECRET, SERIES.id, "r2", "series"),
              certificate_id(SECRET, SERIES.id, "r1", "s1"),
              certificate_id("another-secret", SERIES.id, "r1", "series"),
              certificate_id(SECRET, "other-series", "r1", "series")}
    assert first not in others and len(others) == 4
    with pytest.raises(ValueError, match="secret"):
        certificate_id("", SERIES.id, "r1", "series")


def test_an_id_typed_loosely_is_recognised_and_garbage_is_not() -> None:
    cid = certificate_id(SECRET, SERIES.id, "r1", "series")
    assert normalised_id(f"  {cid.replace('-', ' ').lower()} ") == cid
    assert normalised_id(cid.replace("-", "")) == cid
    for bad in ("", "ABCD", cid + "A", "ABCD-EFGH-IJKL-MN8P", "<script>"):
        assert normalised_id(bad) is None


def test_an_issued_certificate_verifies_with_name_series_and_credits_only() -> None:
    rules = rules_from_mapping(RULES_DOC, IDS)
    earned = assess(rules, SESSIONS, present(1.0), {"series"})[-1]
    certificate = issue(earned, secret=SECRET, series_id=SERIES.id,
                        series_title=SERIES.title, registrant_id="r1",
                        name="Nguyễn Thị Minh Khai", rules=rules,
                        organisers=[o.name for o in SERIES.organisers],
                        issued_on=date(2024, 5, 30),
                        verify_base_url="https://events.example.org/certificates/")
    assert certificate.verification_url == \
        f"https://events.example.org/certificates/{certificate.certificate_id}"
    assert certificate.verification() == {
        "certificate_id": certificate.certificate_id, "name": "Nguyễn Thị Minh Khai",
        "series": SERIES.title, "credits": "8.5", "credit_label": "ECMEC", "revoked": False}
    assert replace(certificate, revoked=True).verification()["revoked"] is True
    with pytest.raises(ValueError, match="not earned"):
        issue(replace(earned, state="needs_evaluation"), secret=SECRET, series_id=SERIES.id,
              series_title=SERIES.title, registrant_id="r1", name="x", rules=rules,
              organisers=[], issued_on=date(2024, 5, 30), verify_base_url="https://x")


# -- review findings ----------------------------------------------------------------------------
def test_ten_hours_make_10_credits_written_plainly() -> None:
    """Credits of 10 or more were written 1E+1 (Decimal.normalize)."""
    long_sessions = tuple(replace(s, duration=timedelta(hours=1.25)) for s in SESSIONS)
    rules = rules_from_mapping({"series": {"sessions": "all"}}, IDS)
    earned = assess(rules, long_sessions, {s.id: presence([Interval(s.start, s.end)], s.start,
                                                          s.end) for s in long_sessions},
                    set())[-1]
    assert (earned.state, earned.hours, earned.credits) == ("earned", Decimal(10), Decimal(10))
    assert str(earned.credits) == "10"
    cert = issue(earned, secret=SECRET, series_id=SERIES.id, series_title=SERIES.title,
                 registrant_id="r1", name="Ana Lima", rules=rules, organisers=[],
                 issued_on=date(2024, 5, 30), verify_base_url="https://x.example")
    assert cert.verification()["credits"] == "10"
    assert str(credits_for(CertificateRules(credit_step=Decimal(1)), Decimal(120))) == "120"


def test_a_session_named_series_is_not_the_series_certificate() -> None:
    sessions = tuple(replace(s, id="series") if s.id == "s1" else s for s in SESSIONS)
    ids = [s.id for s in sessions]
    rules = rules_from_mapping({"series": {"sessions": "all", "evaluation": "required"},
                                "sessions": {"series": {"evaluation": "required"}}}, ids)
    attendance = {s.id: presence([Interval(s.start, s.end)], s.start, s.end) for s in sessions}
    only_session_evaluated = {a.scope: a.state for a in assess(rules, sessions, attendance,
                                                               {"session:series"})}
    assert only_session_evaluated == {"session:series": "earned", "series": "needs_evaluation"}
    cids = {certificate_id(SECRET, SERIES.id, "r1", scope) for scope in only_session_evaluated}
    assert len(cids) == 2


def test_a_name_is_composed_and_stripped_of_control_characters_once_for_all() -> None:
    rules = rules_from_mapping(RULES_DOC, IDS)
    earned = assess(rules, SESSIONS, present(1.0), {"series"})[-1]
    typed = "\u202eAna\u0000 " + unicodedata.normalize("NFD", "Nguyễn") + "\u200b"
    cert = issue(earned, secret=SECRET, series_id=SERIES.id, series_title=SERIES.title,
                 registrant_id="r1", name=typed, rules=rules, organisers=[],
                 issued_on=date(2024, 5, 30), verify_base_url="https://x.example")
    assert cert.name == "Ana Nguyễn" and cert.verification()["name"] == "Ana Nguyễn"
    assert clean_name("می\u200cخواهم") == "می\u200cخواهم"  # ZWNJ is spelling: kept
    with pytest.raises(ValueError, match="needs a name"):
        clean_name("\u202e\u0007 ")


def test_presence_resting_on_a_guessed_join_needs_review_not_a_certificate() -> None:
    """A leave whose join was lost (or a join whose leave was): never earned on its own."""
    s1 = SESSIONS[0]
    guessed = presence_from_events([PresenceEvent("left", s1.start + s1.duration, "c1")],
                                   s1.start, s1.end)
    assert guessed.meets() and guessed.assumed == 1
    attendance = {**present(1.0), "s1": guessed}
    scopes = {a.scope: (a.state, a.unconfirmed) for a in
              assess(rules_from_mapping(RULES_DOC, IDS), SESSIONS, attendance, {"series"})}
    assert scopes["session:s1"] == ("needs_review", ("s1",))
    assert scopes["series"] == ("needs_review", ("s1",))
    assert scopes["session:s2"] == ("earned", ())


def test_on_presence_the_hours_are_the_minutes_printed_per_session() -> None:
    rules = rules_from_mapping({"series": {"sessions": ["s1", "s2"]},
                                "credit_basis": "presence"}, IDS)
    earned = assess(rules, SESSIONS, present(0.9), set())[-1]
    assert [s.minutes_present for s in earned.sessions] == [54, 54]
    assert earned.hours == Decimal("1.8")  # 108 minutes
