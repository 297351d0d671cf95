"""The certificate PDF: it parses (pypdf), holds the name exactly as typed in Latin with
diacritics, Vietnamese, Japanese, Chinese and Korean, with every character in an embedded font
(no empty boxes), and the series, sessions, credits, organisers, id and verification URL."""

from __future__ import annotations

import io
import re
import time
import unicodedata
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import ContentStream

from conftest import SERIES_FILE
from webinar_notify.adapters.certificate_fonts import (
    CJK_FONT,
    LATIN_FONT,
    SHAPED_FONTS,
    _cmap,
    missing_scripts,
    uncovered,
)
from webinar_notify.adapters.certificate_pdf import (
    CertificateLayoutError,
    MissingGlyphsError,
    certificate_pdf,
    fonts_bytes,
)
from webinar_notify.core.attendance import Interval, presence
from webinar_notify.core.certificates import Certificate, assess, issue, rules_from_mapping
from webinar_notify.series_files import load_series_file

SERIES = load_series_file(SERIES_FILE)
SESSIONS = tuple(s for s in SERIES.sessions if s.id.startswith("s"))
RULES = rules_from_mapping({"series": {"sessions": "all", "evaluation": "required"},
                            "sessions": "all"}, [s.id for s in SESSIONS])


def certificate(name: str, scope: str = "series") -> Certificate:
    attendance = {s.id: presence([Interval(s.start, s.end)], s.start, s.end) for s in SESSIONS}
    earned = next(a for a in assess(RULES, SESSIONS, attendance, {"series"})
                  if a.scope == scope)
    return issue(earned, secret="test-certificate-secret", series_id=SERIES.id,
                 series_title=SERIES.title, registrant_id="r" + "0" * 31, name=name,
                 rules=RULES, organisers=[o.name for o in SERIES.organisers],
                 issued_on=date(2024, 5, 30),
                 verify_base_url="https://events.example.org/certificates")


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)  # A4 landscape
    return reader.pages[0].extract_text()


def drawn_with_outlines(pdf: bytes) -> set[str]:
    """The characters the PDF draws with a real glyph: for each embedded font, its ToUnicode
    map (code -> character), its CIDToGIDMap (code -> glyph) and the embedded font file; a
    character counts when its glyph is not .notdef and has an outline (no empty box)."""
    drawn: set[str] = set()
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    for ref in fonts.values():
        font = ref.get_object()
        cmap = font["/ToUnicode"].get_object().get_data().decode()
        codes = {int(code, 16): chr(int(uni, 16)) for code, uni in
                 re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4,8})>", cmap)}
        cid = font["/DescendantFonts"][0].get_object()
        gids = cid["/CIDToGIDMap"].get_object().get_data()
        file = TTFont(io.BytesIO(cid["/FontDescriptor"]["/FontFile2"].get_object().get_data()))
        order, glyf = file.getGlyphOrder(), file["glyf"]
        for code, char in codes.items():
            gid = int.from_bytes(gids[2 * code:2 * code + 2], "big")
            if gid and glyf[order[gid]].numberOfContours != 0:
                drawn.add(char)
    return drawn


@pytest.mark.parametrize("name", [
    "Heidi Rønde-Łukasiewicz Çelik Ørsted Dvořák",  # Latin with diacritics
    "Nguyễn Thị Minh Khai",  # Vietnamese
    "山田 花子",  # Japanese
    "王小明",  # Chinese
    "김민준",  # Korean
    "José Ángel 山田",  # mixed scripts in one name
])
def test_the_name_reads_back_exactly_as_typed(name: str) -> None:
    cert = certificate(name)
    pdf = certificate_pdf(cert)
    text = text_of(pdf)
    assert name in text
    assert not uncovered(name)  # every character is in an embedded font ...
    assert set(name) - {" "} <= drawn_with_outlines(pdf)  # ... and drawn with an outline
    assert cert.certificate_id in text
    assert cert.verification_url in text.replace("\n", "")
    assert SERIES.title in text.replace("\n", " ")
    assert "Total: 8.5 h, 8.5 ECMEC" in text
    assert "Ane Appelt" in text and "Heidi Rønde" in text
    for session in SESSIONS:
        assert session.title[:25] in text.replace("\n", " ")


def test_a_name_typed_with_combining_accents_is_drawn_composed() -> None:
    typed = unicodedata.normalize("NFD", "Nguyễn Thị Minh Khai")
    assert typed != "Nguyễn Thị Minh Khai"
    text = text_of(certificate_pdf(certificate(typed)))
    assert unicodedata.normalize("NFC", typed) in text


def test_sessions_carry_their_dates_and_hours_in_the_language_asked() -> None:
    lines = text_of(certificate_pdf(certificate("Ana Lima"), language="fr")).split("\n")
    assert lines[6].startswith("26 oct. 2023 Reirradiation Challenges")  # s1, in French
    assert lines[6].endswith(" 1")
    assert lines[10].startswith("5 févr. 2024 Dose Constraints")  # s5 lasted 90 minutes
    assert lines[10].endswith(" 1.5")
    assert "Issued on 30 mai 2024" in lines


