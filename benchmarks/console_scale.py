"""The organiser console at scale: what the series overview and one page of the registrant
list cost in store requests with N registrations in memory and M on moto's DynamoDB, and a CSV
export of N registrations run as a job.

Each view (the overview, the first page of the registrant list, and the page after it) runs
through ConsoleViews, with the store and the schedule store wrapped in a counting proxy; on
moto the DynamoDB requests are counted too. Every backend is measured twice, after a tenth of
its registrations are stored and after all of them: a view must take the same number of
requests at every size and on both stores. The export runs OrganiserJobs' steps as the job
function does (a 900 s invocation, its soft and hard margins) into an in-memory S3 that holds
every part but the last to S3's 5 MiB minimum; it reports wall time per step, peak traced
memory and parts. Exits 1 when the request counts differ or the export does not end whole.

    .venv/bin/python benchmarks/console_scale.py --registrants 100000 --moto-registrants 10000
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from webinar_notify.adapters.clock import SystemClock, VirtualClock
from webinar_notify.adapters.exports import MIN_PART_BYTES, MemoryExports
from webinar_notify.adapters.job_queue import MemoryJobQueue
from webinar_notify.adapters.mailer import OutgoingMessage
from webinar_notify.adapters.memory_store import (
    MemoryAudit,
    MemoryJobStore,
    MemoryScheduleStore,
    MemoryStore,
)
from webinar_notify.adapters.schedule_store import ScheduleStore
from webinar_notify.adapters.secrets import StaticSecrets
from webinar_notify.adapters.store import DynamoStore, Store
from webinar_notify.core.organiser_jobs import Continuation
from webinar_notify.core.registration import Registrant, Registration
from webinar_notify.core.text import registrant_id
from webinar_notify.local import aws_calls
from webinar_notify.series_files import load_series_file
from webinar_notify.services.console_views import PAGE_SIZE, ConsoleViews
from webinar_notify.services.counts_repair import repair_counts
from webinar_notify.services.organiser_jobs import JobSettings, OrganiserJobs

ROOT = Path(__file__).resolve().parents[1]
SERIES_FILE = ROOT / "series" / "reirradiation-2023.yaml"
SERIES_ID = "reirradiation-2023"
KEY = "local-development-only"
VIEWED_AT = datetime(2023, 10, 2, 9, 0, tzinfo=UTC)  # before the first session: much is due
LAMBDA_LIMIT_S = 900  # the job function's timeout (and Lambda's longest)
JOB_MEMORY_MB = 1024  # the job function's memory size
SOFT_MARGIN = timedelta(seconds=120)  # as entrypoints/jobs.py: stop at the next part after
HARD_MARGIN = timedelta(seconds=30)  # ... and stop at once here
ZONES = ("America/Toronto", "Asia/Riyadh", "Australia/Sydney", "Europe/Copenhagen",
         "America/Sao_Paulo")
VIEWS = ("overview", "registrants, page 1", "registrants, page 2")


def registration(i: int) -> Registration:
    """Registrant ``i``: a third for the whole series, the rest for one session; every tenth
    cancelled, every tenth awaiting opt-in; some with interests and consent."""
    address = f"person{i}@example.org"
    return Registration(
        SERIES_ID, registrant_id(KEY, SERIES_ID, address),
        Registrant(address, f"Person Nº{i}", ZONES[i % len(ZONES)]),
        frozenset({f"s{1 + i % 8}"}) if i % 3 else frozenset(), whole_series=not i % 3,
        status="cancelled" if i % 10 == 9 else "active", opted_in=i % 10 != 8,
        interests=frozenset({"course"}) if i % 7 == 0 else frozenset(),
        consent='{"privacy": "yes"}' if i % 2 else "", last_event=1_696_000_000 + i)


class CountingProxy:
    """Passes every call on to ``inner``, counting it as a request under its method's name."""

    def __init__(self, inner: object, counted: Counter[str], prefix: str) -> None:
        self._inner = inner
        self._counted = counted
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if not callable(found):
            return found

        def counting(*args: Any, **kwargs: Any) -> Any:
            self._counted[f"{self._prefix}.{name}"] += 1
            return found(*args, **kwargs)

        return counting


@dataclass
class ViewCost:
    store_requests: int
    calls: dict[str, int]  # store method -> calls
    dynamodb_requests: int | None  # None in memory
    seconds: float
    dynamodb_calls: dict[str, int] = field(default_factory=dict)  # operation -> requests


@dataclass
class Measured:
    backend: str
    registrations: int
    views: dict[str, ViewCost]
    seeding_seconds: float = 0.0


