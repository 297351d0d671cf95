"""What is cached between emails never changes an email: every kind, with shared and personal
join links, in several languages and zones, is the same byte for byte whether it is composed
with every cache empty or after many others; and the faster folding, escaping and encoding
write exactly what the slower originals (or icalendar itself) wrote."""

from __future__ import annotations

import base64
import email
import email.policy
import importlib.util
import random
import sys
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from icalendar.parser.string import _foldline
from jinja2 import Environment, nodes
from markupsafe import escape

from webinar_notify.core import calendar, mime
from webinar_notify.core.compose import compose, session_view
from webinar_notify.core.jobs import EmailJob
from webinar_notify.core.registration import Registrant
from webinar_notify.core.render import PERSONAL, Renderer
from webinar_notify.core.text import clean_name

ROOT = Path(__file__).resolve().parents[1]
KEPT = {"translations", "locale", "_markdown"}  # catalogs and parsers, not email caches


def _benchmark() -> ModuleType:
    """benchmarks/emails.py: the emails it measures are the emails checked here."""
    spec = importlib.util.spec_from_file_location("emails_benchmark",
                                                  ROOT / "benchmarks" / "emails.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


BENCH = _benchmark()


def _caches() -> Iterator[Any]:
    """Every functools cache of the email-writing code."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("webinar_notify.core"):
            continue
        for attribute, value in vars(module).items():
            if hasattr(value, "cache_clear") and attribute not in KEPT:
                yield value


def _everything_cold() -> None:
    for cached in _caches():
        cached.cache_clear()


def _emails() -> list[tuple[Any, EmailJob, datetime]]:
    """Five people per case: three who read the same body (same zone, language and minute:
    the first is rendered, the second cut, the third filled in), two others, one with a name
    and link with everything calendars, MIME and HTML escape."""
    series = BENCH.load_series()
    chosen = []
    for case in BENCH.cases(series):
        jobs = BENCH.people(case, 120, 0)
        for index in (0, 56, 112, 5, 8):
            job = jobs[index]
            if index == 8:
                person = job.recipient
                odd = Registrant(person.email, 'Zoë "Z" O\'Brien; Ürün, & <Co> ^ ' + "x" * 40,
                                 person.time_zone,
                                 person.join_url and person.join_url + ",a;b\\c^d&e=ü",
                                 person.language)
                job = EmailJob(job.kind, job.series_id, job.series_revision,
                               job.registrant_id, odd, job.session_ids, job.key, job.also,
                               job.payload)
            chosen.append((case, job, case.start + timedelta(seconds=index // 40)))
    return chosen


def _write(case: Any, job: EmailJob, now: datetime, renderer: Renderer) -> bytes:
    return mime.build(compose(case.series, job, now=now, renderer=renderer,
                              links=BENCH.links_for(job), announcement=case.announcement))


def test_every_kind_is_the_same_with_caches_cold_and_warm() -> None:
    emails = _emails()
    assert {case.kind for case, _job, _now in emails} == {
        "confirmation", "reminder", "update", "cancellation", "announcement"}
    cold = []
    for case, job, now in emails:
        _everything_cold()
        cold.append(_write(case, job, now, Renderer(ROOT / "templates")))
    warm = Renderer(ROOT / "templates")
    for index, (case, job, now) in enumerate(emails):  # fills every cache
        assert _write(case, job, now, warm) == cold[index], (case.label, index)
    for index in reversed(range(len(emails))):  # each after all the others
        case, job, now = emails[index]
        assert _write(case, job, now, warm) == cold[index], (case.label, index)
    direct = Renderer(ROOT / "templates", reuse_bodies=False)
    for index, (case, job, now) in enumerate(emails):  # and as Jinja renders it every time
        assert _write(case, job, now, direct) == cold[index], (case.label, index)
    assert warm._bodies is not None
    assert sum(isinstance(v, tuple) for v in warm._bodies._known.values()) >= 10  # cut bodies
    personal = [_calendar_text(raw) for (case, _job, _now), raw in zip(emails, cold, strict=True)
                if case.personal and case.kind == "reminder"]
    assert any("a\\;b\\\\c^d&e=ü" in text.replace("\r\n ", "") for text in personal)
    assert len(set(personal)) == len(personal)  # no one got another's calendar entry


def _calendar_text(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    (part,) = [p for p in message.walk() if p.get_content_type() == "application/ics"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def test_a_session_view_is_made_once_and_each_reader_gets_a_copy_at_their_moment() -> None:
    series = BENCH.load_series()
    session = series.sessions[2]
    now = datetime(2023, 12, 3, 15, tzinfo=UTC)
    first = session_view(series, session, "Australia/Sydney", None, now, "fr")
    first["place"] = 3  # a waitlist email adds to its own copy
    first["join_url"] = "changed"
    later = session_view(series, session, "Australia/Sydney", "https://zoom.us/w/own", now
                         + timedelta(hours=23), "fr")
    assert "place" not in later and later["join_url"] == "https://zoom.us/w/own"
    assert (first["soon"], later["soon"]) == (True, True)
    assert first["starts_in"] != later["starts_in"]
    again = session_view(series, session, "Australia/Sydney", None, now, "fr")
    assert again["join_url"] == session.join_url and again["starts_in"] == first["starts_in"]
    assert {k: v for k, v in again.items() if k not in ("place", "join_url")} == \
        {k: v for k, v in first.items() if k not in ("place", "join_url")}


def test_every_email_cache_is_bounded() -> None:
    caches = list(_caches())
    assert len(caches) >= 10
    for cached in caches:
        assert cached.cache_info().maxsize is not None, cached


# --- the calendar: cached per session, filled per person, as icalendar writes it ------------

LINK_CHARACTERS = "abcXYZ019-_.~:/?#[]@!$&'()*+,;=%\\^ é漢😀\tN"


def _reference_invite(series: Any, session: Any, email: str, name: str, stamp: datetime,
                      link: str | None, method: calendar.Method, language: str) -> bytes:
    """The whole object written by icalendar with the person's link, then stamped and
    addressed: the uncached way."""
    text = calendar._calendar_text(series.calendar_uid(session.id), series.sender,
                                   series.title, session, link or session.join_url, method,
                                   language)
    text = text.replace("DTSTAMP:20000101T000000Z\r\n", calendar._stamp_line(stamp), 1)
    attendee = calendar._attendee_line(email, name)
    return text.replace("END:VEVENT\r\n", attendee + "END:VEVENT\r\n", 1).encode("utf-8")


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_a_personal_link_is_written_as_icalendar_writes_it(language: str) -> None:
    rng = random.Random(language)  # noqa: S311 (varied inputs, not secrets)
    series = BENCH.load_series()
    for session in series.sessions:
        links = [None, session.join_url, "https://zoom.us/w/1?tk=" + "x" * 300]
        links += ["https://z.us/w/" + "".join(rng.choice(LINK_CHARACTERS)
                                              for _ in range(rng.randint(0, 200)))
                  for _ in range(12)]
        plain = "abcXYZ019-_.~:/?#[]@!$&'()*+=%"  # no character a TEXT value escapes
        links += ["https://z.us/w/" + "".join(rng.choice(plain)
                                              for _ in range(rng.randint(0, 300)))
                  for _ in range(12)]
        for link in links:
            for method in ("REQUEST", "CANCEL"):
                stamp = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 9**9))
                name = rng.choice(["", "Zoë O'Brien", "Łukasz \"W\" ^ Wróbel " * 3])
                part = calendar.session_invite(series, session, "a.b+c%d@example.org", name,
                                               stamp=stamp, join_url=link, method=method,
                                               language=language)
                assert part.content == _reference_invite(
                    series, session, "a.b+c%d@example.org", name, stamp, link, method,
                    language), (session.id, link, method)


def test_a_join_link_with_a_line_break_is_refused_as_before() -> None:
    series = BENCH.load_series()
    with pytest.raises(ValueError, match="CR or LF"):
        calendar.session_invite(series, series.sessions[0], "a@example.org", "A",
                                stamp=datetime(2023, 1, 1, tzinfo=UTC),
                                join_url="https://zoom.us/j/1\r\nATTENDEE:mailto:x@y.z")


def _random_lines(seed: int, count: int) -> Iterator[str]:
    rng = random.Random(seed)  # noqa: S311 (varied inputs, not secrets)
    alphabet = LINK_CHARACTERS.replace("\t", "")
    for _ in range(count):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 320)))


def _old_fold(line: str) -> str:
    """The attendee line's folding as it was: one character at a time."""
    out: list[str] = []
    current, size = "", 0
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += ch
        size += width
    out.append(current)
    return "\r\n".join(out) + "\r\n"


def test_folding_by_slices_matches_folding_by_characters() -> None:
    plain = ["".join(ch for ch in line if ch.isascii() and ch not in "\\^")
             for line in _random_lines(4, 1000)]  # a link nearly always
    escaped_then_plain = [a[:60] + b for a, b in zip(_random_lines(5, 1000), plain, strict=True)]
    for line in [*_random_lines(1, 3000), *plain, *escaped_then_plain]:
        assert calendar.fold(line) == _old_fold(line), line
        cut = len(line) // 3
        done, current, size = calendar._fold_state(line[:cut])
        resumed = "".join(part + "\r\n " for part in done) + \
            calendar._fold_on(current, size, line[cut:])
        assert resumed == _foldline(line) + "\r\n", line


# --- MIME and header text ----------------------------------------------------------------


def _old_encoded_words(text: str) -> str:
    words: list[str] = []
    current = ""
    for ch in text:
        piece = "_" if ch == " " else ch if ch.isascii() and ch.isalnum() else \
            "".join(f"={b:02X}" for b in ch.encode("utf-8"))
        if len(current) + len(piece) > 75 - len("=?utf-8?q??="):
            words.append(current)
            current = ""
        current += piece
    words.append(current)
    return " ".join(f"=?utf-8?q?{w}?=" for w in words)


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 114, 171, 57 * 31, 57 * 32 - 1, 57 * 32,
                                  57 * 32 + 1, 57 * 64 + 56, 5000, 40001])
