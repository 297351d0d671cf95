"""The command line: clear one-line errors for bad input, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from webinar_notify.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webinar_notify.cli", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_series_check_lists_the_sessions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["series", "check", str(ROOT / "series" / "reirradiation-2023.yaml")]) == 0
    out = capsys.readouterr().out
    assert "s5  Mon 05 Feb 2024 15:00 CET     90 min" in out


@pytest.mark.parametrize(("content", "message"), [
    ("id: x\ntitle: T\ntime_zone: Mars/Base\nsender: {email: a@b.example}\nsessions: []\n",
     "time_zone: unknown time zone"),
    ("id: x\ntitle: T\ntime_zone: UTC\nsender: {email: a@b.example}\nsesions: []\n",
     "sesions: unknown field"),
    ("id: x\ntitle: T\ntime_zone: UTC\nsender: {email: a@b.example}\n"
     "sessions: [{id: s1, title: A, start: tomorrow}]\n", "sessions[0].start"),
    ("{{{ not yaml", "not valid YAML"),
])
def test_a_bad_series_file_names_the_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = run("series", "check", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_files_and_bad_scenarios_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "scenario.yaml"
    bad.write_text("series: ../nowhere.yaml\nstart: 2023-10-01T00:00:00Z\n"
                   "until: 2023-10-02T00:00:00Z\n")
    for args in (["simulate", str(tmp_path / "none.yaml"), "--outbox", str(tmp_path / "o")],
                 ["simulate", str(bad), "--outbox", str(tmp_path / "o")],
                 ["sign", "--secret", "x", str(tmp_path / "none.json")]):
        result = run(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_sign_prints_a_header_the_intake_accepts(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify.core.signatures import verify

    body = tmp_path / "body.json"
    body.write_bytes(b'{"id": "e"}')
    assert main(["sign", "--secret", "s3cret", "--timestamp", "1700000000", str(body)]) == 0
    header = capsys.readouterr().out.strip().removeprefix("Webinar-Signature: ")
    assert verify(header, body.read_bytes(), ["s3cret"], 1700000000) == 1700000000


def test_series_push_without_an_api_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from webinar_notify import organiser_cli

    waits: list[float] = []
    # The retries' pauses, without pausing (only this module's view of time changes).
    monkeypatch.setattr(organiser_cli, "time", SimpleNamespace(sleep=waits.append))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    code = main(["series", "push", str(ROOT / "series" / "reirradiation-2023.yaml"),
                 "--api", "http://127.0.0.1:9", "--region", "eu-west-1"])
    err = capsys.readouterr().err
    assert code == 2 and len(waits) == organiser_cli.RETRIES - 1
    assert err.startswith("error: cannot reach http://127.0.0.1:9") and "Traceback" not in err


def test_serve_refuses_an_empty_secret_and_a_taken_port_in_one_line() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = run("serve", "--port", port)
        empty = run("serve", "--port", "0", "--secret", "")
    for result in (busy, empty):
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "in use" in busy.stderr
    assert "must not be empty" in empty.stderr


# Runs the command in this process, then names every module of the rehearsal kit (local/) or
# of moto that it loaded, whatever the command's outcome.
_LOADED_AFTER = """
import sys
from webinar_notify.cli import main
try:
    code = main(sys.argv[1:])
finally:
    print("loaded:", sorted(m for m in sys.modules if m.split(".")[0] == "moto"
                            or m.startswith("webinar_notify.local")))
raise SystemExit(code)
"""


@pytest.mark.parametrize(("args", "status", "says"), [
    (("series", "check", "SERIES"), 0, "s8"),
    (("series", "push", "SERIES", "--api", "https://a1b2c3.execute-api.eu-west-1.amazonaws.com"),
     2, "no AWS credentials"),
    (("session", "cancel", "reirradiation-2023", "s4", "--api",
      "https://a1b2c3.execute-api.eu-west-1.amazonaws.com"), 2, "no AWS credentials"),
    (("organisers", "add", "ana@example.org", "--series", "reirradiation-2023", "--role",
      "viewer", "--api", "http://127.0.0.1:9"), 2, "sign with the key pair"),
    (("announce", "--help"), 0, "--audience"),
])
def test_the_organiser_commands_load_nothing_of_the_rehearsal_kit(
        args: tuple[str, ...], status: int, says: str) -> None:
    """What an organiser runs against the stack never loads local/ or moto: a wheel without
    them, or with them broken, still publishes series and sends announcements."""
    series = str(ROOT / "series" / "reirradiation-2023.yaml")
    env = {"PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/nonexistent",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_AFTER, *(series if a == "SERIES" else a for a in args)],
        capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == status, done.stderr
    assert says in done.stdout + done.stderr
    assert "loaded: []" in done.stdout.splitlines()
    assert "Traceback" not in done.stderr
