"""The review of attendance, judged without AWS: which rows need a decision (a near miss of
at most 10 points, a guessed join or leave, a certificate waiting for its evaluation), the
percentages rounded down, and the order (decisions first, then by name)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from conftest import SERIES_FILE
from webinar_notify.core.attendance import Presence
from webinar_notify.core.attendance_review import ReviewRow, ordered, review_row
from webinar_notify.core.certificates import assess, rules_from_mapping
from webinar_notify.series_files import load_series_file

SERIES = load_series_file(SERIES_FILE)
HOUR = 3600
RULES = rules_from_mapping({"threshold": "85%", "sessions": ["s1"],
                            "series": {"sessions": ["s1", "s2"], "evaluation": "required"}},
                           [s.id for s in SERIES.sessions])
HELD = [s for s in SERIES.sessions if s.id in ("s1", "s2")]


def row(scope: str, seen: dict[str, Presence], evaluations: frozenset[str] = frozenset(),
        name: str = "Ana") -> ReviewRow:
    return review_row(RULES, RULES.threshold, HELD, scope, ("r1", name, "a@example.org"),
                      seen, {}, evaluations, assess(RULES, HELD, seen, evaluations), ())


@pytest.mark.parametrize(("seconds", "near"), [
    (int(HOUR * 0.75), True),  # exactly 10 points under: worth a look
    (int(HOUR * 0.75) - 60, False),  # 11 under
    (int(HOUR * 0.85) - 60, True),  # 1 minute short
    (int(HOUR * 0.85), False),  # met: nothing to decide
    (0, False),  # not there at all: nothing to decide either
])
def test_a_near_miss_is_at_most_ten_points_under(seconds: int, near: bool) -> None:
    found = row("s1", {"s1": Presence(seconds, HOUR)})
    assert found.needs_review == near
    assert found.met == (seconds >= HOUR * 0.85)
    if near:
        assert "under the threshold" in found.reasons[0]


def test_percentages_are_rounded_down_and_no_record_is_zero() -> None:
    found = row("s1", {"s1": Presence(int(HOUR * 0.869), HOUR)})  # 86.9 %
    assert (found.minutes, found.percent, found.met) == (52, 86, True)
    nobody = row("s1", {})
    assert (nobody.minutes, nobody.of_minutes, nobody.percent, nobody.source) == \
        (0, 60, 0, "no record")


def test_a_guessed_join_needs_a_decision_and_no_certificate_is_issued_on_it() -> None:
    found = row("s1", {"s1": Presence(HOUR, HOUR, assumed=1)})
    assert found.met and "partly guessed" in found.reasons[0]
    assert found.certificate == "needs a decision"


def test_the_series_row_adds_its_sessions_and_waits_for_the_evaluation() -> None:
    both = {"s1": Presence(HOUR, HOUR), "s2": Presence(HOUR, HOUR)}
    waiting = row("series", both)
    assert (waiting.minutes, waiting.of_minutes, waiting.attended) == \
        (120, 120, "2 of 2 sessions")
    assert waiting.evaluation == "missing" and waiting.certificate == \
        "waiting for the evaluation"
    assert "the evaluation is not done" in waiting.reasons[0]
    done = row("series", both, frozenset({"series"}))
    assert not done.needs_review and done.certificate == "earned, not issued"
    assert row("s1", both).evaluation == "not needed"  # the session's needs none


def test_rows_needing_a_decision_come_first_then_by_name() -> None:
    rows = [row("s1", {"s1": Presence(HOUR, HOUR)}, name="Zoë"),
            row("s1", {"s1": Presence(int(HOUR * 0.8), HOUR)}, name="Yuki"),
            row("s1", {}, name="ana")]
    assert [r.name for r in ordered(rows)] == ["Yuki", "ana", "Zoë"]
    assert RULES.threshold == Fraction(85, 100)


def test_an_earned_certificate_its_fonts_cannot_print_needs_a_decision() -> None:
    both = {"s1": Presence(HOUR, HOUR), "s2": Presence(HOUR, HOUR)}
    done = frozenset({"series"})
    arabic = review_row(RULES, RULES.threshold, HELD, "series", ("r1", "محمد", "m@example.org"),
                        both, {}, done, assess(RULES, HELD, both, done), (),
                        (True, ("Arabic",)))
    assert arabic.needs_review and arabic.certificate == "earned, cannot be printed"
    assert "no Arabic letters" in arabic.reasons[0] and "محمد" not in arabic.reasons[0]
    waiting = review_row(RULES, RULES.threshold, HELD, "series", ("r1", "😀", "m@example.org"),
                         both, {}, frozenset(), assess(RULES, HELD, both, frozenset()), (),
                         (True, ("Symbols",)))
    assert waiting.certificate == "waiting for the evaluation"  # not earned yet: as before
    assert len(waiting.reasons) == 1
