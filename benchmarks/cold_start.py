"""Cold start of every Lambda handler: importing its module and wiring its services from the
environment (what a new container does before its first event), against ``import boto3`` and
one client made, measured in the same run. Prints ratios; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/cold_start.py [--runs 7] [--tracing-on]   (CI: --runs 1)

Each figure is the median of ``--runs`` fresh interpreters, timed from inside (interpreter start
is left out of both sides). Runs are interleaved, baseline first in each round, so a machine that
slows down slows both. Each function gets the environment the template gives it (Globals and its
own variables; references replaced by placeholders), so a function that would build its console
sign-in or its job adapters here does so in the benchmark too. Tracing is off, as with
``POWERTOOLS_TRACE_DISABLED``; ``--tracing-on`` also times each handler as deployed with
``Tracing: Active`` (the X-Ray SDK loaded), for information.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from webinar_notify.local.infra import load_template

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.5
BASELINE = "import boto3\nboto3.client('dynamodb')\n"
# What a function's first batch adds in the sender (the renderer and its libraries): paid once
# per container at its first email, not before it. Printed apart, for information.
SENDER_FIRST_BATCH = "bootstrap.services().sender\n"
PLACEHOLDERS = {  # values for the template's references, shaped as AWS would give them
    "TABLE_NAME": "webinar-notify-table",
    "SEND_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/send",
    "JOB_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
    "SES_CONFIGURATION_SET": "webinar-notify",
    "EXPORT_BUCKET": "webinar-notify-exports",
    "USER_POOL_ID": "eu-west-1_AbCdEf123",
    "USER_POOL_CLIENT_ID": "client123",
    "WEBHOOK_SECRETS_PATH": "/webinar-notify/webhooks",
    "TOKEN_SECRET_PARAMETER": "/webinar-notify/token-secret",
    "REGISTRANT_KEY_PARAMETER": "/webinar-notify/registrant-key",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "SES_SEND_RATE": "14",
    "SENDER_CONCURRENCY": "2",
    "PUBLIC_BASE_URL": "https://api.example.org",
    "TEMPLATES_DIR": str(ROOT / "templates"),
}
LAMBDA = {"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
          "AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark",
          "LAMBDA_TASK_ROOT": str(ROOT)}


def functions() -> dict[str, tuple[str, dict[str, str]]]:
    """Each handler module the template names, with the environment its function gets."""
    template = load_template()
    shared = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    memory = template["Globals"]["Function"].get("MemorySize", 128)
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        own = properties.get("Environment", {}).get("Variables", {})
        module = properties["Handler"].rpartition(".")[0]
        lambda_sets = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties.get("MemorySize",
                                                                              memory))}
        found[module.rpartition(".")[2]] = (module, {**_resolved({**shared, **own}),
                                                     **lambda_sets})
    return dict(sorted(found.items()))


def _resolved(variables: Mapping[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in variables.items():
        if name in PLACEHOLDERS:
            env[name] = PLACEHOLDERS[name]
        elif isinstance(value, str):
            env[name] = value
        else:  # a reference with no placeholder above: a value of the usual shape
            env[name] = (f"https://example.org/{name.lower()}" if name.endswith("_URL")
                         else f"/webinar-notify/{name.lower()}")
    return env


def cold(module: str) -> str:
    return (f"import importlib\nimportlib.import_module({module!r})\n"
            "from webinar_notify import bootstrap\nbootstrap.services()\n")


def seconds(work: str, env: Mapping[str, str]) -> float:
    """Wall time of ``work`` in a fresh interpreter, timed from inside it."""
    program = ("import time\nstarted = time.perf_counter()\n" + work
               + "print(time.perf_counter() - started)\n")
    done = subprocess.run([sys.executable, "-c", program],  # noqa: S603 (our own program)
                          capture_output=True, text=True, env={**LAMBDA, **env}, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed: {work!r}\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tracing-on", action="store_true")
    args = parser.parse_args()

    handlers = functions()
    off = {"POWERTOOLS_TRACE_DISABLED": "true"}
    cases: dict[str, tuple[str, dict[str, str]]] = {"baseline": (BASELINE, off)}
    for name, (module, env) in handlers.items():
        cases[name] = (cold(module), {**env, **off})
        if args.tracing_on:
            cases[f"{name}, tracing on"] = (cold(module), env)
    sender_module, sender_env = handlers["sender"]
    cases["sender + first batch's renderer"] = (cold(sender_module) + SENDER_FIRST_BATCH,
                                                {**sender_env, **off})
    if args.runs > 1:  # compile every module once: no timed run pays for writing .pyc files
        for work, env in cases.values():
            seconds(work, env)
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (work, env) in cases.items():
            timings[name].append(seconds(work, env))
    base = statistics.median(timings.pop("baseline"))
    print(f"cold start, median of {args.runs} fresh interpreters, tracing off unless said")
    print(f"baseline: import boto3 + one client  {base * 1e3:6.0f} ms")
    for name, values in timings.items():
        median = statistics.median(values)
        note = "(for information: paid by the first batch)" if "first batch" in name \
            else "(information: Tracing: Active)" if "tracing on" in name \
            else f"(goal <= {GOAL}x)"
        print(f"{name + ':':<36} {median * 1e3:6.0f} ms  {median / base:4.2f}x  {note}")


if __name__ == "__main__":
    main()