@contextmanager
def dynamodb_requests() -> Iterator[list[str]]:
    seen: list[str] = []
    stop = aws_calls.watch(lambda service, operation, _params: seen.append(operation)
                           if service == "dynamodb" else None)
    try:
        yield seen
    finally:
        stop()


def measure_views(backend: str, store: Store, schedule: ScheduleStore, registrations: int,
                  on_moto: bool) -> Measured:
    """Each view once, through the counting proxies (and DynamoDB's own count on moto)."""
    counted: Counter[str] = Counter()
    views = ConsoleViews(cast(Store, CountingProxy(store, counted, "store")),
                         cast(ScheduleStore, CountingProxy(schedule, counted, "schedule")),
                         MemoryAudit(), StaticSecrets({}, KEY, KEY), VirtualClock(VIEWED_AT))
    second_page: list[str] = []

    def overview() -> None:
        views.overview(views.series(SERIES_ID))

    def first_page() -> None:
        page = views.registrants(views.series(SERIES_ID))
        second_page.append(page["next_cursor"])
        assert len(page["registrants"]) == PAGE_SIZE

    def next_page() -> None:
        assert second_page[0], "too few registrations for a second page"
        page = views.registrants(views.series(SERIES_ID), cursor=second_page[0])
        assert len(page["registrants"]) == PAGE_SIZE

    costs: dict[str, ViewCost] = {}
    for name, view in zip(VIEWS, (overview, first_page, next_page), strict=True):
        counted.clear()
        with dynamodb_requests() as requests:
            started = time.perf_counter()
            view()
            seconds = time.perf_counter() - started
        costs[name] = ViewCost(sum(counted.values()), dict(sorted(counted.items())),
                               len(requests) if on_moto else None, seconds,
                               dict(sorted(Counter(requests).items())))
    return Measured(backend, registrations, costs)


def memory_costs(n: int) -> tuple[list[Measured], MemoryStore]:
    """The views at a tenth of ``n`` and at ``n`` registrations in memory; the store."""
    store = MemoryStore()
    store.put_series(load_series_file(SERIES_FILE), None)
    schedule = MemoryScheduleStore(store)
    measured, stored = [], 0
    for size in sizes(n):
        started = time.perf_counter()
        for i in range(stored, size):
            store.put_registration(registration(i), VIEWED_AT)
        stored = size
        seeding = time.perf_counter() - started
        measured.append(measure_views("memory", store, schedule, size, on_moto=False))
        measured[-1].seeding_seconds = seeding
    return measured, store


def moto_costs(m: int) -> list[Measured]:
    """The views at a tenth of ``m`` and at ``m`` registrations on moto's DynamoDB: written
    25 to a BatchWriteItem in the store's own item format, then counted by the repair."""
    from webinar_notify.local.runtime import LocalSettings, local_runtime

    measured, stored = [], 0
    with local_runtime(VirtualClock(VIEWED_AT), _NoMail(),
                       LocalSettings(webhook_secrets={})) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        for size in sizes(m):
            started = time.perf_counter()
            batch_write(runtime.store, [registration(i) for i in range(stored, size)])
            stored = size
            repaired = repair_counts(runtime.store, SERIES_ID)
            assert repaired["registered"][1] == runtime.store.counts(SERIES_ID).registered
            seeding = time.perf_counter() - started
            measured.append(measure_views("moto", runtime.store, runtime.schedule, size,
                                          on_moto=True))
            measured[-1].seeding_seconds = seeding
    return measured


