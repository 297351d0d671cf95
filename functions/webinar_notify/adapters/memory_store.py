"""The store in memory, with DynamoStore's rules (tests/test_store_contract.py runs both): a
version condition that fails raises StaleWriteError, every write moves the kept counters,
cursors are the same opaque strings and are checked the same way, and lists come in the same
order. It is for measuring the organiser's work at sizes moto is too slow for
(benchmarks/console_scale.py), and for tests that need many registrations quickly.

The delivery ledger it reads (one person's mail, the mail counters, SES's word on an email) is
a MemoryLedger's, and the schedule stand-in below shares its tasks, as the DynamoDB adapters
share one table.
"""

from __future__ import annotations

import bisect
import copy
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.counts import (
    COUNT_SHARDS,
    PENDING_TALLY,
    MailRecord,
    SentMail,
    SeriesCounts,
    SuppressionRecord,
    count_shard,
    counted_session,
    mail_attribute,
    newest_first,
    parse_mail_attribute,
    tally,
)
from ..core.errors import PayloadError
from ..core.jobs import ORGANISER_COPY
from ..core.organiser_jobs import JobState, OrganiserJob
from ..core.registration import Registration
from ..core.send_check import Recipient
from ..core.series import Series
from ..core.series_document import parse_series, series_to_document
from ..core.waves import is_wave
from .dynamo import StaleWriteError
from .ledger import SENT_STATES, STATE_RANK, DeliveryUpdate, MemoryLedger, sent_time
from .mail_counts import MailTally
from .read_model import (
    SEARCH_PAGE,
    SEARCH_READS,
    SuppressedElsewhereError,
    _named_registrant,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from .schedule_store import PARKED_CHUNKS_PER_PAGE, Decision
from .seats import MemorySeats, Seats
from .store import erase_retrying, registered_at

_SUPPRESSION_ID = re.compile(r"[0-9a-f]{32}")
_PAGE_KEY = re.compile(r"REG#[A-Za-z0-9_.:+#-]{1,128}")


@dataclass(slots=True)
class _SeriesRows:
    """One series' registrations, kept in sort-key order for paging."""

    by_id: dict[str, tuple[Registration, str]]  # registrant id -> (registration, search text)
    order: list[str] | None = None  # sorted ids; None after an insert or delete


class MemoryStore:
    def __init__(self, ledger: MemoryLedger | None = None) -> None:
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self.series: dict[str, Series] = {}
        self.tasks: dict[str, dict[str, dict[str, Any]]] = {}  # series -> task key -> doc
        self.rows: dict[str, _SeriesRows] = {}
        self.counters: dict[tuple[str, int], dict[str, int]] = {}  # (series, shard) -> n
        self.tombstones: dict[tuple[str, str], int] = {}
        self.events: set[tuple[str, str, str]] = set()
        self.suppressed_ids: dict[str, tuple[str, str]] = {}  # id -> (reason, since)
        self.suppression_cause: dict[str, str] = {}  # id -> the series whose mail caused it
        self.series_suppressed: dict[str, dict[str, tuple[str, str]]] = {}
        self.attendance: set[tuple[str, str]] = set()
        self.unmatched_attendance: dict[str, int] = {}
        self.seats: Seats = MemorySeats()
        self.pending_arrived: dict[tuple[str, str], int] = {}  # -> µs they joined the list

    # ---- series -------------------------------------------------------------------------
    def get_series(self, series_id: str) -> Series | None:
        return self.series.get(series_id)

    def put_series(self, series: Series, expected_revision: int | None,
                   tasks: dict[str, dict[str, Any]] | None = None) -> None:
        stored = self.series.get(series.id)
        if (stored is None) != (expected_revision is None) or \
                (stored is not None and stored.revision != expected_revision):
            raise StaleWriteError
        document = json.loads(json.dumps(series_to_document(series), ensure_ascii=False))
        self.series[series.id] = parse_series(document)
        for task_key, doc in (tasks or {}).items():
            self.tasks.setdefault(series.id, {})[task_key] = json.loads(json.dumps(doc))

    # ---- registrations ------------------------------------------------------------------
    def get_registration(self, series_id: str, registrant_id: str) -> Registration | None:
        found = self._rows(series_id).by_id.get(registrant_id)
        return found[0] if found else None

    def registrations(self, series_id: str, registrant_ids: list[str]
                      ) -> dict[str, Registration]:
        return {rid: found for rid in registrant_ids
                if (found := self.get_registration(series_id, rid)) is not None}

    def put_registration(self, registration: Registration, now: datetime) -> Registration:
        """Write the next version; StaleWriteError when another writer got there first."""
        rows = self._rows(registration.series_id)
        stored = rows.by_id.get(registration.registrant_id)
        self._check_version(stored[0] if stored else None, registration.version)
        r = registration.registrant
        written = replace(
            registration, registrant=replace(r, join_url=None),
            session_ids=frozenset(registration.session_ids), since=dict(registration.since),
            join_urls=dict(registration.join_urls), version=registration.version + 1)
        written = replace(written, counted=tally(written))
        self._move_counts(registration.series_id, registration.registrant_id,
                          registration.counted, written.counted)
        self._pending_list(registration, written, now)
        if stored is None:
            rows.order = None
        rows.by_id[registration.registrant_id] = (written, f"{r.full_name}\n{r.email}".casefold())
        return written

    def registrations_page(self, series_id: str, cursor: dict[str, Any] | None, limit: int
                           ) -> tuple[list[Registration], dict[str, Any] | None]:
        """One page in sort-key order; the cursor has the shape of DynamoDB's last key."""
        start = None
        if cursor is not None:
            sk = cursor.get("sk")
            sort_key = str(sk.get("S", "")) if isinstance(sk, dict) else ""
            if cursor.get("pk") != {"S": f"SERIES#{series_id}"} or \
                    not _PAGE_KEY.fullmatch(sort_key):
                raise PayloadError("cursor: not a position in this series' registrations")
            start = sort_key.removeprefix("REG#")
        ids, more = self._ids_after(series_id, start, limit)
        rows = self._rows(series_id).by_id
        last = {"pk": {"S": f"SERIES#{series_id}"}, "sk": {"S": f"REG#{ids[-1]}"}} \
            if more and ids else None
        return [rows[i][0] for i in ids], last

    def erase_registration(self, registration: Registration, erased_at: int) -> None:
        """Delete it, keep a tombstone and take it off the counts; a version written
        meanwhile is read and erased."""
        erase_retrying(self._erase, self.get_registration, registration, erased_at)

    def _erase(self, registration: Registration, erased_at: int) -> None:
        series_id, registrant_id = registration.series_id, registration.registrant_id
        rows = self._rows(series_id)
        stored = rows.by_id.get(registrant_id)
        self._check_version(stored[0] if stored else None, registration.version)
        if stored is not None:
            del rows.by_id[registrant_id]
            rows.order = None
        self.tombstones[(series_id, registrant_id)] = erased_at
        self._move_counts(series_id, registrant_id, registration.counted, frozenset())
        self.pending_arrived.pop((series_id, registrant_id), None)

    def erased_at(self, series_id: str, registrant_id: str) -> int | None:
        return self.tombstones.get((series_id, registrant_id))

    def pending_page(self, series_id: str, cursor: str | None, limit: int
                     ) -> tuple[list[Registration], str | None]:
        """In order of arrival on the list, as DynamoStore's ``PENDINGAT#`` items; one on the
        list from before it had an order arrived when it registered (``registered_at``)."""
        check_limit(limit)
        after = decode_cursor(cursor, series_id, "PENDINGAT#") if cursor else ""

        def place(r: Registration) -> str:  # one listed without an arrival is given one
            arrived = self.pending_arrived.setdefault((series_id, r.registrant_id),
                                                      registered_at(r))
            return f"PENDINGAT#{arrived:016d}#{r.registrant_id}"
        waiting = sorted((r for r, _search in self._rows(series_id).by_id.values()
                          if r.status == "active" and r.approval == "pending"
                          and place(r) > after), key=place)
        page = waiting[:limit]
        more = len(waiting) > limit
        return page, encode_cursor(series_id, place(page[-1])) if more else None

    def _pending_list(self, before: Registration, written: Registration, at: datetime) -> None:
        """When each registrant joined the pending list (it is read in that order)."""
        entry = (written.series_id, written.registrant_id)
        if PENDING_TALLY in written.counted and PENDING_TALLY not in before.counted:
            self.pending_arrived[entry] = int(at.timestamp()) * 1_000_000 + at.microsecond
        elif PENDING_TALLY not in written.counted:
            self.pending_arrived.pop(entry, None)

    def recipient(self, series_id: str, registrant_id: str, suppression_id: str,
                  session_ids: Sequence[str] = ()) -> Recipient:
        standings = {s: standing.state for s in session_ids
                     if (standing := self.seats.standing(series_id, s, registrant_id))}
        registration = self.get_registration(series_id, registrant_id)
        suppressed = suppression_id in self.suppressed_ids
        return Recipient(suppressed, registration, registration is None and not suppressed
                         and (series_id, registrant_id) in self.tombstones, standings)

    # ---- kept counters ------------------------------------------------------------------
    def registration_counters(self, series_id: str) -> dict[int, dict[str, int]]:
        return {shard: dict(self.counters.get((series_id, shard), {}))
                for shard in range(COUNT_SHARDS)}

    def replace_registration_counters(self, series_id: str, shard: int, was: dict[str, int],
                                      now: dict[str, int]) -> None:
        """A repair: StaleWriteError if any counter moved since ``was`` was read."""
        names = set(was) | set(now)
        if not names:
            return
        stored = self.counters.setdefault((series_id, shard), {})
        if any(stored.get(n) != was.get(n) for n in names):
            raise StaleWriteError
        for name in names:
            stored[name] = now.get(name, 0)

    def mail_counters(self, series_id: str) -> dict[int, dict[str, int]]:
        return {shard: {n: v for n, v in self.ledger.counters.get((series_id, shard), {}).items()
                        if parse_mail_attribute(n)}
                for shard in range(COUNT_SHARDS)}

    def replace_mail_counters(self, series_id: str, shard: int, was: dict[str, int],
                              now: dict[str, int]) -> None:
        """A repair: StaleWriteError if any counter moved since ``was`` was read."""
        names = set(was) | set(now)
        stored = self.ledger.counters.setdefault((series_id, shard), {})
        if any(stored.get(n) != was.get(n) for n in names):
            raise StaleWriteError
        for name in names:
            stored[name] = now.get(name, 0)

    def sent_mail_page(self, series_id: str, cursor: dict[str, Any] | None, limit: int
                       ) -> tuple[list[SentMail], dict[str, Any] | None]:
        """The series' emails in key order; the cursor holds the last key."""
        after = str(cursor.get("key", "")) if cursor else ""
        mine = sorted((delivery_key, item) for delivery_key, item in self.ledger.items.items()
                      if item.get("series") == series_id and delivery_key > after)
        page = mine[:limit]
        return ([SentMail(delivery_key=k, registrant_id=str(item.get("registrant", "")),
                          kind=str(item.get("kind", "")),
                          session_ids=tuple(item.get("sessions", ())),
                          states=frozenset(item.get("events", set()))
                          | ({item["delivery"]} if item.get("delivery") else set()),
                          sent_log=str(item.get("sent_log", "")))
                 for k, item in page],
                {"key": page[-1][0]} if len(mine) > limit else None)

    def counts(self, series_id: str) -> SeriesCounts:
        registrations: dict[str, int] = {}
        mail: dict[tuple[str, str, str], int] = {}
        for shard in range(COUNT_SHARDS):
            for name, n in self.counters.get((series_id, shard), {}).items():
                registrations[name] = registrations.get(name, 0) + n
            for name, n in self.ledger.counters.get((series_id, shard), {}).items():
                parsed = parse_mail_attribute(name)
                if parsed:
                    mail[parsed] = mail.get(parsed, 0) + n
        return SeriesCounts.from_counters(
            registrations, mail, attendance_unmatched=self.unmatched_attendance.get(series_id, 0))

    # ---- the console's reads ------------------------------------------------------------
    def registrations_matching(self, series_id: str, query: str, cursor: str | None,
                               limit: int, *, registrant_key: str = ""
                               ) -> tuple[list[Registration], str | None]:
        """As ReadModel.registrations_matching: the same pages, cursors and search reads."""
        check_limit(limit)
        start = decode_cursor(cursor, series_id, "REG#").removeprefix("REG#") \
            if cursor else None
        needle = query.strip().casefold()
        rows = self._rows(series_id).by_id
        if not needle:
            ids, more = self._ids_after(series_id, start, limit)
            return ([rows[i][0] for i in ids],
                    encode_cursor(series_id, f"REG#{ids[-1]}") if more and ids else None)
        direct = _named_registrant(series_id, needle, registrant_key)
        found = [rows[direct][0]] if start is None and direct in rows else []
        for _ in range(SEARCH_READS):
            ids, more = self._ids_after(series_id, start, max(limit, SEARCH_PAGE))
            for registrant_id in ids:
                registration, search = rows[registrant_id]
                if needle in search and registrant_id != direct:
                    found.append(registration)
                if len(found) >= limit:
                    return found, encode_cursor(series_id, f"REG#{registrant_id}")
            if not more:
                return found, None
            start = ids[-1]
        return found, encode_cursor(series_id, f"REG#{start}") if start else None

    def registrant_mail(self, series_id: str, registrant_id: str,
                        limit: int = 200) -> list[MailRecord]:
        """Every email sent to this person in this series, newest first."""
        check_limit(limit)
        records = [MailRecord(
            kind=item.get("kind", ""), session_ids=tuple(item.get("sessions", ())),
            sent_at=sent_time(item["state"], item.get("claimed_at")),
            delivery=item.get("delivery", ""), delivery_at=item.get("delivery_at", ""),
            detail=item.get("delivery_detail", ""))
            for item in self.ledger.items.values()
            if item.get("series") == series_id and item.get("registrant") == registrant_id]
        return newest_first(records)[:limit]

    def suppressions(self, series_id: str, cursor: str | None, limit: int
                     ) -> tuple[list[SuppressionRecord], str | None]:
        check_limit(limit)
        start = decode_cursor(cursor, series_id, "SUPPRESSED#").removeprefix("SUPPRESSED#") \
            if cursor else None
        listed = self.series_suppressed.get(series_id, {})
        ids = sorted(listed)
        ids = ids[bisect.bisect_right(ids, start):] if start is not None else ids
        page = ids[:limit]
        return ([SuppressionRecord(sid, *listed[sid]) for sid in page],
                encode_cursor(series_id, f"SUPPRESSED#{page[-1]}")
                if len(ids) > limit else None)

    def lift_suppression(self, series_id: str, suppression_id: str) -> bool:
        if not _SUPPRESSION_ID.fullmatch(suppression_id):
            raise PayloadError("suppression: not a suppression id")
        listed = self.series_suppressed.get(series_id, {})
        if suppression_id not in listed:
            return False
        if self.suppression_cause.get(suppression_id, series_id) != series_id:
            raise SuppressedElsewhereError
        del listed[suppression_id]
        self.suppressed_ids.pop(suppression_id, None)
        self.suppression_cause.pop(suppression_id, None)
        return True

    # ---- suppression, events, attendance, delivery --------------------------------------
    def suppressed(self, suppression_ids: list[str]) -> set[str]:
        return {sid for sid in suppression_ids if sid in self.suppressed_ids}

    def suppress(self, suppression_id: str, reason: str, now: datetime,
                 series_id: str = "") -> None:
        self.suppressed_ids[suppression_id] = (reason, now.isoformat())
        if series_id:
            self.suppression_cause[suppression_id] = series_id
            self.series_suppressed.setdefault(series_id, {})[suppression_id] = \
                (reason, now.isoformat())

    def event_seen(self, series_id: str, provider: str, event_id: str) -> bool:
        return (series_id, provider, event_id) in self.events

    def mark_event(self, series_id: str, provider: str, event_id: str, now: datetime) -> None:
        self.events.add((series_id, provider, event_id))

    def mark_attendance_known(self, series_id: str, session_id: str) -> None:
        self.attendance.add((series_id, session_id))

    def attendance_known(self, series_id: str, session_id: str) -> bool:
        return (series_id, session_id) in self.attendance

    def count_unmatched_attendance(self, series_id: str) -> None:
        self.unmatched_attendance[series_id] = self.unmatched_attendance.get(series_id, 0) + 1

    def record_delivery(self, delivery_key: str, state: str, at: str, detail: str,
                        tally: MailTally | None = None) -> DeliveryUpdate:
        """SES's word on an email the ledger sent: each state once, the worst one shown."""
        item = self.ledger.items.get(delivery_key)
        if not item or "series" not in item or item.get("state") not in SENT_STATES:
            return DeliveryUpdate("unknown")
        series_id = str(item["series"])
        seen: set[str] = item.setdefault("events", set())
        if state in seen:
            return DeliveryUpdate("duplicate", series_id)
        seen.add(state)
        if STATE_RANK.get(state, 0) >= STATE_RANK.get(item.get("delivery", ""), -1):
            item.update(delivery=state, delivery_at=at, delivery_detail=detail)
        if state != "sent" and item.get("registrant") != ORGANISER_COPY:
            name = mail_attribute(item.get("kind", ""),
                                  counted_session(list(item.get("sessions", []))), state)
            if tally is not None:
                tally.add(series_id, delivery_key, name)
                return DeliveryUpdate("recorded", series_id)
            shard = self.ledger.counters.setdefault((series_id, count_shard(delivery_key)), {})
            shard[name] = shard.get(name, 0) + 1
        return DeliveryUpdate("recorded", series_id)

    def add_mail_counts(self, tally: MailTally) -> None:
        self.ledger.count(tally)

    # ---- helpers ------------------------------------------------------------------------
    def _rows(self, series_id: str) -> _SeriesRows:
        return self.rows.setdefault(series_id, _SeriesRows({}))

    def _ids_after(self, series_id: str, start: str | None, limit: int
                   ) -> tuple[list[str], bool]:
        """Up to ``limit`` registrant ids after ``start``, and whether more follow."""
        rows = self._rows(series_id)
        if rows.order is None:
            rows.order = sorted(rows.by_id)
        first = bisect.bisect_right(rows.order, start) if start is not None else 0
        return rows.order[first:first + limit], first + limit < len(rows.order)

    @staticmethod
    def _check_version(stored: Registration | None, expected: int) -> None:
        """DynamoStore's condition: version 0 must not exist yet, else it must be current."""
        if (stored is None and expected) or (stored is not None and stored.version != expected):
            raise StaleWriteError

    def _move_counts(self, series_id: str, registrant_id: str, before: frozenset[str],
                     after: frozenset[str]) -> None:
        shard = self.counters.setdefault((series_id, count_shard(registrant_id)), {})
        for name in after - before:
            shard[name] = shard.get(name, 0) + 1
        for name in before - after:
            shard[name] = shard.get(name, 0) - 1


class MemoryScheduleStore:
    """The scheduler's records in memory (tasks shared with a MemoryStore), with the
    DynamoDB adapter's claims, leases, fences and plan generations."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.plans: dict[str, tuple[int, int | None]] = {}  # series -> (generation, next due)
        self.decided: dict[str, dict[str, Decision]] = {}
        self.decided_at: dict[tuple[str, str], str] = {}
        self.parked: dict[tuple[str, str], dict[str, list[str]]] = {}  # (series, wave) -> chunks

    def plan_generation(self, series_id: str) -> int:
        return self.plans.get(series_id, (0, None))[0]

    def set_next_due(self, series_id: str, when: datetime | None, generation: int) -> bool:
        if self.plan_generation(series_id) != generation:
            return False
        self.plans[series_id] = (generation + 1,
                                 int(when.timestamp()) if when is not None else None)
        return True

    def series_due(self, now: datetime) -> list[str]:
        return sorted(s for s, (_, due) in self.plans.items()
                      if due is not None and due <= now.timestamp())

    def next_wakeup(self) -> datetime | None:
        times = [due for _, due in self.plans.values() if due is not None]
        return datetime.fromtimestamp(min(times), UTC) if times else None

    def decisions(self, series_id: str) -> dict[str, Decision]:
        return dict(self.decided.get(series_id, {}))

    def claim(self, series_id: str, slot_key: str, now: datetime,
              lease: timedelta) -> Decision | None:
        return self._take_if_free(series_id, slot_key, now, lambda old: Decision(
            slot_key, "fanning", int((now + lease).timestamp()),
            old.cursor if old else None, old.enqueued if old else 0,
            (old.fence if old else 0) + 1))

    def progress(self, series_id: str, decision: Decision, now: datetime,
                 lease: timedelta) -> bool:
        return self._fenced(series_id, decision, replace(
            decision, lease_until=int((now + lease).timestamp())))

    def settle(self, series_id: str, decision: Decision, now: datetime) -> bool:
        done = self._fenced(series_id, decision, replace(decision, state="done",
                                                         lease_until=0, cursor=None))
        if done:
            self.decided_at[(series_id, decision.slot_key)] = now.isoformat()
        return done

    def drop(self, series_id: str, slot_key: str, now: datetime) -> bool:
        dropped = self._take_if_free(series_id, slot_key, now, lambda old: Decision(
            slot_key, "dropped", old.lease_until if old else 0, old.cursor if old else None,
            old.enqueued if old else 0, old.fence if old else 0))
        if dropped is not None:
            self.decided_at[(series_id, slot_key)] = now.isoformat()
        return dropped is not None

    def put_task(self, series_id: str, task_key: str, doc: dict[str, Any]) -> bool:
        tasks = self.store.tasks.setdefault(series_id, {})
        if task_key in tasks:
            return False
        tasks[task_key] = json.loads(json.dumps(doc))
        return True

    def tasks(self, series_id: str, waves: bool = False) -> dict[str, dict[str, Any]]:
        found = copy.deepcopy(self.store.tasks.get(series_id, {}))
        return found if waves else {k: doc for k, doc in found.items() if not is_wave(doc)}

    def task(self, series_id: str, task_key: str) -> dict[str, Any] | None:
        return self.tasks(series_id).get(task_key)

    def park(self, series_id: str, wave_key: str, chunk: str, jobs: list[str],
             expires: datetime) -> bool:
        self.parked.setdefault((series_id, wave_key), {})[chunk] = list(jobs)
        return wave_key not in self.decided.get(series_id, {})

    def parked_page(self, series_id: str, wave_key: str, cursor: dict[str, Any] | None
                    ) -> tuple[list[str], dict[str, Any] | None]:
        chunks = self.parked.get((series_id, wave_key), {})
        names = sorted(c for c in chunks if cursor is None or c > cursor["chunk"])
        page = names[:PARKED_CHUNKS_PER_PAGE]
        more = len(names) > len(page)
        return ([job for name in page for job in chunks[name]],
                {"chunk": page[-1]} if more else None)

    def cancel(self, series_id: str, task_key: str, now: datetime) -> bool:
        decided = self.decided.setdefault(series_id, {})
        if task_key in decided:
            return False
        decided[task_key] = Decision(task_key, "cancelled")
        self.decided_at[(series_id, task_key)] = now.isoformat()
        return True

    def _take_if_free(self, series_id: str, slot_key: str, now: datetime,
                      make: Callable[[Decision | None], Decision]) -> Decision | None:
        decided = self.decided.setdefault(series_id, {})
        old = decided.get(slot_key)
        if old is not None and not (old.state == "fanning"
                                    and old.lease_until < now.timestamp()):
            return None
        decided[slot_key] = make(old)
        return decided[slot_key]

    def _fenced(self, series_id: str, decision: Decision, new: Decision) -> bool:
        old = self.decided.get(series_id, {}).get(decision.slot_key)
        if old is None or old.fence != decision.fence or old.state != "fanning":
            return False
        self.decided[series_id][decision.slot_key] = new
        return True


class MemoryAudit:
    """The audit trail and idempotency records in memory."""

    def __init__(self) -> None:
        self.trail: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # sorted by sort key
        self.answers: dict[tuple[str, str], dict[str, Any]] = {}

    def record(self, series_id: str, entry: dict[str, Any], now: datetime) -> None:
        trail = self.trail.setdefault(series_id, [])
        sort_key = f"AUDIT#{now.isoformat()}#{len(trail):012d}"
        bisect.insort(trail, (sort_key, json.loads(json.dumps(entry))), key=lambda e: e[0])

    def entries(self, series_id: str, cursor: str | None, limit: int
                ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first, as the DynamoDB trail."""
        check_limit(limit)
        trail = self.trail.get(series_id, [])
        end = len(trail)
        if cursor:
            start = decode_cursor(cursor, series_id, "AUDIT#")
            end = bisect.bisect_left([k for k, _ in trail], start)
        page = trail[max(0, end - limit):end][::-1]
        more = end - limit > 0
        return ([e for _, e in page],
                encode_cursor(series_id, page[-1][0]) if more and page else None)

    def begin(self, caller: str, idempotency_key: str, fingerprint: str,
              now: datetime) -> dict[str, Any] | None:
        recorded = self.answers.get((caller, idempotency_key))
        if recorded is not None:
            return dict(recorded)
        self.answers[(caller, idempotency_key)] = {"fingerprint": fingerprint,
                                                   "state": "in_progress"}
        return None

    def finish(self, caller: str, idempotency_key: str, answer: dict[str, Any]) -> None:
        self.answers[(caller, idempotency_key)].update(state="done", answer=answer)

    def abandon(self, caller: str, idempotency_key: str) -> None:
        self.answers.pop((caller, idempotency_key), None)


class MemoryJobStore:
    """Organiser jobs on record in memory; a finished job never changes again."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], OrganiserJob] = {}
        self.steps: dict[tuple[str, str], int] = {}

    def create(self, job: OrganiserJob, now: datetime) -> None:
        if (job.series_id, job.job_id) in self.jobs:
            raise StaleWriteError
        self.jobs[(job.series_id, job.job_id)] = replace(job, updated_at=job.created_at)

    def get(self, series_id: str, job_id: str) -> OrganiserJob | None:
        return self.jobs.get((series_id, job_id))

    def update(self, series_id: str, job_id: str, now: datetime, *, state: JobState,
               done: int, result_key: str = "", error: str = "",
               recorded: int | None = None, not_registered: int | None = None) -> bool:
        job = self.jobs.get((series_id, job_id))
        if job is None or job.finished:
            return False
        self.jobs[(series_id, job_id)] = replace(
            job, state=state, done=done, updated_at=now.isoformat(), result_key=result_key,
            error=error[:300], recorded=job.recorded if recorded is None else recorded,
            not_registered=job.not_registered if not_registered is None else not_registered)
        return True

    def recent(self, series_id: str, limit: int) -> list[OrganiserJob]:
        mine = sorted((j for (s, _), j in self.jobs.items() if s == series_id),
                      key=lambda j: j.job_id, reverse=True)
        return mine[:limit]

    def hand_on(self, series_id: str, job_id: str, step: int) -> bool:
        """As DynamoJobStore.hand_on: only the first copy of a step hands on."""
        steps = self.steps.setdefault((series_id, job_id), 0)
        if steps != step:
            return False
        self.steps[(series_id, job_id)] = step + 1
        return True
