"""The console at scale (benchmarks/console_scale.py), run small: the overview and a page of
the registrant list take the same requests at every size, in memory and on moto, and the
export job writes every registration in parts that keep S3's rule."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import console_scale


def test_views_cost_the_same_requests_at_every_size_and_on_both_stores() -> None:
    measured, exported = console_scale.run(600, 150, with_export=False, echo=lambda _: None)
    assert exported is None
    assert [(m.backend, m.registrations) for m in measured] == [
        ("memory", 101), ("memory", 600), ("moto", 101), ("moto", 150)]
    assert console_scale.differences(measured) == []
    for m in measured:
        costs = {view: cost.store_requests for view, cost in m.views.items()}
        assert costs == {"overview": 4, "registrants, page 1": 3, "registrants, page 2": 3}
    moto = [m for m in measured if m.backend == "moto"]
    for m in moto:
        assert {view: cost.dynamodb_calls for view, cost in m.views.items()} == {
            "overview": {"BatchGetItem": 1, "GetItem": 1, "Query": 2},
            "registrants, page 1": {"BatchGetItem": 1, "GetItem": 1, "Query": 1},
            "registrants, page 2": {"BatchGetItem": 1, "GetItem": 1, "Query": 1}}
    lines = console_scale.report_lines(measured, None)
    ratios = [line for line in lines if " / " in line]
    assert len(ratios) == 12 and all(line.endswith("= 1.00") for line in ratios)


def test_a_difference_in_requests_is_reported() -> None:
    measured, _ = console_scale.memory_costs(300)
    assert console_scale.differences(measured) == []
    measured[-1].views["overview"].store_requests += 1
    assert console_scale.differences(measured) == [
        "overview: 4 store requests with 101 (memory), 5 with 300 (memory)"]


def test_the_export_job_writes_every_row_in_parts_within_the_limits() -> None:
    _, store = console_scale.memory_costs(3_000)
    exported = console_scale.export(store, 3_000, part_bytes=64 * 1024)
    assert exported.problems == []
    assert exported.state == "done" and exported.rows == exported.total == 3_000
    assert len(exported.parts) >= 5
    assert exported.store_calls["store.registrations_page"] == 3_000 // 500  # page by page
    assert all(size >= 64 * 1024 for size in exported.parts[:-1])
    assert exported.seconds < console_scale.LAMBDA_LIMIT_S
    assert exported.peak_bytes < console_scale.JOB_MEMORY_MB * 10**6


def test_the_script_refuses_sizes_without_a_second_page(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        console_scale.main(["--registrants", "100", "--moto-registrants", "500"])
    assert "two pages" in capsys.readouterr().err
