"""CPU per confirmation email: render + calendar + MIME, against the bare Jinja2 render of the
same templates measured in the same run. Prints figures; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/confirmation.py [--emails 2000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

from webinar_notify.core import mime
from webinar_notify.core.compose import Links, _context, _sessions, compose
from webinar_notify.core.jobs import EmailJob, delivery_key
from webinar_notify.core.registration import Registrant
from webinar_notify.core.render import Renderer
from webinar_notify.core.series_document import parse_series

ROOT = Path(__file__).resolve().parents[1]
ZONES = ["America/Toronto", "Asia/Riyadh", "Australia/Sydney", "Europe/Copenhagen",
         "America/Sao_Paulo"]


def cpu_seconds(work: Callable[[int], object], count: int) -> float:
    """Best of three process-CPU timings of count calls (the minimum is the least disturbed)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for i in range(count):
            work(i)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=2000)
    args = parser.parse_args()

    series = parse_series(yaml.safe_load((ROOT / "series" / "reirradiation-2023.yaml").read_text()))
    renderer = Renderer(ROOT / "templates")
    now = datetime(2023, 10, 2, 9, tzinfo=UTC)
    links = Links(manage="https://example.org/manage/reirradiation-2023/r0.token",
                  unsubscribe="https://example.org/unsubscribe/reirradiation-2023/r0.token")
    sessions = tuple(s.id for s in series.sessions)
    jobs = [EmailJob("confirmation", series.id, series.revision, f"r{i}",
                     Registrant(f"person{i}@example.org", f"Person Nº{i}", ZONES[i % 5]),
                     sessions, delivery_key("confirmation", series.id, f"r{i}", *sessions))
            for i in range(args.emails)]

    def bare_render(i: int) -> object:
        job = jobs[i]
        context = _context(series, job, links, _sessions(series, job.session_ids), now)
        return renderer.render_pair("confirmation", context | {"subject": "s", "opt_in_url": ""})

    def whole_email(i: int) -> object:
        return mime.build(compose(series, jobs[i], now=now, renderer=renderer, links=links))

    whole_email(0)  # compile templates and fill the per-session calendar cache once
    render = cpu_seconds(bare_render, args.emails)
    full = cpu_seconds(whole_email, args.emails)
    size = len(whole_email(0))
    print(f"confirmations: {args.emails}, 8 sessions each, {size / 1024:.1f} KiB per email")
    print(f"bare Jinja2 render (text + HTML): {render / args.emails * 1e3:.3f} ms CPU per email")
    print(f"render + calendar + MIME:         {full / args.emails * 1e3:.3f} ms CPU per email")
    print(f"ratio to the render alone:        {full / render:.2f}x (aim: <= 3x)")
    print(f"throughput on one core:           {args.emails / full:,.0f} emails/s")


if __name__ == "__main__":
    main()
