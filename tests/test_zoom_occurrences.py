"""A recurring Zoom webinar that stands for the whole series: each occurrence's participants are
recorded on the session whose start matches, and an occurrence that matches none is counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import SERIES_FILE
from webinar_notify.core.providers.zoom import OCCURRENCE_TOLERANCE, occurrence_session
from webinar_notify.series_files import load_series_file

SERIES = load_series_file(SERIES_FILE)
S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)  # 15:00 CEST
S2 = datetime(2023, 11, 6, 14, 0, tzinfo=UTC)  # 15:00 CET, after the switch


@pytest.mark.parametrize(("occurrence", "expected"), [
    (S1, "s1"),
    (S1 + OCCURRENCE_TOLERANCE, "s1"),  # started late, within the tolerance
    (S1 - timedelta(minutes=10), "s1"),
    (S1 + OCCURRENCE_TOLERANCE + timedelta(seconds=1), None),
    (S2, "s2"),
    (S2 - timedelta(hours=1), None),  # the series' clock time read in the wrong zone
    (datetime(2023, 12, 25, 14, 0, tzinfo=UTC), None),
])
def test_the_occurrence_start_names_the_session(occurrence: datetime, expected: str | None
                                                ) -> None:
    assert SERIES.sessions[1].start.astimezone(UTC) == S2
    assert occurrence_session(SERIES, occurrence, None) == expected


@pytest.mark.parametrize(("joined", "expected"), [
    (S1 - OCCURRENCE_TOLERANCE, "s1"),
    (S1 + timedelta(minutes=59), "s1"),
    (S1 - OCCURRENCE_TOLERANCE - timedelta(seconds=1), None),
    (S2 + timedelta(minutes=5), "s2"),
])
def test_without_an_occurrence_start_the_join_time_names_it(joined: datetime,
                                                            expected: str | None) -> None:
    assert occurrence_session(SERIES, None, joined) == expected


def test_no_times_at_all_match_no_session() -> None:
    assert occurrence_session(SERIES, None, None) is None
