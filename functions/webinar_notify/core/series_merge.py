"""Merging a new version of a series into the stored one, as calendars need it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from .errors import SeriesFileError
from .series import Series


def merge_series(stored: Series | None, incoming: Series, now: datetime) -> Series:
    """The series to store: incoming content, stored sequences, bumped where a calendar sees it."""
    previous = {s.id: s for s in stored.sessions} if stored else {}
    # The series title (in DESCRIPTION) and the sender (ORGANIZER) are in every entry too.
    every_entry_changed = stored is not None and \
        (stored.title, stored.sender) != (incoming.title, incoming.sender)
    sessions = []
    for session in incoming.sessions:
        old = previous.get(session.id)
        if old is None:
            sessions.append(replace(session, sequence=0, updated_at=now))
        elif every_entry_changed or old.calendar_fingerprint() != session.calendar_fingerprint():
            sessions.append(replace(session, sequence=old.sequence + 1, updated_at=now))
        else:
            sessions.append(replace(session, sequence=old.sequence, updated_at=old.updated_at))
    uid_domain = incoming.uid_domain or (stored.uid_host if stored else incoming.uid_host)
    if stored is not None and uid_domain != stored.uid_host:
        raise SeriesFileError(f"uid_domain: is {stored.uid_host!r} since the series was "
                              "published; calendars match updates by UID, so it cannot change")
    removed = sorted({s.id for s in stored.sessions} - {s.id for s in incoming.sessions}) \
        if stored else []
    if removed:
        raise SeriesFileError(f"sessions: {removed[0]!r} was published and cannot be removed; "
                              "set its status to cancelled instead")
    merged = replace(incoming, sessions=tuple(sessions), uid_domain=uid_domain,
                     revision=stored.revision if stored else 0)
    if stored is not None and merged == stored:
        return stored
    return replace(merged, revision=(stored.revision + 1) if stored else 1)
