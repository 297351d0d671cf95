"""A session change as a typed value: read and checked once, applied without touching the
rest of the series."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import SERIES_FILE
from webinar_notify.core.errors import NotFoundError, PayloadError, SeriesFileError
from webinar_notify.core.session_change import SessionChange, read_session_change
from webinar_notify.series_files import load_series_file

SERIES = load_series_file(SERIES_FILE)


def test_a_change_applies_to_its_session_only_and_keeps_what_it_does_not_name() -> None:
    change = read_session_change(SERIES, "s4", {"start": "2024-01-09T16:00", "join_url": ""})
    changed = change.apply(SERIES)

    before, after = SERIES.session("s4"), changed.session("s4")
    assert before is not None and after is not None
    assert after.start - before.start == timedelta(hours=1)
    assert after.start.tzinfo is not None and after.title == before.title
    assert after.duration == before.duration and after.join_url is None
    assert [s for s in changed.sessions if s.id != "s4"] == \
        [s for s in SERIES.sessions if s.id != "s4"]


def test_a_cancellation_only_changes_the_status() -> None:
    cancelled = SessionChange.cancellation("s6").apply(SERIES).session("s6")
    assert cancelled is not None and cancelled.status == "cancelled"
    assert cancelled.start == SERIES.session("s6").start  # type: ignore[union-attr]


@pytest.mark.parametrize(("session", "fields", "error", "says"), [
    ("s9", {"title": "x"}, NotFoundError, "unknown session"),
    ("s4", {}, PayloadError, "give any of"),
    ("s4", {"colour": "red"}, PayloadError, "'colour' is not one"),
    ("s4", {"start": "2024-03-31T02:30"}, SeriesFileError, "sessions[3].start"),
    ("s4", {"status": "postponed"}, SeriesFileError, "sessions[3].status"),
    ("s4", {"duration_minutes": -5}, SeriesFileError, "sessions[3].duration_minutes"),
])
def test_a_bad_change_names_its_field_as_a_series_file_would(
        session: str, fields: dict[str, object], error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=None) as raised:
        read_session_change(SERIES, session, fields)
    assert says in str(raised.value)
