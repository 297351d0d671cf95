"""Every kind of email read as a registrant reads it: words glued at template joins, Markdown
left in the plain text, contrast, fonts, buttons, preheaders and narrow screens.

Each kind is composed from the shipped series and the real templates (``every_kind``), so a
template edit that glues two sentences or drops a font fails here, whichever kind it touches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from webinar_notify.core.announcements import parse_announcement, translations_from_doc
from webinar_notify.core.branding import contrast
from webinar_notify.core.compose import Links, compose
from webinar_notify.core.follow_ups import follow_up_announcements
from webinar_notify.core.jobs import EmailJob, EmailKind, delivery_key
from webinar_notify.core.kinds import (
    CancellationPayload,
    CertificateFile,
    CertificatePayload,
    ConfirmationPayload,
    DeclinedPayload,
    Payload,
    PendingPayload,
    UpdatePayload,
    WaitlistedPayload,
)
from webinar_notify.core.mime import Email
from webinar_notify.core.plain_text import markdown_to_text
from webinar_notify.core.registration import Registrant
from webinar_notify.core.render import Renderer
from webinar_notify.core.series import Series
from webinar_notify.core.series_document import parse_series
from webinar_notify.core.text import registrant_id

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2023, 10, 25, 20, 20, tzinfo=UTC)  # s1 starts 2023-10-26 13:00 UTC
LINKS = Links(manage="https://webinars.example/manage/reirradiation-2023/tok",
              unsubscribe="https://webinars.example/unsubscribe/reirradiation-2023/tok",
              calendar="https://webinars.example/calendar/reirradiation-2023/tok.ics",
              opt_in="https://webinars.example/opt-in/reirradiation-2023/tok")
ANNOUNCEMENT = """# Doors open ten minutes early

