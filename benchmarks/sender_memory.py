"""Peak memory of a sender instance that draws a batch's certificates, against the sender's
MemorySize in the template; the baseline, in the same run, is the same batch drawn the way it
was before certificates were drawn one at a time (every thread at once). Prints figures;
asserts nothing.

    .venv/bin/python benchmarks/sender_memory.py [--pdfs 76] [--rate 500] [--instances N] [--pool N]
                                                  (CI: --pdfs 2 --batches 1 --rate 14)

Each figure is the peak resident set (ru_maxrss) of a fresh interpreter that does what a new
sender container does: imports its handler and wires its services from the template's
environment (as benchmarks/cold_start.py), loads its first batch's renderer, makes the four
AWS clients it uses; then its pool, sized as the sender's at ``--rate`` over SenderConcurrency
(the template's default, raised to R / 50 above 100/s as its description asks; ``--instances``
to choose) and capped by the function's memory (adapters/rate_limit.py: 8 threads at 256 MB),
composes a batch of 250 emails of the other kinds (benchmarks/emails.py's, shared and personal
links) and
draws ``--pdfs`` certificates, every other one with a Japanese name (the CJK font, 9 MB, the
heaviest to parse) and the rest Latin; ``--batches`` times, as a warm container would. Lambda's
"Max Memory Used" counts its runtime too, so the function needs some room above these.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cold_start import LAMBDA, SENDER_FIRST_BATCH, cold, functions

from webinar_notify.local.infra import load_template

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("山田 太郎", "Maria Dupont")  # the CJK font, then the Latin ones only


def probe(mode: str, pdfs: int, pool: int, batches: int) -> None:
    """In the fresh interpreter: the certificates drawn as ``mode`` says; prints the peak."""
    import resource
    from concurrent.futures import Future
    from datetime import UTC, date, datetime, timedelta
    from decimal import Decimal

    import boto3

    from webinar_notify.adapters import certificate_pdf
    from webinar_notify.core.certificates import Certificate, CertifiedSession

    for service in ("dynamodb", "sesv2", "sqs", "ssm"):
        boto3.client(service)
    if mode == "side by side":  # as before: each thread draws its own, at once
        class OnTheCaller:
            def submit(self, draw, *args):  # type: ignore[no-untyped-def]
                done = Future()  # type: ignore[var-annotated]
                done.set_result(draw(*args))
                return done

        certificate_pdf._DRAWER = OnTheCaller()  # type: ignore[assignment]
    start = datetime(2023, 10, 26, 13, tzinfo=UTC)
    sessions = tuple(CertifiedSession(f"s{i}", f"Reirradiation, part {i}",
                                      start + timedelta(days=28 * i), timedelta(hours=1), 60)
                     for i in range(1, 9))

    def draw(index: int) -> int:
        certificate = Certificate(
            certificate_id=f"C-{index:06d}", series_id="reirradiation-2023",
            registrant_id=f"r{index:031d}", scope="series", name=NAMES[index % 2],
            series_title="Challenges in Reirradiation: From Art to Science",
            sessions=sessions, hours=Decimal(8), credits=Decimal(8), credit_label="ECMEC®",
            organisers=("Organiser One", "Organiser Two"), issued_on=date(2024, 5, 30),
            verification_url=f"https://events.example.org/certificates/C-{index:06d}")
        return len(certificate_pdf.certificate_pdf(certificate, "en"))

    if mode != "wiring only":
        emails = batch_of_emails()
        with ThreadPoolExecutor(max_workers=pool) as threads:
            for _batch in range(batches):  # a warm container, batch after batch
                list(threads.map(composed, emails))  # a batch of the other kinds
                list(threads.map(draw, range(pdfs)))
    print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))


def batch_of_emails() -> list[tuple[Any, ...]]:
    """250 emails of every other kind, shared and personal links (benchmarks/emails.py)."""
    import emails

    series = emails.load_series()
    return [(case, job) for case in emails.cases(series)
            for job in emails.people(case, 25, 0)]


def composed(case_and_job: tuple[Any, ...]) -> int:
    """One email as the sender composes it, with the renderer its wiring loaded."""
    import emails

    from webinar_notify import bootstrap
    from webinar_notify.core import mime
    from webinar_notify.core.compose import compose

    case, job = case_and_job
    return len(mime.build(compose(case.series, job, now=case.start,
                                  renderer=bootstrap.services().sender.renderer,
                                  links=emails.links_for(job), announcement=case.announcement)))


def peak_mb(mode: str, pdfs: int, pool: int, batches: int = 1) -> int:
    module, env = functions()["sender"]
    program = (cold(module) + SENDER_FIRST_BATCH
               + f"import sys\nsys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
               + "import sender_memory\n"
               + f"sender_memory.probe({mode!r}, {pdfs}, {pool}, {batches})\n")
    done = subprocess.run([sys.executable, "-c", program],  # noqa: S603 (our own program)
                          capture_output=True, text=True, timeout=600, check=False,
                          env={**LAMBDA, **env, "POWERTOOLS_TRACE_DISABLED": "true"})
    if done.returncode != 0:
        raise SystemExit(f"failed: {mode}\n{done.stderr[-2000:]}")
    return int(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pdfs", type=int, default=76, help="certificates in each batch")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--pool", type=int, default=0,
                        help="threads, whatever the rate and memory give (as before the cap)")
    parser.add_argument("--instances", type=int, default=0,
                        help="SenderConcurrency (default: the template's, raised to R / 50 "
                             "above 100/s as the README says)")
    args = parser.parse_args()
    from webinar_notify.adapters.rate_limit import pool_size

    template = load_template()
    sender = template["Resources"]["SenderFunction"]["Properties"]
    memory = int(sender.get("MemorySize", template["Globals"]["Function"]["MemorySize"]))
    instances = args.instances or max(int(template["Parameters"]["SenderConcurrency"]
                                          ["Default"]), math.ceil(args.rate / 50))
    batch = int(sender["Environment"]["Variables"]["SENDER_BATCH_SIZE"])
    pool = args.pool or pool_size(args.rate / instances, batch, memory)
    wiring = peak_mb("wiring only", 0, pool)
    shipped = peak_mb("one at a time", args.pdfs, pool, args.batches)
    before = peak_mb("side by side", args.pdfs, pool, args.batches)
    print(f"sender peak memory (Python process), {args.batches} batches of "
          f"{len(batch_of_emails())} emails and "
          f"{args.pdfs} certificates (half with a CJK name) by a pool of {pool} threads "
          f"(R = {args.rate:g}/s over {instances} instances); the function has {memory} MB:")
    print(f"  wiring, first batch's renderer, 4 clients: {wiring:5d} MB")
    print(f"  certificates drawn one at a time:          {shipped:5d} MB = "
          f"{shipped / memory:4.2f}x the function's memory (goal < 1)")
    print(f"  certificates drawn side by side (before):  {before:5d} MB = "
          f"{before / memory:4.2f}x; one at a time / side by side = {shipped / before:4.2f}x")


if __name__ == "__main__":
    main()