def test_a_session_certificate_lists_one_session() -> None:
    text = text_of(certificate_pdf(certificate("Ana Lima", scope="session:s5")))
    assert "attended the live webinar\n" in text
    assert "Total: 1.5 h, 1.5 ECMEC" in text
    assert SESSIONS[0].title[:25] not in text.replace("\n", " ")


def test_a_character_no_font_has_is_refused_by_code_point_not_shown() -> None:
    with pytest.raises(MissingGlyphsError, match=r"U\+1F600") as caught:
        certificate_pdf(certificate("Ana \U0001F600"))
    assert "Ana" not in str(caught.value)


def test_the_same_certificate_makes_the_same_file() -> None:
    cert = certificate("Nguyễn Thị Minh Khai")
    assert certificate_pdf(cert) == certificate_pdf(cert)
    assert certificate_pdf(cert) != certificate_pdf(replace(cert, name="Nguyễn Thị Minh"))


def test_the_fonts_cover_the_scripts_the_docs_name() -> None:
    latin, cjk = _cmap(LATIN_FONT[""]), _cmap(CJK_FONT)
    assert set(range(0x20, 0x7F)) | set(range(0xA0, 0x250)) <= latin  # Latin-1, Extended A/B
    assert set(range(0x1EA0, 0x1EFA)) <= latin  # Vietnamese precomposed letters
    greek = set(range(0x391, 0x3CA)) - {0x3A2}  # 0x3A2 is unassigned
    assert greek | set(range(0x410, 0x450)) <= latin  # Greek, Cyrillic
    assert set(range(0x3041, 0x3097)) | set(range(0x30A1, 0x30FB)) <= cjk  # kana
    assert set(range(0xAC00, 0xD7A4)) <= cjk  # every Hangul syllable
    ideographs = set(range(0x4E00, 0xA000))
    assert ideographs - cjk == set(range(0x9FF0, 0xA000))  # all but the 16 newest (2020+)
    arabic, hebrew = _cmap(SHAPED_FONTS["arabic"]), _cmap(SHAPED_FONTS["hebrew"])
    assert set(range(0x621, 0x64B)) <= arabic and set(range(0x5D0, 0x5EB)) <= hebrew
    sizes = fonts_bytes()
    assert set(sizes) == {"NotoSans-Regular.ttf", "NotoSans-Bold.ttf",
                          "NotoSansCJKjp-Regular.ttf", "NotoSansArabic-Bold.ttf",
                          "NotoSansHebrew-Bold.ttf"}
    assert sum(sizes.values()) < 10_000_000