Dear colleagues, **please join early**: the _first_ session has a Q&A.
Questions in advance to <questions@estro.example> or [the form](https://forms.example/q).

- Reading list: <https://estro.example/reading>
- Slides of the last session: [PDF](https://estro.example/s.pdf)
"""


DROPPED = CancellationPayload(dropped_by_self=True)
BRAND: dict[str, Any] = {
    "logo": {"url": "https://brand.example/logo.png", "alt": "Oncology Society"},
    "accent": "#7a1f5c", "footer": "Oncology Society, the organiser of this series.",
    "postal_address": "Rue de l'Exemple 1, 1000 Brussels, Belgium"}


@cache
def series(branded: bool = False) -> Series:
    with (ROOT / "series" / "reirradiation-2023.yaml").open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    return parse_series(document | {"brand": BRAND} if branded else document)


@cache
def renderer() -> Renderer:
    return Renderer(ROOT / "templates")


def job(kind: EmailKind, sessions: tuple[str, ...], zone: str = "America/Toronto",
        name: str = "Marie Tremblay", join_url: str | None = None,
        payload: Payload | None = None, language: str = "") -> EmailJob:
    s = series()
    rid = registrant_id("test-key", s.id, "marie@example.org")
    return EmailJob(kind=kind, series_id=s.id, series_revision=s.revision, registrant_id=rid,
                    recipient=Registrant(email="marie@example.org", full_name=name,
                                         time_zone=zone, join_url=join_url,
                                         language=language),
                    session_ids=sessions, key=delivery_key(kind, s.id, rid, *sessions),
                    also=("s1", "s2", "s3"), payload=payload)


def announcement_email(body: str, subject: str = "Doors open early",
                       branded: bool = False,
                       translations: tuple[tuple[str, str, str], ...] = (),
                       language: str = "") -> Email:
    s = series(branded)
    announcement = replace(parse_announcement({
        "id": "doors", "subject": subject, "body_markdown": body, "audience": {"all": True}},
        s, NOW), translations=translations)
    return compose(s, job("announcement", (), language=language), now=NOW,
                   renderer=renderer(), links=LINKS, announcement=announcement)


def follow_up_emails(branded: bool = False, language: str = "") -> dict[str, Email]:
    s = series(branded)
    s1 = s.session("s1")
    assert s1 is not None
    docs = follow_up_announcements(s1, {
        "split": True, "recording_url": "https://video.example/rec/s1",
        "slides_url": "https://estro.example/slides/s1.pdf",
        "survey_url": "https://survey.example/s1"}, renderer(), note="")  # our own words
    return {doc["id"]: announcement_email(doc["body_markdown"], doc["subject"], branded,
                                          translations_from_doc(doc["translations"]), language)
            for doc in docs}


@cache
def every_kind(branded: bool = False, language: str = "") -> dict[str, Email]:
    """One email of every kind, composed as the sender composes them (with BRAND if branded),
    to a registrant who answered ``language`` (none: the series' own)."""
    s = series(branded)
    s1 = s.session("s1")
    assert s1 is not None

    def made(kind_job: EmailJob, the_series: Series = s) -> Email:
        kind_job = replace(kind_job, recipient=replace(kind_job.recipient, language=language))
        return compose(the_series, kind_job, now=NOW, renderer=renderer(), links=LINKS)

    moved = replace(s, sessions=tuple(
        replace(x, start=x.start + timedelta(hours=1), sequence=1) if x.id == "s1" else x
        for x in s.sessions))
    cancelled = replace(s, sessions=tuple(
        replace(x, status="cancelled") if x.id == "s2" else x for x in s.sessions))
    return {
        "confirmation": made(job("confirmation", ("s1", "s2", "s3"))),
        "confirmation-one": made(job("confirmation", ("s1",), zone="America/Sao_Paulo",
                                     join_url="https://zoom.example/j/1")),
        "opt-in": made(job("confirmation", ("s1",),
                                payload=ConfirmationPayload(opt_in_needed=True))),
        "reminder": made(job("reminder", ("s1",), join_url="https://zoom.example/j/1")),
        "reminder-no-link": made(job("reminder", ("s1",))),
        "update": made(job("update", ("s1",), payload=UpdatePayload(
            previous_start=s1.start, previous_end=s1.end)), moved),
        "new-session": made(job("update", ("s1",),
                                   payload=UpdatePayload("new_session"))),
        "details": made(job("update", ("s1",))),
        "cancellation": made(job("cancellation", ("s2",)), cancelled),
        "dropped": made(job("cancellation", ("s2",), payload=DROPPED)),
        "dropped-several": made(job("cancellation", ("s2", "s3"), payload=DROPPED)),
        "announcement": announcement_email(ANNOUNCEMENT, branded=branded, language=language),
        **follow_up_emails(branded, language),
        "waitlisted": made(job("waitlisted", ("s1",), payload=WaitlistedPayload((("s1", 2),)))),
        "waitlisted-several": made(job("waitlisted", ("s1", "s2"), payload=WaitlistedPayload(
            (("s1", 1), ("s2", 12))))),
        "pending": made(job("pending", ("s1", "s2"), payload=PendingPayload())),
        "declined": made(job("declined", (), payload=DeclinedPayload(
            "The course is for ESTRO members.\nPlease join first."))),
        "certificate": certificate_email(s, language),
    }


def certificate_email(s: Series, language: str) -> Email:
    """A series certificate's email, its PDF as the sender would attach it (bytes only)."""
    from decimal import Decimal

    from webinar_notify.core.certificates import Certificate, CertifiedSession

    sessions = tuple(CertifiedSession(x.id, x.title, x.start, x.end - x.start, 60)
                     for x in s.sessions[:2])
    made = job("certificate", (), payload=CertificatePayload("series"), language=language)
    certificate = Certificate("JALM-RKKL-DH6S-BA5K", s.id, made.registrant_id, "series",
                              "Marie Tremblay", s.title, sessions, Decimal("2.5"),
                              Decimal("2.5"), "ECMEC", ("Ane Appelt",), NOW.date(),
                              "https://events.example.org/verify/JALM-RKKL-DH6S-BA5K")
    return compose(s, made, now=NOW, renderer=renderer(), links=LINKS,
                   certificate=CertificateFile(certificate, b"%PDF-1.7 test"))


KINDS = sorted(every_kind.__wrapped__())


@dataclass
class Node:
    tag: str
    style: dict[str, str]
    attrs: dict[str, str]
    parent: Node | None
    texts: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """The elements of an email's HTML with their inline styles, and its text per element."""

    BLOCKS = frozenset({"p", "div", "td", "tr", "li", "h1", "h2", "h3", "br", "table", "ul",
                        "ol", "title", "blockquote"})
    VOID = frozenset({"br", "meta", "img", "hr", "input", "link"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {}, {}, None)
        self.current = self.root
        self.nodes: list[Node] = []
        self.flow: list[str] = []  # visible text, with a line break at every block edge
        self.in_head = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        style = {k.strip().lower(): v.strip() for k, _, v in
                 (part.partition(":") for part in values.get("style", "").split(";")) if v}
        node = Node(tag, style, values, self.current)
        self.nodes.append(node)
        self.in_head = self.in_head or tag == "head"
        if tag in self.BLOCKS:
            self.flow.append("\n")
        if tag not in self.VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        self.in_head = self.in_head and tag != "head"
        if tag in self.BLOCKS:
            self.flow.append("\n")
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        if data.strip() and not self.in_head and self.current.tag not in ("style", "title"):
            self.current.texts.append(data)
            if not hidden(self.current):
                self.flow.append(data)


def ancestry(node: Node) -> list[Node]:
    chain: list[Node] = []
    current: Node | None = node
    while current is not None:
        chain.append(current)
        current = current.parent
    return chain


def hidden(node: Node) -> bool:
    return any(n.style.get("display") == "none" for n in ancestry(node))


def inherited(node: Node, prop: str) -> str | None:
    for n in ancestry(node):
        value = own_style(n, prop)
        if value:
            return value
    return None


def own_style(n: Node, prop: str) -> str | None:
    """A property as the element's own inline style (or bgcolor) sets it."""
    if prop == "background":
        return n.style.get("background") or n.style.get("background-color") \
            or n.attrs.get("bgcolor")
    return n.style.get(prop)


@cache
def organisers_words() -> frozenset[str]:
    """Words as the series file spells them ("McGill"): shown as written, not template joins."""
    return frozenset(re.findall(r"\w+", (ROOT / "series" / "reirradiation-2023.yaml")
                                .read_text(encoding="utf-8")))


def glued(text: str) -> list[str]:
    """Places where a sentence or word runs into the next one with no space ("attached.Add",
    "bulletPlease"), outside URLs, addresses and the organisers' own words."""
    prose = re.sub(r"\S+@\S+|https?://\S+|webcal://\S+", " ", text)
    return [m.group(0) for m in re.finditer(r"\w*[a-z.,;:!?)][A-Z]\w*", prose)
            if m.group(0) not in organisers_words()]


# --- the defects of issue 12, one test each ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_no_words_are_glued_at_template_joins(kind: str) -> None:
    email = every_kind()[kind]
    assert glued(email.text) == [], "plain text"
    assert glued("".join(Page(email.html or "").flow)) == [], "HTML"


@pytest.mark.parametrize("kind", KINDS)
def test_the_plain_text_has_no_markdown_markers(kind: str) -> None:
    text = every_kind()[kind].text
    markers = re.findall(r"\*\*|__|<https?:|<mailto:|\]\(|^#+ |^\s*[*+] ", text, re.MULTILINE)
    assert markers == []


def test_the_follow_up_survey_is_its_own_paragraph_not_part_of_the_last_bullet() -> None:
    md = MarkdownIt("js-default")
    s1 = series().session("s1")
    assert s1 is not None
    [doc] = follow_up_announcements(s1, {"recording_url": "https://video.example/rec/s1",
                                         "slides_url": "https://estro.example/s.pdf",
                                         "survey_url": "https://survey.example/s1"}, renderer())
    tokens = md.parse(doc["body_markdown"])
    inside_list = False
    for token in tokens:
        inside_list = token.type != "bullet_list_close" and (
            inside_list or token.type == "bullet_list_open")
        if token.type == "inline" and "Please tell us" in token.content:
            assert not inside_list
    text = markdown_to_text(doc["body_markdown"])
    assert "\n\nPlease tell us how it went, in two minutes: https://survey.example/s1\n" in text
    assert "- Download the slides: https://estro.example/s.pdf\n" in text


def test_the_absent_follow_up_offers_no_survey() -> None:
    absent = every_kind()["follow-up-s1-absent"]
    assert "survey" not in absent.text and "survey" not in (absent.html or "")
    assert "- Watch the recording: https://video.example/rec/s1" in absent.text


def test_the_announcement_footer_says_what_its_link_stops() -> None:
    email = every_kind()["announcement"]
    assert "scope=announcements" in email.text and "scope=all" not in email.text
    assert "reminders continue" in email.text
    assert "Stop announcements and reminders" not in email.text + (email.html or "")
    reminder = every_kind()["reminder"]
    assert "scope=all" in reminder.text and "Stop reminders and announcements" in reminder.text


@pytest.mark.parametrize("kind", ["confirmation-one", "opt-in"])
def test_confirmations_send_people_to_the_manage_page_not_to_reply(kind: str) -> None:
    email = every_kind()[kind]
    for body in (email.text, " ".join(Page(email.html or "").flow)):
        flat = " ".join(body.split())
        assert not re.search(r"(change|cancel)[^.]*reply|reply[^.]*(change|cancel)", flat, re.I)
        assert "add or drop one, or cancel" in flat
        assert "Add it once and your calendar follows" in flat
    assert LINKS.manage in email.text and f'href="{LINKS.manage}"' in (email.html or "")


def test_the_plain_text_announcement_reads_as_text() -> None:
    text = every_kind()["announcement"].text
    assert "Doors open ten minutes early\n=====" in text
    assert "please join early: the first session" in text
    assert "questions@estro.example or the form (https://forms.example/q)" in " ".join(
        text.split())
    assert "- Reading list: https://estro.example/reading\n" in text
    assert "- Slides of the last session: PDF (https://estro.example/s.pdf)\n" in text


def test_plain_text_keeps_long_urls_whole_and_numbers_ordered_lists() -> None:
    url = "https://example.org/" + "a" * 90
    text = markdown_to_text(f"Start here: {url} and go on.\n\n3. three\n4. four\n\n> quoted\n")
    assert url in text.split()
    assert "3. three\n4. four" in text and "> quoted" in text


@pytest.mark.parametrize("branded", [False, True], ids=["ours", "branded"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_text_colour_has_at_least_4_5_to_1_contrast(kind: str, branded: bool) -> None:
    """Read from the final HTML, after css-inline wrote the stylesheet and the brand into it."""
    page = Page(every_kind(branded)[kind].html or "")
    checked = 0
    for node in page.nodes:
        if not node.texts or hidden(node):
            continue
        colour = inherited(node, "color") or "#000000"
        background = inherited(node, "background") or "#ffffff"
        assert re.fullmatch(r"#[0-9a-f]{6}", colour) and re.fullmatch(r"#[0-9a-f]{6}", background)
        ratio = contrast(colour, background)
        assert ratio >= 4.5, f"{''.join(node.texts)[:40]!r}: {colour} on {background} {ratio:.2f}"
        checked += 1
    assert checked > 5


def dark_rules(html: str) -> list[tuple[str, dict[str, str]]]:
    """The (selector, declarations) of the email's prefers-color-scheme: dark block, in order
    (type and class selectors only, all !important, as base.html writes them)."""
    block = re.search(r"@media \(prefers-color-scheme: ?dark\)\s*\{(.*?)\}\s*</style>", html,
                      re.DOTALL)
    assert block, "no dark mode"
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", block.group(1)):
        declarations = {k.strip(): v.replace("!important", "").strip()
                        for k, _, v in (d.partition(":") for d in body.split(";")) if v}
        rules += [(selector.strip(), declarations) for selector in selectors.split(",")]
    return rules


def in_dark(node: Node, prop: str, rules: list[tuple[str, dict[str, str]]]) -> str | None:
    """A property as a dark-mode client sees it: the nearest element that sets it, where a
    matching dark rule (!important; a class beats a tag, then the later rule) beats its
    inline style."""
    for n in ancestry(node):
        classes = n.attrs.get("class", "").split()
        matched = [(selector.startswith("."), i, declarations)
                   for i, (selector, declarations) in enumerate(rules)
                   if selector == n.tag
                   or (selector.startswith(".") and selector[1:] in classes)]
        for _specific, _order, declarations in sorted(matched, reverse=True):
            if prop in declarations or (prop == "background"
                                        and "background-color" in declarations):
                return declarations.get(prop) or declarations["background-color"]
        value = own_style(n, prop)
        if value:
            return value
    return None


@pytest.mark.parametrize("branded", [False, True], ids=["ours", "branded"])
@pytest.mark.parametrize("kind", KINDS)
def test_dark_mode_keeps_every_text_colour_at_4_5_to_1(kind: str, branded: bool) -> None:
    html = every_kind(branded)[kind].html or ""
    assert re.search(r'<meta name="color-scheme" content="light dark">', html)
    rules, page = dark_rules(html), Page(html)
    checked = 0
    for node in page.nodes:
        if not node.texts or hidden(node):
            continue
        colour = in_dark(node, "color", rules) or "#000000"
        background = in_dark(node, "background", rules) or "#ffffff"
        ratio = contrast(colour, background)
        assert ratio >= 4.5, f"{''.join(node.texts)[:40]!r}: {colour} on {background} {ratio:.2f}"
        checked += 1
    assert checked > 5
    canvas = next(n for n in page.nodes if n.tag == "body")
    assert in_dark(canvas, "background", rules) == "#121417"  # dark mode is really dark


def test_the_contrast_formula_matches_known_pairs() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("kind", KINDS)
def test_every_table_cell_names_a_font_stack_and_every_table_is_presentation(kind: str) -> None:
    page = Page(every_kind()[kind].html or "")
    cells = [n for n in page.nodes if n.tag == "td"]
    assert cells and all("sans-serif" in n.style.get("font-family", "") for n in cells)
    assert all(n.attrs.get("role") == "presentation" for n in page.nodes if n.tag == "table")


@pytest.mark.parametrize("kind", KINDS)
def test_the_html_declares_language_direction_and_colour_scheme(kind: str) -> None:
    page = Page(every_kind()[kind].html or "")
    [html] = [n for n in page.nodes if n.tag == "html"]
    assert html.attrs.get("lang") == "en" and html.attrs.get("dir") == "ltr"
    assert any(n.tag == "meta" and n.attrs.get("name") == "color-scheme" for n in page.nodes)


def preheader(email: Email) -> str:
    page = Page(email.html or "")
    [node] = [n for n in page.nodes if n.tag == "div" and n.style.get("display") == "none"]
    assert node.parent is not None and node.parent.tag == "body"
    assert node.parent is not None and page.nodes.index(node) == \
        min(page.nodes.index(n) for n in page.nodes if n.parent is node.parent)
    return "".join(node.texts).split("\u2007")[0].strip()


def test_every_kind_has_its_own_preheader_with_the_session_and_its_time() -> None:
    emails = every_kind()
    preheaders = {kind: preheader(email) for kind, email in emails.items()
                  if kind != "reminder-no-link"}  # the same reminder, without a join link
    assert len(set(preheaders.values())) == len(preheaders)
    assert preheaders["reminder"] == ("Reirradiation Challenges & Opportunities: Thu 26 Oct 2023 "
                                      "09:00 EDT (15:00 CEST), starts in 16 hours 40 minutes.")
    assert "Thu 26 Oct 2023 10:00 UTC-3" in preheaders["confirmation-one"]
    assert preheaders["announcement"].startswith("Doors open ten minutes early Dear colleagues,")
    assert preheaders["follow-up-s1-attended"].startswith("Thank you for joining")


def buttons(email: Email) -> dict[str, Node]:
    page = Page(email.html or "")
    found = {}
    for node in page.nodes:
        cell = node.parent
        if node.tag == "a" and cell is not None and cell.tag == "td" and "bgcolor" in cell.attrs:
            assert cell.style.get("background") == cell.attrs["bgcolor"]
            assert node.style.get("display") == "inline-block" and "padding" in node.style
            found["".join(node.texts).strip()] = node
    return found


def test_join_calendar_and_manage_are_bulletproof_buttons() -> None:
    confirmation = buttons(every_kind()["confirmation-one"])
    assert {"Join the webinar", "Add the feed to your calendar",
            "Manage your registration"} <= set(confirmation)
    assert confirmation["Join the webinar"].attrs["href"] == "https://zoom.example/j/1"
    assert "Join the webinar" in buttons(every_kind()["reminder"])
    assert "Confirm my registration" in buttons(every_kind()["opt-in"])
    for kind in KINDS:
        assert "Manage your registration" in buttons(every_kind()[kind]), kind


@pytest.mark.parametrize("kind", KINDS)
def test_narrow_screens_get_less_padding_and_dates_stay_on_one_line(kind: str) -> None:
    html = every_kind()[kind].html or ""
    assert re.search(r"@media \(max-width: ?480px\)\s*\{.*?\.wn-pad\s*\{\s*padding-left: ?16px",
                     html, re.DOTALL)
    page = Page(html)
    pads = [n for n in page.nodes if "wn-pad" in n.attrs.get("class", "")]
    assert pads and all(re.search(r"\b(20|16)px\b", n.style["padding"]) for n in pads)
    dates = [n for n in page.nodes if re.search(r"\b\d{4} \d\d:\d\d\b", "".join(n.texts))]
    for node in dates:
        assert any(n.style.get("white-space") == "nowrap" for n in ancestry(node)) \
            or hidden(node), "".join(node.texts)


# --- relative times and calendar stamps ----------------------------------------------------


def test_a_session_16_hours_40_minutes_away_is_never_said_to_be_17_hours_away() -> None:
    text = every_kind()["confirmation-one"].text
    assert "(starts in 16 hours 40 minutes)" in text and "17 hours" not in text
    # the moment first, then how far off it was when written
    assert every_kind()["reminder"].subject == (
        "Reminder: Reirradiation Challenges & Opportunities, Thu 26 Oct 2023 09:00 EDT "
        "(in 16 hours 40 minutes)")


def test_the_calendar_entry_is_stamped_when_the_email_is_composed() -> None:
    email = every_kind()["confirmation"]
    stamps = {line for part in email.calendars
              for line in part.content.decode().split("\r\n") if line.startswith("DTSTAMP")}
    assert stamps == {"DTSTAMP:20231025T202000Z"}
    later = compose(series(), job("confirmation", ("s1",)), now=NOW + timedelta(minutes=5),
                    renderer=renderer(), links=LINKS)
    assert b"DTSTAMP:20231025T202500Z\r\n" in later.calendars[0].content


def test_sending_twice_does_not_cache_an_old_stamp() -> None:
    first = compose(series(), job("reminder", ("s2",)), now=NOW, renderer=renderer(),
                    links=LINKS)
    second = compose(series(), job("reminder", ("s2",)), now=NOW + timedelta(hours=1),
                     renderer=renderer(), links=LINKS)
    assert first.attachments[0].data != second.attachments[0].data
    assert b"DTSTAMP:20231025T212000Z" in second.attachments[0].data
