"""Organiser work that grows with the audience, run as a job instead of inside a request.

A job is accepted at once (its record says queued), then a worker carries it out in steps:
each step does what fits in its time and hands the rest on as a continuation message, so no
single invocation grows with the series. The record keeps the progress the console shows and,
at the end, where the result is.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from .errors import PayloadError

# An attendance import: at most this many addresses in one request, whose body is at most this
# big (under Lambda's 6 MB request payload, with room for the event around it). A longer list
# goes in parts: each import adds to the attendance already recorded.
MAX_ATTENDANCE_ADDRESSES = 100_000
MAX_ATTENDANCE_BODY_BYTES = 5 * 1024 * 1024
_REGISTRANT_ID = re.compile(r"r[0-9a-f]{31}")

JobKind = Literal["registrants_csv", "fan_out", "attendance", "certificates", "decisions",
                  "promotions"]
JobState = Literal["queued", "running", "done", "failed"]
JOB_KINDS: tuple[JobKind, ...] = get_args(JobKind)


@dataclass(frozen=True, slots=True)
class OrganiserJob:
    series_id: str
    job_id: str
    kind: JobKind
    state: JobState
    requested_by: str  # the caller, as audited
    created_at: str
    updated_at: str = ""
    done: int = 0  # rows written (an export), emails queued (a fan-out), addresses looked up
    total: int | None = None  # about how many there will be (from the kept counts)
    result_key: str = ""  # where the result is kept (an export's object key)
    error: str = ""
    session_id: str = ""  # the session an attendance import (or a change's notices) is for
    recorded: int = 0  # an attendance import: addresses that matched a registration so far
    not_registered: int = 0  # ... and addresses that matched none

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


@dataclass(frozen=True, slots=True)
class Continuation:
    """What the next step needs: where the reading stopped, and the upload so far.

    ``cursor`` is the position after the last rows that were uploaded: rows read after it but
    not yet uploaded are simply read again by the next step."""

    series_id: str
    job_id: str
    kind: JobKind
    cursor: dict[str, Any] | None = None
    upload_id: str = ""
    parts: tuple[tuple[int, str], ...] = ()  # (part number, ETag) uploaded so far
    rows: int = 0
    steps: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"v": 1, "series": self.series_id, "job": self.job_id,
                           "kind": self.kind, "cursor": self.cursor, "upload": self.upload_id,
                           "parts": [list(p) for p in self.parts], "rows": self.rows,
                           "steps": self.steps, "extra": self.extra},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Continuation:
        """Parse a job message; a malformed one raises PayloadError (and is dead-lettered)."""
        try:
            doc = json.loads(text)
            kind = doc["kind"]
            if kind not in JOB_KINDS:
                raise ValueError(kind)
            cursor = doc.get("cursor")
            if cursor is not None and not isinstance(cursor, dict):
                raise TypeError("cursor")
            return cls(series_id=str(doc["series"]), job_id=str(doc["job"]), kind=kind,
                       cursor=cursor, upload_id=str(doc.get("upload", "")),
                       parts=tuple((int(n), str(tag)) for n, tag in doc.get("parts", [])),
                       rows=int(doc.get("rows", 0)), steps=int(doc.get("steps", 0)),
                       extra={str(k): str(v) for k, v in doc.get("extra", {}).items()})
        except (ValueError, KeyError, TypeError) as error:
            raise PayloadError(f"malformed job message: {type(error).__name__}") from None


def new_job_id(now: datetime) -> str:
    """Sortable by time, unguessable, and a path id like every other (lower case, digits and
    hyphens): ``20231026-130000-3f9a1c2b7d``."""
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(5)}"


def job_view(job: OrganiserJob, size: int | None = None) -> dict[str, Any]:
    """What the console and the read API say about a job (never who the registrants are)."""
    view: dict[str, Any] = {"id": job.job_id, "kind": job.kind, "state": job.state,
                            "done": job.done, "total": job.total, "created_at": job.created_at,
                            "updated_at": job.updated_at, "error": job.error}
    if job.total:
        view["percent"] = min(100, round(100 * job.done / job.total))
    if job.session_id:  # an attendance import's session, or the session a change is about
        view["session"] = job.session_id
    if job.kind == "attendance" and job.state == "done":  # its counts only once final
        view |= {"recorded": job.recorded, "not_registered": job.not_registered}
    if job.kind == "certificates" and job.state == "done":  # registrants assessed, issued
        view |= {"issued": job.recorded, "unnamed": job.not_registered}
    if job.kind == "decisions" and job.state == "done":  # approvals or declines: decided
        view |= {"changed": job.recorded, "refused": job.not_registered}
    if size is not None:
        view["bytes"] = size
    return view


def export_key(series_id: str, job_id: str) -> str:
    return f"exports/{series_id}/{job_id}.csv"


def import_key(series_id: str, job_id: str) -> str:
    """Where an attendance import keeps its list of registrant ids (never an address)."""
    return f"imports/{series_id}/{job_id}.txt"


def encode_ids(registrant_ids: list[str]) -> bytes:
    """An import's list as stored: one registrant id a line."""
    return "".join(f"{rid}\n" for rid in registrant_ids).encode("ascii")


def decode_ids(data: bytes) -> list[str]:
    """The stored list back; PayloadError if any line is not a registrant id."""
    try:
        ids = data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise PayloadError("the stored list is not a list of registrant ids") from None
    if not all(_REGISTRANT_ID.fullmatch(rid) for rid in ids):
        raise PayloadError("the stored list is not a list of registrant ids")
    return ids