def lines_with_heights(pdf: bytes) -> list[tuple[str, float]]:
    """Each text run the page draws and its height from the bottom (PDF points)."""
    found: list[tuple[str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text.strip():
            found.append((text.strip(), tm[5] * cm[3] + cm[5]))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


def long_certificate(name: str, sessions: int) -> Certificate:
    base = certificate("Ana Lima")
    one = base.sessions[0]
    many = tuple(replace(one, id=f"x{i}", title=f"{one.title} — part {i + 1}",
                         start=one.start + timedelta(days=i)) for i in range(sessions))
    return replace(base, name=name, sessions=many)


def test_a_long_name_stays_on_one_line_and_twelve_sessions_stay_above_the_footer() -> None:
    name = ("Maria da Conceição Guilhermina Albuquerque de Vasconcelos e Sá-Nogueira "
            "Pinto Bettencourt")
    pdf = certificate_pdf(long_certificate(name, 12))
    assert name in text_of(pdf).split("\n")  # one line: no break inside the name
    drawn = lines_with_heights(pdf)
    footer = min(y for text, y in drawn if text.startswith("Issued on"))
    content = [(text, y) for text, y in drawn
               if not text.startswith(("Issued on", "Certificate ID", "Verify at"))]
    assert sum(1 for text, _ in content if "part " in text) == 12
    lowest = min(y for _, y in content)
    assert lowest - footer >= 10  # points: the table's last row ends above the footer


def test_a_name_too_long_for_one_line_or_too_many_sessions_are_refused() -> None:
    with pytest.raises(CertificateLayoutError, match="name is too long"):
        certificate_pdf(certificate("Ana " * 120))
    with pytest.raises(CertificateLayoutError, match="60 sessions"):
        certificate_pdf(long_certificate("Ana Lima", 60))


def test_ten_credits_print_as_10() -> None:
    cert = replace(certificate("Ana Lima"), hours=Decimal(10), credits=Decimal("1E+1"))
    assert "Total: 10 h, 10 ECMEC" in text_of(certificate_pdf(cert))


def test_on_presence_each_row_shows_the_time_present_and_adds_up() -> None:
    rules = rules_from_mapping({"series": {"sessions": ["s1", "s5"]},
                                "credit_basis": "presence"}, [s.id for s in SESSIONS])
    attendance = {s.id: presence([Interval(s.start, s.start + s.duration * 0.9)], s.start,
                                 s.end) for s in SESSIONS}
    earned = assess(rules, SESSIONS, attendance, set())[-1]
    cert = issue(earned, secret="test-certificate-secret", series_id=SERIES.id,
                 series_title=SERIES.title, registrant_id="r" + "0" * 31, name="Ana Lima",
                 rules=rules, organisers=[], issued_on=date(2024, 5, 30),
                 verify_base_url="https://events.example.org/certificates")
    text = text_of(certificate_pdf(cert))
    assert "Present" in text and " 0:54" in text and " 1:21" in text  # 54 + 81 = 135 min
    assert "Total: 2.25 h, 2 ECMEC" in text


@pytest.mark.parametrize(("name", "scripts"), [
    ("محمد العتيبي", ()), ("שרה לוי", ()), ("สมชาย", ("Thai",)),
    ("अनीता", ("Devanagari",)), ("Ana 🎓", ("Symbols",)), ("ลี כהן", ("Thai",)),
    ("Nguyễn Thị Thu Hà", ()), ("山田 花子", ()), ("Ελένη", ()), ("Ольга", ())])
def test_the_scripts_the_fonts_lack_are_named_never_the_characters(
        name: str, scripts: tuple[str, ...]) -> None:
    assert missing_scripts(name, name=True) == scripts
    if name[0] in "مש":  # Arabic and Hebrew only in the name (the shaped fonts are bold)
        assert missing_scripts(name) == (("Arabic",) if name[0] == "م" else ("Hebrew",))


def drawn_in_order(pdf: bytes, family: str) -> tuple[str, dict[str, set[int]]]:
    """The characters drawn with the embedded font whose name has ``family``, in the order
    of the page's content stream (left to right on the line), and the glyph codes used for
    each character (more than one: contextual forms, as joined letters need)."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    maps: dict[str, tuple[str, dict[int, str]]] = {}
    for key, ref in page["/Resources"]["/Font"].items():
        font = ref.get_object()
        cmap = font["/ToUnicode"].get_object().get_data().decode()
        maps[key] = (str(font["/BaseFont"]), {
            int(code, 16): chr(int(uni, 16))
            for code, uni in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4,8})>", cmap)})
    current: tuple[str, dict[int, str]] = ("", {})
    order: list[str] = []
    forms: dict[str, set[int]] = {}
    for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
        if operator == b"Tf":
            current = maps[operands[0]]
        elif operator == b"Tj" and family in current[0]:
            data = operands[0].original_bytes
            for at in range(0, len(data), 2):
                code = int.from_bytes(data[at:at + 2], "big")
                order.append(current[1][code])
                forms.setdefault(current[1][code], set()).add(code)
    return "".join(order), forms


@pytest.mark.parametrize(("name", "family"), [
    ("محمد العتيبي", "Arabic"), ("عبد الرحمن بن محمد", "Arabic"), ("שרה לוי", "Hebrew")])
def test_an_arabic_or_hebrew_name_is_drawn_right_to_left_and_joined(name: str,
                                                                     family: str) -> None:
    cert = certificate(name)
    pdf = certificate_pdf(cert)
    text = text_of(pdf)
    assert name in text  # reads back in reading order, as typed
    assert set(name) - {" "} <= drawn_with_outlines(pdf)
    drawn, forms = drawn_in_order(pdf, family)
    assert drawn == name[::-1]  # laid out right to left: the last letter leftmost
    if family == "Arabic":  # joined: meem begins "محمد" and sits inside it, two shapes
        assert len(forms["م"]) == 2
    assert cert.certificate_id in text and "Total: 8.5 h, 8.5 ECMEC" in text


def test_threads_draw_one_certificate_at_a_time_and_each_gets_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender's pool draws certificates one after another (each document parses its fonts
    anew: side by side, 38 threads with CJK names needed almost 1 GB), and each thread still
    gets the PDF of its own certificate."""
    from concurrent.futures import ThreadPoolExecutor

    from webinar_notify.adapters import certificate_pdf as module

    drawing, most = 0, 0
    real_document, real_close = module._document, module._close_fonts

    def document(*args: object) -> object:
        nonlocal drawing, most
        drawing += 1
        most = max(most, drawing)
        time.sleep(0.01)  # room for another thread to start one, were it allowed to
        return real_document(*args)  # type: ignore[arg-type]

    def close(pdf: object) -> None:
        nonlocal drawing
        real_close(pdf)  # type: ignore[arg-type]
        drawing -= 1

    monkeypatch.setattr(module, "_document", document)
    monkeypatch.setattr(module, "_close_fonts", close)
    names = ["Ana Souza", "山田 太郎", "Jürgen Groß", "Zoë Lefèvre"]
    with ThreadPoolExecutor(max_workers=4) as threads:
        pdfs = list(threads.map(lambda name: certificate_pdf(certificate(name)), names))
    assert most == 1
    assert drawing == 0
    for name, pdf in zip(names, pdfs, strict=True):
        assert name.replace(" ", "") in text_of(pdf).replace(" ", "")