def sizes(total: int) -> tuple[int, int]:
    """A tenth of ``total`` (at least two pages' worth) and ``total``."""
    return min(total, max(total // 10, 2 * PAGE_SIZE + 1)), total


class _NoMail:
    def send(self, message: OutgoingMessage) -> str:
        raise AssertionError("nothing is mailed here")


class _ItemCapture:
    """Stands in for the DynamoDB client to catch the item the store would write."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, **request: Any) -> None:
        self.items.append(request["Item"])

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:
        self.items += [w["Put"]["Item"] for w in TransactItems if "Put" in w]


def batch_write(store: DynamoStore, registrations: list[Registration]) -> None:
    """Store registrations as DynamoStore writes them, 25 to a request, counters left to the
    repair (writing them one by one on moto takes about 30 ms each)."""
    capture = _ItemCapture()
    writer = DynamoStore(cast(Any, capture), store.table)
    for r in registrations:
        writer.put_registration(r, VIEWED_AT)
    for start in range(0, len(capture.items), 25):
        store.client.batch_write_item(RequestItems={store.table: [
            {"PutRequest": {"Item": item}} for item in capture.items[start:start + 25]]})


@dataclass
class ExportReport:
    registrations: int
    rows: int
    step_seconds: list[float]
    parts: list[int]  # bytes of each part, in order
    peak_bytes: int
    traced_seconds: float
    state: str
    store_calls: dict[str, int]
    total: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(self.step_seconds)


class _PartSizes(MemoryExports):
    """The in-memory S3 (with its 5 MiB rule), remembering each part's size."""

    def __init__(self, min_part_bytes: int) -> None:
        super().__init__(min_part_bytes)
        self.part_sizes: dict[int, int] = {}

    def put_part(self, object_key: str, upload_id: str, number: int, data: bytes) -> str:
        self.part_sizes[number] = len(data)
        return super().put_part(object_key, upload_id, number, data)


@dataclass
class _ExportRun:
    steps: list[float]
    exports: _PartSizes
    state: str
    total: int | None
    result_key: str
    store_calls: Counter[str]


def export(store: MemoryStore, n: int, part_bytes: int = MIN_PART_BYTES) -> ExportReport:
    """The CSV export of every registration, as the job function runs it: timed, then again
    with memory traced (tracing slows Python down, so its time is not the one reported).
    ``part_bytes`` is S3's minimum part (smaller only to see many parts at small sizes)."""
    timed = _export_run(store, part_bytes)
    tracemalloc.start()
    traced_started = time.perf_counter()
    _export_run(store, part_bytes)
    traced = time.perf_counter() - traced_started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = 0
    if timed.state == "done":
        text = timed.exports.read(timed.result_key).decode("utf-8").removeprefix("\ufeff")
        rows = sum(1 for _ in csv.reader(io.StringIO(text))) - 1
    sizes = timed.exports.part_sizes
    report = ExportReport(n, rows, timed.steps, [sizes[k] for k in sorted(sizes)], peak,
                          traced, timed.state, dict(sorted(timed.store_calls.items())),
                          timed.total)
    if rows != n:
        report.problems.append(f"the export has {rows:,} rows, not {n:,}")
    if timed.state != "done":
        report.problems.append(f"the job ended {timed.state}")
    if max(timed.steps) >= LAMBDA_LIMIT_S:
        report.problems.append(f"a step took {max(timed.steps):.0f} s")
    if peak >= JOB_MEMORY_MB * 10**6:
        report.problems.append(f"the job's peak memory was {peak / 10**6:.0f} MB")
    return report


def _export_run(store: MemoryStore, part_bytes: int) -> _ExportRun:
    """One export job from start to end, each step given a whole 900 s invocation."""
    clock = SystemClock()
    exports, queue = _PartSizes(part_bytes), MemoryJobQueue()
    calls: Counter[str] = Counter()
    counted = cast(Store, CountingProxy(store, calls, "store"))
    views = ConsoleViews(counted, MemoryScheduleStore(store), MemoryAudit(),
                         StaticSecrets({}, KEY, KEY), clock)
    jobs = OrganiserJobs(counted, MemoryJobStore(), exports, queue, clock, views.csv_text,
                         JobSettings(part_bytes=part_bytes))
    job = jobs.start_export("benchmark", SERIES_ID)
    steps: list[float] = []
    while (body := queue.take()) is not None:
        work = Continuation.from_json(body)
        started = time.perf_counter()
        end = clock.now() + timedelta(seconds=LAMBDA_LIMIT_S)
        rest = jobs.step(work, end - SOFT_MARGIN, end - HARD_MARGIN)
        steps.append(time.perf_counter() - started)
        if rest is not None:
            queue.send(rest)
    done = jobs.job(SERIES_ID, job.job_id)
    return _ExportRun(steps, exports, done.state, done.total, done.result_key, calls)


def differences(measured: list[Measured]) -> list[str]:
    """Where a view's requests differ between sizes or stores (none is the promise)."""
    problems = []
    first = measured[0]
    for other in measured[1:]:
        for view in VIEWS:
            a, b = first.views[view], other.views[view]
            if a.store_requests != b.store_requests:
                problems.append(f"{view}: {a.store_requests} store requests with "
                                f"{first.registrations:,} ({first.backend}), "
                                f"{b.store_requests} with {other.registrations:,} "
                                f"({other.backend})")
    on_moto = [m for m in measured if m.backend == "moto"]
    for other in on_moto[1:]:
        for view in VIEWS:
            a, b = on_moto[0].views[view], other.views[view]
            if a.dynamodb_requests != b.dynamodb_requests:
                problems.append(f"{view}: {a.dynamodb_requests} DynamoDB requests with "
                                f"{on_moto[0].registrations:,}, {b.dynamodb_requests} with "
                                f"{other.registrations:,}")
    return problems


def report_lines(measured: list[Measured], exported: ExportReport | None) -> list[str]:
    lines = ["requests per view (store calls through the proxy; DynamoDB requests on moto):"]
    for m in measured:
        lines.append(f"  {m.backend:6} {m.registrations:>8,} registrations "
                     f"(stored and counted in {m.seeding_seconds:.1f} s)")
        for view in VIEWS:
            cost = m.views[view]
            dynamo = "" if cost.dynamodb_requests is None else \
                f", {cost.dynamodb_requests} DynamoDB requests"
            calls = ", ".join(f"{k} {v}" for k, v in cost.calls.items())
            lines.append(f"    {view:20} {cost.store_requests} store requests{dynamo} "
                         f"({calls}); {cost.seconds * 1000:.1f} ms")
    for view in VIEWS:
        lines += [f"ratios, {view}:", *(f"  {ratio}" for ratio in ratios(measured, view))]
    if exported is not None:
        e = exported
        parts = ", ".join(f"{size / 2**20:.2f}" for size in e.parts)
        lines += [
            f"export: {e.rows:,} rows of {e.registrations:,} (job total {e.total}), "
            f"job {e.state}, {len(e.step_seconds)} step(s) of "
            + ", ".join(f"{s:.1f} s" for s in e.step_seconds),
            f"  parts (MiB): {parts}; {sum(e.parts) / 2**20:.1f} MiB in all",
            "  store requests: " + ", ".join(f"{k} {v:,}" for k, v in e.store_calls.items()),
            f"  time / Lambda limit: {e.seconds:.1f} s / {LAMBDA_LIMIT_S} s = "
            f"{e.seconds / LAMBDA_LIMIT_S:.3f} (longest step "
            f"{max(e.step_seconds):.1f} s)",
            f"  peak traced memory / job memory: {e.peak_bytes / 2**20:.1f} MiB / "
            f"{JOB_MEMORY_MB} MB = {e.peak_bytes / (JOB_MEMORY_MB * 10**6):.3f} (an upper "
            "bound: it includes the parts and the finished object the in-memory S3 keeps; "
            f"traced run {e.traced_seconds:.1f} s)"]
    return lines


def ratios(measured: list[Measured], view: str) -> list[str]:
    """Requests at the bigger size over requests at the smaller: both stores' largest sizes,
    then each store's largest over its tenth (and DynamoDB's own requests on moto)."""
    largest = {m.backend: m for m in measured}  # measured in growing sizes
    tenth = {m.backend: m for m in reversed(measured)}
    pairs = [(largest["memory"], largest["moto"], "store")] if len(largest) == 2 else []
    pairs += [(largest[b], tenth[b], "store") for b in largest]
    pairs += [(largest[b], tenth[b], "DynamoDB") for b in largest if b == "moto"]
    found = []
    for big, small, kind in pairs:
        a, b = ((big.views[view].store_requests, small.views[view].store_requests)
                if kind == "store" else
                (big.views[view].dynamodb_requests or 0, small.views[view].dynamodb_requests or 1))
        found.append(f"{kind} requests {big.backend} {big.registrations:,} / {small.backend} "
                     f"{small.registrations:,} = {a / b:.2f}")
    return found


def run(registrants: int, moto_registrants: int, *, with_export: bool = True,
        echo: Callable[[str], None] = print) -> tuple[list[Measured], ExportReport | None]:
    in_memory, store = memory_costs(registrants)
    echo(f"in memory: {registrants:,} registrations measured")
    on_moto = moto_costs(moto_registrants)
    echo(f"on moto: {moto_registrants:,} registrations measured")
    exported = export(store, registrants) if with_export else None
    return in_memory + on_moto, exported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registrants", type=int, default=2_000,
                        help="registrations in memory, and in the export (default 2,000)")
    parser.add_argument("--moto-registrants", type=int, default=200,
                        help="registrations on moto's DynamoDB (default 200)")
    args = parser.parse_args(argv)
    if min(args.registrants, args.moto_registrants) <= 2 * PAGE_SIZE:
        parser.error(f"sizes must exceed two pages ({2 * PAGE_SIZE} registrations)")
    measured, exported = run(args.registrants, args.moto_registrants)
    print("\n".join(report_lines(measured, exported)))
    problems = differences(measured) + (exported.problems if exported else [])
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
