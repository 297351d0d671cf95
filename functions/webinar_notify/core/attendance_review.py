"""The organiser's review of attendance: per person, for one session or the whole series, the
minutes present against the threshold, the evaluation, the certificate, and why a row needs a
decision before anything is issued.

A row needs a decision when a person was there but fell short by a little (within
``NEAR_POINTS`` of the threshold: a dropped connection or a late start may deserve a mark by
hand), when the minutes rest on a guessed join or leave (a webhook was lost), when the
certificate is earned apart from the evaluation, or when it is earned but its fonts cannot
print it (a name in a script they lack: named by script, so the organiser can correct the
name or wait for fonts that have it). Percentages are rounded down, as minutes are,
so the page never shows more presence than the certificate counts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .attendance import Presence
from .certificates import (
    SERIES_SCOPE,
    Assessment,
    Certificate,
    CertificateRules,
    session_scope,
)
from .series import Session

NEAR_POINTS = Fraction(10, 100)  # under the threshold by at most this: worth a look


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One person in the review, in words an organiser reads at a glance."""

    registrant_id: str
    name: str
    email: str
    minutes: int  # present (the scope's required sessions added up)
    of_minutes: int  # scheduled
    percent: int  # rounded down
    met: bool  # every session the scope needs attended at the threshold
    attended: str  # "2 of 3 sessions" for the series, "" for a session
    source: str  # where a session's minutes come from: marked by hand, a report, Zoom
    evaluation: str  # "done", "missing", "not needed"
    certificate: str  # "issued", "revoked", "earned, not issued", "waiting", "not earned", ""
    certificate_id: str
    reasons: tuple[str, ...]  # why the row needs a decision; () when it needs none

    @property
    def needs_review(self) -> bool:
        return bool(self.reasons)


SOURCES = {"manual": "marked by hand", "zoom-report": "Zoom report", "csv": "uploaded CSV",
           "report": "not in the report", "": "Zoom webhooks"}


def review_row(rules: CertificateRules | None, threshold: Fraction, sessions: Sequence[Session],
               scope: str, person: tuple[str, str, str], attendance: Mapping[str, Presence],
               sources: Mapping[str, str], evaluations: Collection[str],
               assessments: Sequence[Assessment], held: Sequence[Certificate],
               unprintable: tuple[bool, tuple[str, ...]] | None = None) -> ReviewRow:
    """The row of one person for ``scope`` (a session id, or "series" for the whole series):
    ``person`` is (registrant id, name, address), ``attendance`` their presence per session
    id, ``sources`` where each session's record came from; ``unprintable``, for a
    certificate earned that its fonts cannot draw: whether the name is the cause, and the
    scripts they lack."""
    live = [s for s in sessions if not s.cancelled]
    certificate_scope = SERIES_SCOPE if scope == SERIES_SCOPE else session_scope(scope)
    assessment = next((a for a in assessments if a.scope == certificate_scope), None)
    needed = _needed(rules, live, scope)
    seen = [attendance.get(s.id) for s in needed]
    present = sum(p.seconds for p in seen if p is not None)
    scheduled = sum(int(s.duration.total_seconds()) for s in needed)
    met_count = sum(1 for p in seen if p is not None and p.meets(threshold))
    reasons: list[str] = []
    for session, p in zip(needed, seen, strict=True):
        if p is None:
            continue
        label = "" if scope != SERIES_SCOPE else f"{session.id}: "
        if p.seconds and not p.meets(threshold) and p.fraction >= threshold - NEAR_POINTS:
            short = _floor_percent(threshold - p.fraction) or 1
            reasons.append(f"{label}present {p.minutes} of "
                           f"{int(session.duration.total_seconds() // 60)} minutes, "
                           f"{short} {'point' if short == 1 else 'points'} under the "
                           "threshold")
        if p.assumed and p.meets(threshold):
            reasons.append(f"{label}a join or leave was not recorded, so the minutes are "
                           "partly guessed")
    evaluation = _evaluation(rules, scope, evaluations)
    certificate = next((c for c in held if c.scope == certificate_scope), None)
    if assessment is not None and assessment.state == "needs_evaluation" and certificate is None:
        reasons.append("attended, but the evaluation is not done: the certificate waits "
                       "for it")
    printable = not (unprintable and assessment is not None and assessment.state == "earned"
                     and certificate is None)
    if not printable and unprintable is not None:
        reasons.append(_unprintable_reason(*unprintable))
    sources_used = sorted({SOURCES.get(sources.get(s.id, ""), "Zoom webhooks")
                           for s in needed if s.id in attendance})
    return ReviewRow(
        person[0], person[1], person[2], present // 60, scheduled // 60,
        _floor_percent(Fraction(present, scheduled)) if scheduled else 0,
        bool(needed) and met_count == len(needed),
        f"{met_count} of {len(needed)} sessions" if scope == SERIES_SCOPE else "",
        ", ".join(sources_used) or "no record", evaluation,
        _certificate_state(rules, assessment, certificate) if printable
        else "earned, cannot be printed",
        certificate.certificate_id if certificate else "", tuple(reasons))


def _unprintable_reason(in_name: bool, scripts: tuple[str, ...]) -> str:
    """Why an earned certificate is not issued, by the scripts its fonts lack."""
    letters = [f"{' and '.join(s for s in scripts if s != 'Symbols')} letters"] \
        if any(s != "Symbols" for s in scripts) else []
    lacking = " or ".join(letters + (["symbols or emoji"] if "Symbols" in scripts else []))
    if in_name:
        return (f"earned, but the name cannot be printed: the certificate's fonts have no "
                f"{lacking}. It is issued once the name is corrected or the fonts have them")
    return (f"earned, but the certificate cannot be printed: its fonts have no {lacking} "
            "for a title or an organiser in the series file")


def _needed(rules: CertificateRules | None, live: Sequence[Session], scope: str
            ) -> list[Session]:
    """The sessions a scope counts: one session, or those the series certificate needs
    (every session held when the series gives no series certificate)."""
    if scope != SERIES_SCOPE:
        return [s for s in live if s.id == scope]
    wanted = rules.series.sessions if rules is not None and rules.series is not None else None
    return [s for s in live if wanted is None or s.id in wanted]


def _evaluation(rules: CertificateRules | None, scope: str, evaluations: Collection[str]
                ) -> str:
    if rules is None:
        return "not needed"
    rule = rules.series if scope == SERIES_SCOPE else rules.session_rule(scope)
    if rule is None or not rule.evaluation:
        return "not needed"
    key = SERIES_SCOPE if scope == SERIES_SCOPE else session_scope(scope)
    return "done" if key in evaluations else "missing"


def _certificate_state(rules: CertificateRules | None, assessment: Assessment | None,
                       certificate: Certificate | None) -> str:
    if certificate is not None:
        return "revoked" if certificate.revoked else "issued"
    if rules is None or assessment is None:
        return ""  # this scope gives no certificate
    return {"earned": "earned, not issued", "needs_evaluation": "waiting for the evaluation",
            "needs_review": "needs a decision"}.get(assessment.state, "not earned")


def _floor_percent(value: Fraction) -> int:
    return int(value * 100)  # floor for the non-negative values shown here


def ordered(rows: Sequence[ReviewRow]) -> list[ReviewRow]:
    """Rows needing a decision first, then by name (as typed, case-insensitive)."""
    return sorted(rows, key=lambda r: (not r.needs_review, r.name.casefold(), r.email))
