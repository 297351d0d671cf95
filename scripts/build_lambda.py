"""Builds the Lambda artifact without Docker: build/lambda/, ready for `sam deploy`.

Dependencies are taken as wheels for the runtime in infra/template.yaml (CPython 3.12 on
arm64, manylinux), whatever machine this runs on; then the package and templates/ are copied,
and every handler the template names is checked to be in the artifact.

    python scripts/build_lambda.py      # scripts/deploy runs it before every deploy
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "lambda"
PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_aarch64"
# pip matches each --platform tag exactly, so the newer manylinux tags a wheel may carry are
# named too (css-inline ships manylinux_2_24 for arm64); the python3.12 runtime's glibc is 2.34.
PLATFORMS = (PLATFORM, "manylinux_2_24_aarch64", "manylinux_2_28_aarch64",
             "manylinux_2_34_aarch64")
# What runs on a laptop, never in a function: the rehearsal kit, the command line, `doctor`.
# tests/test_lambda_wiring.py imports every handler with these blocked.
LEFT_OUT = ("__pycache__", "local", "doctor", "cli.py", "organiser_cli.py")


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(OUT),
                    *(arg for tag in PLATFORMS for arg in ("--platform", tag)),
                    "--implementation", "cp",
                    "--python-version", PYTHON_VERSION, "--only-binary=:all:",
                    *project["dependencies"]], check=True)
    copy_code(OUT)
    check_handlers(OUT)
    print(f"built {OUT} for python{PYTHON_VERSION} on {PLATFORM}")


def copy_code(out: Path) -> None:
    """The package without what only a laptop runs, and templates/ beside it, where the
    template's TEMPLATES_DIR (/var/task/templates) points."""
    shutil.copytree(ROOT / "functions" / "webinar_notify", out / "webinar_notify",
                    ignore=shutil.ignore_patterns(*LEFT_OUT))
    shutil.copytree(ROOT / "templates", out / "templates")


def check_handlers(out: Path) -> None:
    """Every `Handler:` of infra/template.yaml is a module in the artifact."""
    template = (ROOT / "infra" / "template.yaml").read_text(encoding="utf-8")
    handlers = re.findall(r"^\s+Handler:\s*(\S+)", template, flags=re.MULTILINE)
    missing = [h for h in handlers
               if not (out / (h.rpartition(".")[0].replace(".", "/") + ".py")).is_file()]
    if not handlers or missing:
        raise SystemExit(f"the artifact lacks the template's handlers: {missing or 'none found'}")


if __name__ == "__main__":
    main()