def test_base64_lines_are_what_the_standard_library_writes(
        size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = random.Random(size).randbytes(size)  # noqa: S311 (test data)
    expected = base64.encodebytes(data).replace(b"\n", b"\r\n")
    assert mime._base64(data) == expected
    monkeypatch.setattr(mime, "_b64encode", base64.b64encode)  # without pybase64
    assert mime._base64(data) == expected


def test_encoded_words_and_cleaned_names_are_unchanged() -> None:
    def old_clean(raw: str) -> str:
        kept = [" " if unicodedata.category(ch)[0] in "CZ" else ch
                for ch in unicodedata.normalize("NFC", raw)]
        return " ".join("".join(kept).split())[:200].strip()

    extra = "\u00a0\u2028\u200b\u202e\r\n\x00 \u3000e\u0301"
    rng = random.Random(3)  # noqa: S311 (varied inputs, not secrets)
    for line in _random_lines(2, 2000):
        assert mime._encoded_words(line) == _old_encoded_words(line), line
        noisy = "".join(ch + rng.choice(extra) if ch == "a" else ch
                        for ch in line)
        assert clean_name(noisy) == old_clean(noisy), noisy


def test_the_series_text_is_wrapped_once_and_as_jinja_wraps_it() -> None:
    renderer = Renderer(ROOT / "templates")
    environment = renderer.for_language("en")
    wrap: Callable[..., str] = environment.filters["wordwrap"]
    text = "Reirradiation is becoming a routine component of care " * 9
    from jinja2.filters import do_wordwrap

    assert wrap(text, 72) == do_wordwrap(environment, text, 72)
    assert wrap(text, 72) is wrap(text, 72)  # the second time from the cache


# --- bodies: rendered once per everything but the reader ------------------------------------


def _templates(folder: Path, text: str, html: str) -> Renderer:
    folder.mkdir()
    (folder / "email.css").write_text("")
    (folder / "base.html").write_text("<html><body>{% block body %}{% endblock %}</body></html>")
    (folder / "note.txt").write_text(text)
    (folder / "note.html").write_text(html)
    return Renderer(folder)


def _note(renderer: Renderer, name: str, manage: str, when: str = "in 1 day") -> tuple[str, str]:
    series = BENCH.load_series()
    context = {"name": name, "links": BENCH.Links(manage=manage, unsubscribe=manage + "/u"),
               "starts": when}
    return renderer.render_pair("note", context, "en", series)


def test_readers_of_the_same_body_get_their_own_values(tmp_path: Path) -> None:
    renderer = _templates(tmp_path / "t", "Dear {{ name }}, {{ starts }}: {{ links.manage }}\n",
                          "<p>{{ name }}</p><a href=\"{{ links.manage }}\">{{ starts }}</a>")
    readers = [("Ada", "https://x.org/m/1?a=1&b=2"), ("Zoë <b>", "https://x.org/m/2"),
               ("", "https://x.org/m/3"), ('"Q" & Co', "https://x.org/m/4?c=3")]
    for name, manage in readers + readers:
        text, html = _note(renderer, name, manage)
        assert text == f"Dear {name}, in 1 day: {manage}\n"
        assert html == f'<p>{escape(name)}</p><a href="{escape(manage)}">in 1 day</a>'
    assert _note(renderer, "Ada", "https://x.org/m/1", "in 2 days")[0] == \
        "Dear Ada, in 2 days: https://x.org/m/1\n"


@pytest.mark.parametrize("text", ["Dear {{ name|upper }}\n", "{{ name[:3] }}\n",
                                  "{{ links.manage|urlencode }}\n", "{{ name|length }}\n"])
def test_a_template_that_changes_a_personal_value_is_rendered_every_time(
        tmp_path: Path, text: str) -> None:
    renderer = _templates(tmp_path / "t", text, "<p>{{ name }}</p>")
    plain = Renderer(tmp_path / "t", reuse_bodies=False)
    for name, manage in [("Ada Lovelace", "https://x.org/m?a=1"), ("Zoë", "https://x.org/n"),
                         ("Bob", "https://x.org/o"), ("Ada Lovelace", "https://x.org/p")]:
        assert _note(renderer, name, manage) == _note(plain, name, manage)


EMAIL_TEMPLATES = sorted(p for p in (ROOT / "templates").glob("*.*")
                         if p.suffix in (".html", ".txt") and p.stem not in
                         ("manage", "unsubscribe", "optin", "erased", "error"))


def _personal_uses(node: nodes.Node, names: frozenset[str],
                   parents: tuple[nodes.Node, ...] = ()) -> Iterator[str]:
    """Each use of a personal value that is not printing it as it is, passing it to a
    translated sentence or the button macro, or testing it for being empty."""
    for child in node.iter_child_nodes():
        reference = (isinstance(child, nodes.Name) and child.name in names - {"links"}) or (
            isinstance(child, nodes.Getattr) and (child.attr in names or (
                isinstance(child.node, nodes.Name) and child.node.name == "links")))
        if not reference:
            yield from _personal_uses(child, names, (*parents, node))
            continue
        grand = parents[-1] if parents else None
        if not (isinstance(node, nodes.Output)
                or (isinstance(node, nodes.If) and node.test is child)
                or (isinstance(node, nodes.Keyword) and isinstance(grand, nodes.Call)
                    and isinstance(grand.node, nodes.Name)
                    and grand.node.name in ("_", "gettext", "ngettext"))
                or (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name)
                    and node.node.name == "button" and child in node.args)):
            yield f"{type(node).__name__} at line {child.lineno}"


