"""The Google Forms Apps Script, run in Node with stand-ins for the Apps Script services: what it
posts is accepted by the intake's own signature check, and its body is what the form said."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from webinar_notify.core.signatures import verify

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "integrations" / "google-forms" / "webinar-notify.gs"
NODE = shutil.which("node")

HARNESS = r"""
const crypto = require('crypto');
const fs = require('fs');
let sent = null;
global.PropertiesService = { getScriptProperties: () => ({ getProperty: () => 'gf-secret' }) };
global.Utilities = {
  Charset: { UTF_8: 'utf8' },
  computeHmacSha256Signature: (value, key) => Array.from(
    crypto.createHmac('sha256', key).update(value, 'utf8').digest())
    .map(b => b > 127 ? b - 256 : b),
};
global.UrlFetchApp = { fetch: (url, options) => {
  sent = { url, options }; return { getResponseCode: () => 202, getContentText: () => '' }; } };
global.console = console;
eval(fs.readFileSync(process.argv[2], 'utf8') + '\nglobal.onFormSubmit = onFormSubmit;');
const item = (title, value) => ({
  getItem: () => ({ getTitle: () => title }), getResponse: () => value });
onFormSubmit({ response: {
  getId: () => '2_ABaOnud8',
  getTimestamp: () => new Date('2023-10-02T09:00:00Z'),
  getRespondentEmail: () => '',
  getItemResponses: () => [
    item('Full name', 'Zoë O\u2019Brien-Łukasik'), item('Email', 'zoe@example.ie'),
    item('Time zone', 'Europe/Dublin'),
    item('Sessions', ['26 Oct 2023: Reirradiation Challenges & Opportunities']),
  ] } });
process.stdout.write(JSON.stringify({ url: sent.url, headers: sent.options.headers,
                                      payload: sent.options.payload }));
"""


@pytest.mark.skipif(NODE is None, reason="needs node to run the Apps Script")
def test_the_apps_script_posts_signed_generic_json(tmp_path: Path) -> None:
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    done = subprocess.run([str(NODE), str(harness), str(SCRIPT)], capture_output=True,
                          text=True, timeout=60, check=True)
    sent = json.loads(done.stdout)
    body = sent["payload"].encode("utf-8")
    header = sent["headers"]["Webinar-Signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert verify(header, body, ["gf-secret"], timestamp) == timestamp
    doc = json.loads(body)
    assert doc["type"] == "registration.created" and doc["id"] == "2_ABaOnud8"
    assert doc["created"] == 1696237200
    assert doc["data"]["registrant"] == {"email": "zoe@example.ie",
                                         "full_name": "Zoë O\u2019Brien-Łukasik",
                                         "time_zone": "Europe/Dublin"}
    assert doc["data"]["sessions"] == ["s1"]
    assert sent["url"].endswith("/webhooks/generic/reirradiation-2023")
