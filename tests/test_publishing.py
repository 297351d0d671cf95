"""Publishing series files: idempotent, and calendar SEQUENCE moves only with visible changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from conftest import SERIES_FILE, Harness
from webinar_notify.core.series import Series
from webinar_notify.series_files import load_series_file
from webinar_notify.services.answers import Published


def push(harness: Harness, series: Series) -> Published:
    return harness.runtime.push_series(series)


def test_pushing_the_same_file_again_changes_nothing(harness: Harness) -> None:
    store = harness.runtime.store
    before = store.get_series("reirradiation-2023")
    result = push(harness, load_series_file(SERIES_FILE))
    assert result.outcome == "unchanged"
    assert store.get_series("reirradiation-2023") == before


def test_a_moved_session_gets_a_higher_sequence_and_a_new_stamp(harness: Harness) -> None:
    store = harness.runtime.store
    series = load_series_file(SERIES_FILE)
    before = store.get_series(series.id)
    assert before is not None and before.revision == 1
    harness.clock.advance(timedelta(days=3))
    moved = replace(series, sessions=tuple(
        replace(s, start=s.start + timedelta(hours=1)) if s.id == "s4" else s
        for s in series.sessions))

    result = push(harness, moved)

    after = store.get_series(series.id)
    assert after is not None
    assert result.outcome == "updated" and result.changed_sessions == ("s4",)
    assert after.revision == 2
    s4 = after.session("s4")
    assert s4 is not None and s4.sequence == 1 and s4.updated_at == harness.clock.now()
    assert all(s.sequence == 0 for s in after.sessions if s.id != "s4")
    assert after.session("s1") == before.session("s1")


def test_a_description_change_bumps_the_revision_but_no_sequence(harness: Harness) -> None:
    store = harness.runtime.store
    series = replace(load_series_file(SERIES_FILE), description="A new description.")
    result = push(harness, series)
    after = store.get_series(series.id)
    assert result.outcome == "updated" and result.changed_sessions == ()
    assert after is not None and all(s.sequence == 0 for s in after.sessions)


def test_the_uid_domain_is_pinned_once_published(harness: Harness) -> None:
    store = harness.runtime.store
    series = replace(load_series_file(SERIES_FILE), uid_domain="")
    push(harness, series)
    after = store.get_series(series.id)
    assert after is not None
    assert after.calendar_uid("s1") == "s1.reirradiation-2023@events.estro.example"


def test_a_new_series_title_bumps_every_sessions_sequence(harness: Harness) -> None:
    store = harness.runtime.store
    series = replace(load_series_file(SERIES_FILE), title="Reirradiation: From Art to Science")
    push(harness, series)
    after = store.get_series(series.id)
    assert after is not None and {s.sequence for s in after.sessions} == {1}


def test_published_calendar_identity_and_sessions_cannot_disappear(harness: Harness) -> None:
    import pytest

    from webinar_notify.core.errors import SeriesFileError

    store = harness.runtime.store
    series = load_series_file(SERIES_FILE)
    with pytest.raises(SeriesFileError, match=r"uid_domain: .* cannot change"):
        push(harness, replace(series, uid_domain="other.example"))
    with pytest.raises(SeriesFileError, match="'s8' was published and cannot be removed"):
        push(harness, replace(series, sessions=series.sessions[:7]))
    stored = store.get_series(series.id)
    assert stored is not None and stored.revision == 1 and len(stored.sessions) == 8


def test_a_template_folder_that_is_not_there_is_refused_at_publishing(harness: Harness) -> None:
    from webinar_notify.core.series_document import series_to_document

    store = harness.runtime.store
    before = store.get_series("reirradiation-2023")
    document = series_to_document(load_series_file(SERIES_FILE)) | {"templates": "nowhere"}
    answer = harness.runtime.organiser("/organiser/series/reirradiation-2023/push",
                                       {"series": document, "quiet": True}, "push-nowhere")
    assert answer.status == 400, answer.body
    assert "templates: no folder 'nowhere'" in str(answer.body)
    assert store.get_series("reirradiation-2023") == before  # nothing stored, nothing sent
