"""CPU per confirmation email (eight sessions, shared join links): the confirmation case of
``benchmarks/emails.py``, which measures every kind, printed as this script always printed it.

    .venv/bin/python benchmarks/confirmation.py [--emails 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics

from emails import GOAL, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.emails < 1 or args.repeats < 1:
        parser.error("--emails and --repeats must be at least 1")

    ((case, timing),) = run(args.emails, args.repeats, ["confirmation"], "shared")
    sessions = sum(not s.cancelled for s in case.series.sessions)
    render, whole = statistics.median(timing.bare), statistics.median(timing.whole)
    print(f"confirmations: {args.emails}, {sessions} sessions each, "
          f"{timing.size / 1024:.1f} KiB per email")
    print(f"bare Jinja2 render (text + HTML): {render * 1e3:.3f} ms CPU per email")
    print(f"render + calendar + MIME:         {whole * 1e3:.3f} ms CPU per email")
    print(f"ratio to the render alone:        {timing.ratio:.2f}x (aim: <= {GOAL}x)")
    print(f"throughput on one core:           {1 / whole:,.0f} emails/s")


if __name__ == "__main__":
    main()