def _parsed(source: str) -> nodes.Template:
    return Environment(autoescape=True, extensions=["jinja2.ext.i18n"]).parse(source)


@pytest.mark.parametrize("path", EMAIL_TEMPLATES, ids=lambda p: p.name)
def test_our_templates_use_personal_values_only_as_they_are(path: Path) -> None:
    """What lets a body be rendered once for many readers (core/render.py, ``PERSONAL``): a
    personal value is printed as it is (escaped in HTML), passed to a sentence or a button,
    or tested for being empty, never changed or compared."""
    tree = _parsed(path.read_text(encoding="utf-8"))
    assert list(_personal_uses(tree, PERSONAL)) == []
    for macro in tree.find_all(nodes.Macro):  # the button prints its link as it is
        if macro.name == "button":
            for statement in macro.body:
                assert list(_personal_uses(statement, frozenset({"url"}))) == []


def test_the_template_check_finds_a_personal_value_changed_or_compared() -> None:
    for source in ("{% if name|length > 3 %}x{% endif %}", "{{ links.manage|upper }}",
                   "{% if '@' in name %}x{% endif %}", "{{ session.join_url[8:] }}",
                   "{{ _('Dear %(n)s', n=name|title) }}"):
        assert list(_personal_uses(_parsed(source), PERSONAL)), source
    assert list(_personal_uses(_parsed("{{ name }}{% if links.calendar %}{{ _('a %(x)s', "
                                       "x=opt_in_url) }}{% endif %}"), PERSONAL)) == []
