"""The package as people install it: a wheel built from the sources, installed outside the
checkout, runs the demo from any directory with the files it carries, and carries nothing else
(no tests, no local secrets). The Lambda artifact finds its templates where the SAM template
says."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from webinar_notify import kit
from webinar_notify.core.signatures import sign

ROOT = Path(__file__).resolve().parents[1]
# What a build reads: the project's metadata and build step, the package, the kit's files.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE",
           "functions/webinar_notify", *kit.FILES)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
# The demo's mail, as tests/test_demo.py counts it: a confirmation for each of the five
# registrants and every reminder of the eight sessions.
DEMO_EMAILS = Counter({"confirmation": 5, "reminder": 91})


def _copy_sources(into: Path) -> None:
    for relative in SOURCES:
        source, destination = ROOT / relative, into / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=_IGNORED)
        else:
            shutil.copyfile(source, destination)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what a build reads (a build in the checkout would leave build/ and egg-info
    behind, and the copy shows that the build needs nothing else)."""
    copy = tmp_path_factory.mktemp("sources")
    _copy_sources(copy)
    return copy


@pytest.fixture(scope="module")
def wheel(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built offline, without build isolation: the setuptools of this environment."""
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(sources), "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--quiet", "--wheel-dir", str(dist)],
        capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    [path] = dist.glob("webinar_notify-*.whl")
    return path


def _kit_files(sources: Path) -> set[str]:
    """Every file the kit lists, as the wheel should carry it."""
    found: set[str] = set()
    for relative in kit.FILES:
        source = sources / relative
        paths = [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else [source]
        found |= {p.relative_to(sources).as_posix() for p in paths}
    return {f"webinar_notify/{kit.PACKAGED_DIR}/{name}" for name in found}


def test_the_wheel_carries_the_code_and_the_kit_and_nothing_else(sources: Path, wheel: Path
                                                                  ) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    carried = {n for n in names if ".dist-info/" not in n}
    package = sources / "functions" / "webinar_notify"
    code = {p.relative_to(package.parent).as_posix() for p in package.rglob("*.py")}
    catalogs = {p.relative_to(package.parent).as_posix()
                for p in package.glob("locale/*/LC_MESSAGES/messages.po")}
    assert len(catalogs) >= 5  # every language but English, the source
    fonts = {p.relative_to(package.parent).as_posix() for p in package.glob("fonts/*")
             if p.suffix in (".ttf", ".txt")}  # the certificate fonts and their licence
    assert "webinar_notify/fonts/OFL.txt" in fonts
    assert carried == code | catalogs | fonts | _kit_files(sources)
    assert "webinar_notify/locale/fr/LC_MESSAGES/messages.po" in carried
    assert "webinar_notify/kit_files/scenarios/demo.yaml" in carried
    assert "webinar_notify/kit_files/templates/confirmation.html" in carried
    assert not [n for n in names if n.startswith(("tests/", "scenarios/", "series/"))
                or n.endswith((".pem", ".key", ".env", ".eml", "samconfig.toml", ".pyc"))
                or any(folder.startswith("outbox") for folder in n.split("/")[:-1])
                or "conftest" in n]


def _left_out_of(manifest: str) -> list[str]:
    """The kit's paths an sdist built with this MANIFEST.in text would lack: a folder needs
    a `graft` line, a file an `include` line."""
    grafted: set[str] = set()
    included: set[str] = set()
    for line in manifest.splitlines():
        words = [] if line.lstrip().startswith("#") else line.split()
        if words[:1] == ["graft"]:
            grafted.update(w.rstrip("/") for w in words[1:])
        elif words[:1] == ["include"]:
            included.update(words[1:])
    return [path for path in kit.FILES
            if path not in (grafted if (ROOT / path).is_dir() else included)]


def test_the_manifest_names_every_kit_file_so_the_two_lists_cannot_drift() -> None:
    """No build: setup.py copies kit.FILES into a wheel, and a wheel built from an sdist has
    only what MANIFEST.in put there."""
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert all((ROOT / path).exists() for path in kit.FILES)
    assert _left_out_of(manifest) == []
    lines = manifest.splitlines()
    for number, line in enumerate(lines):  # the check sees each line go
        named = {path for path in kit.FILES if path in line.split()[1:]}
        if named:
            without = "\n".join(lines[:number] + lines[number + 1:])
            assert named <= set(_left_out_of(without)), line


@dataclass(frozen=True)
class Installed:
    command: Path  # the console script pip wrote
    env: dict[str, str]  # the installed copy first on the path
    elsewhere: Path  # a working directory outside the checkout


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Installed into a fresh folder (dependencies from this environment), as pip installs
    it, and run from a folder that is not the checkout."""
    target, elsewhere = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("elsewhere")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
         "--disable-pip-version-check", "--upgrade", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k != "TEMPLATES_DIR"}
    env["PYTHONPATH"] = str(target)  # ahead of the editable install of the checkout
    probe = subprocess.run(
        [sys.executable, "-c", "from webinar_notify import kit; print(kit.root())"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert probe.stdout.strip() == str(target / "webinar_notify" / kit.PACKAGED_DIR), probe.stderr
    return Installed(target / "bin" / "webinar-notify", env, elsewhere)


def test_an_installed_wheel_runs_the_demo_from_any_directory(installed: Installed,
                                                             tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    demo = subprocess.run([sys.executable, str(installed.command), "demo", "--outbox",
                           str(outbox)], cwd=installed.elsewhere, env=installed.env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "7 requests, 96 emails, 0 in the dead-letter queue" in demo.stdout
    assert f"open in a browser: {outbox / 'index.html'}" in demo.stdout
    sent = [json.loads(line) for line in (outbox / "log.jsonl").read_text().splitlines()]
    assert Counter(entry["kind"] for entry in sent) == DEMO_EMAILS
    assert (outbox / "index.html").is_file() and not list(installed.elsewhere.iterdir())


def test_an_installed_wheel_serves_the_sandbox_series(installed: Installed,
                                                      tmp_path: Path) -> None:
    """The sandbox series, the email templates and the console's files, all from the wheel."""
    outbox = tmp_path / "outbox"
    process = subprocess.Popen(
        [sys.executable, str(installed.command), "serve", "--port", "0", "--secret", "s3cret",
         "--outbox", str(outbox)], cwd=installed.elsewhere, env=installed.env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = _listening(process)
        now = int(time.time())
        body = json.dumps({"id": "evt-installed", "type": "registration.created",
                           "created": now, "data": {"registrant": {
                               "email": "ada@example.com", "full_name": "Ada"}}}).encode()
        request = urllib.request.Request(
            f"{base}/webhooks/generic/sandbox", data=body, method="POST", headers={
                "Content-Type": "application/json",
                "Webinar-Signature": sign("s3cret", now, body)})
        with urllib.request.urlopen(request, timeout=30) as answer:
            status = answer.status
        with urllib.request.urlopen(f"{base}/console/static/console.css", timeout=30) as css:
            stylesheet = css.status, css.headers.get_content_type()
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=30)
    assert status == 202 and stylesheet == (200, "text/css")
    [entry] = [json.loads(line) for line in (outbox / "log.jsonl").read_text().splitlines()]
    assert entry["kind"] == "confirmation"
    assert "Ada" in (outbox / str(entry["file"])).read_text()
    assert "Traceback" not in errors


def _listening(process: subprocess.Popen[str]) -> str:
    """The base URL `serve` prints once it listens."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("listening on "):
            return line.split()[2]
    raise AssertionError(f"serve stopped: {process.stderr.read() if process.stderr else ''}")


def _build_lambda() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_lambda",
                                                  ROOT / "scripts" / "build_lambda.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lambda_artifact_finds_its_templates_where_the_sam_template_says(
        tmp_path: Path) -> None:
    """The artifact keeps templates/ beside the package (no kit files) and the function's
    TEMPLATES_DIR names them: the renderer and the console's static files find them there,
    and without it the error says what is missing."""
    from webinar_notify.local.infra import load_template

    artifact = tmp_path / "task"
    _build_lambda().copy_code(artifact)
    assert not (artifact / "webinar_notify" / kit.PACKAGED_DIR).exists()
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    templates = Path(variables["TEMPLATES_DIR"].replace("/var/task", str(artifact)))
    program = """
import os
from webinar_notify import kit
from webinar_notify.bootstrap import find_templates
print(find_templates(), (find_templates() / "console/static/console.css").is_file())
del os.environ["TEMPLATES_DIR"]
try:
    find_templates()
except kit.KitMissing as error:
    print(error)
"""
    env = {**os.environ, "PYTHONPATH": str(artifact), "TEMPLATES_DIR": str(templates)}
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found, missing = done.stdout.splitlines()
    assert found == f"{artifact / 'templates'} True"
    assert "reinstall webinar-notify" in missing  # without TEMPLATES_DIR: a clear error
