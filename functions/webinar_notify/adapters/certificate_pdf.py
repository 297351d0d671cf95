"""A certificate of attendance as a PDF (fpdf2, pure Python), A4 landscape.

The fonts are embedded (subset to the characters used): Noto Sans for Latin with every
diacritic (Vietnamese included), Greek and Cyrillic; Noto Sans CJK JP, as a fallback, for
Japanese kana, Chinese and Japanese ideographs of the CJK Unified Ideographs block and Korean
Hangul; for the name only, Noto Sans Arabic and Hebrew, drawn with text shaping
(docs/certificates.md; adapters/certificate_fonts says which characters each one has).
They ship in ``webinar_notify/fonts/`` (OFL 1.1, licence beside them). The CJK font (9 MB)
is read only when a certificate has a character that the others lack.

The name is drawn as the certificate holds it (core.certificates.clean_name: as typed,
composed, without control characters), on one line: a long name is drawn smaller, down to
NAME_MIN_SIZE, and one that does not fit even then is refused (CertificateLayoutError). A
certificate with many sessions is drawn with smaller rows so that nothing reaches the footer;
one that cannot fit on the page at all is refused the same way. A text with a character no
embedded font has is refused (MissingGlyphsError) rather than printed with an empty box.

With ``credit_basis: presence`` the table shows each session's time present (h:mm), which
adds up to the total; otherwise each session's scheduled hours.

A process draws one certificate at a time, on one thread of its own (``_DRAWER``): fontTools
parses each font anew for every document, about 50 MB for the CJK font, and a thread's freed
memory stays in its own malloc arena, so 38 sender threads drawing side by side needed almost
1 GB (benchmarks/sender_memory.py). Drawing is pure Python and holds the GIL, so threads
drawing side by side were no faster.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

from babel.dates import format_date
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from ..core.certificates import Certificate, decimal_text
from .certificate_fonts import (
    CJK_FONT,
    FONTS,
    LATIN_FONT,
    SHAPED_FONTS,
    shaped_families,
    uncovered,
)

INK = (33, 37, 41)  # near black: 15:1 on white
MUTED = (73, 80, 87)  # 8:1 on white, for labels
ACCENT = (0, 84, 147)  # the title and the border: 7.8:1 on white
RULE = (173, 181, 189)  # the table's lines (not text)
PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 297.0, 210.0, 18.0
FOOTER_TOP = PAGE_HEIGHT - MARGIN - 13.5  # where the footer's first line starts
NAME_SIZE, NAME_MIN_SIZE = 30.0, 9.0  # points: the name on one line, shrunk to fit
# One thread draws every certificate (docstring above): one document's fonts in memory at a
# time, always in that thread's malloc arena, which the next document reuses.
_DRAWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certificate-pdf")

LABELS = {  # English; the wiring passes the registrant's language's catalog entries
    "title": "Certificate of attendance",
    "certifies": "This is to certify that",
    "attended": "attended the live webinar series",
    "attended_session": "attended the live webinar",
    "sessions": "Sessions attended",
    "date": "Date",
    "session": "Session",
    "hours": "Hours",
    "present": "Present",
    "total": "Total: {hours} h, {credits} {label}",
    "organisers": "Organisers",
    "certificate_id": "Certificate ID",
    "verify": "Verify at",
    "issued": "Issued on {date}",
}


@dataclass(frozen=True, slots=True)
class _Layout:
    """Sizes of the table and the space above it; the first that fits the page is used."""

    row_height: float
    table_size: float
    top_space: float  # below the top margin, for a certificate of 8 sessions or more


LAYOUTS = (_Layout(5.5, 9.5, 10.0), _Layout(4.6, 8.5, 4.0), _Layout(3.9, 7.5, 0.0))


class CertificateLayoutError(ValueError):
    """A certificate that cannot be drawn on one page (a name or a table too long)."""


class MissingGlyphsError(ValueError):
    """A text has characters no embedded font can draw (named by code point, never shown)."""

    def __init__(self, code_points: Iterable[str]) -> None:
        self.code_points = tuple(code_points)
        super().__init__("no embedded font has " + ", ".join(self.code_points[:10]))


def _texts(certificate: Certificate, labels: Mapping[str, str]) -> list[str]:
    return [certificate.name, certificate.series_title, certificate.credit_label,
            certificate.certificate_id, certificate.verification_url,
            *(s.title for s in certificate.sessions), *certificate.organisers,
            *labels.values()]


def _number(value: Decimal) -> str:
    """1.50 -> 1.5, 8.00 -> 8, 10 -> 10: a number as people write it."""
    return decimal_text(value)


def _clock(minutes: int) -> str:
    """Minutes as h:mm (54 -> 0:54, 90 -> 1:30)."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def certificate_pdf(certificate: Certificate, language: str = "en",
                    labels: Mapping[str, str] | None = None) -> bytes:
    """The certificate as PDF bytes. Dates are written in ``language`` (Babel), in the
    series' time zone (the sessions' own). MissingGlyphsError when a text cannot be drawn."""
    words = {**LABELS, **(labels or {})}
    name, others = certificate.name, " ".join(_texts(certificate, words)[1:])
    missing = uncovered(name, name=True) + uncovered(others)
    if missing:
        raise MissingGlyphsError(missing)
    needs_cjk = bool(uncovered(name, include_cjk=False, name=True)
                     or uncovered(others, include_cjk=False))
    return _DRAWER.submit(_drawn, certificate, language, words, needs_cjk).result()


def _drawn(certificate: Certificate, language: str, words: Mapping[str, str],
           needs_cjk: bool) -> bytes:
    """The PDF in the first layout its sessions fit (on the drawing thread)."""
    for layout in LAYOUTS:
        pdf = _document(certificate, language, needs_cjk)
        try:
            if _draw(pdf, certificate, language, words, layout):
                return bytes(pdf.output())
        finally:
            _close_fonts(pdf)
    raise CertificateLayoutError(f"{len(certificate.sessions)} sessions do not fit on the "
                                 "certificate's page")


def _close_fonts(pdf: FPDF) -> None:
    """The font files a document opened (fontTools reads them lazily), closed whether the
    document was written or abandoned for a smaller layout."""
    for font in pdf.fonts.values():
        ttfont = getattr(font, "ttfont", None)
        if ttfont is not None:
            ttfont.close()


def _document(certificate: Certificate, language: str, needs_cjk: bool) -> FPDF:
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    for style, path in LATIN_FONT.items():
        pdf.add_font("sans", style, path)
    if needs_cjk:
        pdf.add_font("cjk", "", CJK_FONT)
        pdf.set_fallback_fonts(["cjk"], exact_match=False)
    for family in shaped_families(certificate.name):
        pdf.add_font(family, "B", SHAPED_FONTS[family])
    issued = datetime.combine(certificate.issued_on, time(12), tzinfo=UTC)
    pdf.set_creation_date(issued)  # the same certificate makes the same file
    pdf.set_lang(language)
    pdf.set_title(f"{certificate.series_title} – {certificate.certificate_id}")
    pdf.set_subject(certificate.series_title)
    pdf.set_creator("webinar-notify")
    pdf.add_page()
    return pdf


def _draw(pdf: FPDF, certificate: Certificate, language: str, words: Mapping[str, str],
          layout: _Layout) -> bool:
    """Draws the page; False when the content would reach the footer (nothing is drawn
    over it: the caller tries the next, smaller layout on a new document)."""
    width = PAGE_WIDTH - 2 * MARGIN
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.8)
    pdf.rect(MARGIN / 2, MARGIN / 2, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - MARGIN)
    pdf.set_y(MARGIN + layout.top_space + 3.5 * max(0, 8 - len(certificate.sessions)))
    _line(pdf, words["title"].upper(), 13, "B", ACCENT, width)
    pdf.ln(4)
    _line(pdf, words["certifies"], 12, "", MUTED, width)
    pdf.ln(2)
    _fitted_name(pdf, unicodedata.normalize("NFC", certificate.name), width)
    pdf.ln(2)
    series_certificate = len(certificate.sessions) != 1 or certificate.scope == "series"
    _line(pdf, words["attended" if series_certificate else "attended_session"], 12, "",
          MUTED, width)
    pdf.set_font("sans", "B", 15)
    pdf.set_text_color(*INK)
    pdf.multi_cell(width, 7.5, certificate.series_title, align=Align.C,
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _sessions(pdf, certificate, language, words, width, layout)
    pdf.ln(3)
    total = words["total"].format(hours=_number(certificate.hours),
                                  credits=_number(certificate.credits),
                                  label=certificate.credit_label)
    _line(pdf, total, 11, "B", INK, width)
    if certificate.organisers:
        pdf.ln(2)
        pdf.set_font("sans", "", 9)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(width, 4.5, f"{words['organisers']}: "
                       + ", ".join(certificate.organisers), align=Align.C,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if pdf.get_y() > FOOTER_TOP - 2:
        return False
    _footer(pdf, certificate, language, words, width)
    return True


def _line(pdf: FPDF, text: str, size: float, style: str, colour: tuple[int, int, int],
          width: float) -> None:
    pdf.set_font("sans", style, size)
    pdf.set_text_color(*colour)
    pdf.cell(width, size * 0.5, text, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _fitted_name(pdf: FPDF, name: str, width: float) -> None:
    """The name on one line (never wrapped, so it reads back whole): 30 pt, or as much
    smaller as it needs, down to NAME_MIN_SIZE; CertificateLayoutError beyond that. A name
    in Arabic or Hebrew is shaped (joined letters, right to left, in reading order for
    the reader's copy and paste), in its script's font first, with Noto Sans (and the CJK
    font) for its other letters; shaping is switched off again after the name."""
    shaped = shaped_families(name)
    family = shaped[0] if shaped else "sans"
    cjk = ["cjk"] if "cjk" in pdf.fonts else []  # the document's fallback, restored below
    if shaped:
        pdf.set_fallback_fonts(["sans", *shaped[1:], *cjk], exact_match=False)
        pdf.set_text_shaping(True)
    try:
        pdf.set_font(family, "B", NAME_SIZE)
        wide = pdf.get_string_width(name)
        size = NAME_SIZE if wide <= width else int(NAME_SIZE * width / wide * 10) / 10
        if size < NAME_MIN_SIZE:
            raise CertificateLayoutError("the name is too long to print on one line")
        pdf.set_font(family, "B", size)
        while pdf.get_string_width(name) > width:  # rounding in the font's metrics
            size -= 0.1
            pdf.set_font(family, "B", size)
        pdf.set_text_color(*INK)
        pdf.cell(width, max(size * 0.5, 6.0), name, align=Align.C, new_x=XPos.LMARGIN,
                 new_y=YPos.NEXT)
    finally:
        if shaped:
            pdf.set_text_shaping(False)
            pdf.set_fallback_fonts(cjk, exact_match=False)


def _sessions(pdf: FPDF, certificate: Certificate, language: str,
              words: Mapping[str, str], width: float, layout: _Layout) -> None:
    """The sessions attended: date, title and hours (scheduled, or time present when the
    credits count presence), as a table with a header row."""
    table_width = min(width, 200.0)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.set_x((PAGE_WIDTH - table_width) / 2)
    pdf.set_font("sans", "B", layout.table_size)
    pdf.set_text_color(*MUTED)
    columns = (34.0, table_width - 34.0 - 20.0, 20.0)
    present = certificate.basis == "presence"
    rows: list[tuple[str, str, str]] = [
        (words["date"], words["session"], words["present" if present else "hours"])]
    for session in certificate.sessions:
        hours = Decimal(int(session.duration.total_seconds())) / Decimal(3600)
        rows.append((format_date(session.start.date(), "medium", locale=_locale(language)),
                     session.title, _clock(session.minutes_present) if present
                     else _number(hours.quantize(Decimal("0.01")))))
    height = layout.row_height
    for index, row in enumerate(rows):
        if index == 1:
            pdf.set_font("sans", "", layout.table_size)
            pdf.set_text_color(*INK)
        pdf.set_x((PAGE_WIDTH - table_width) / 2)
        title = row[1] if pdf.get_string_width(row[1]) <= columns[1] - 2 else \
            _shortened(pdf, row[1], columns[1] - 2)
        pdf.cell(columns[0], height, row[0], border="B")
        pdf.cell(columns[1], height, title, border="B")
        pdf.cell(columns[2], height, row[2], border="B", align=Align.R,
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _shortened(pdf: FPDF, text: str, width: float) -> str:
    """A session title cut to the column with an ellipsis (the series file holds it whole)."""
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _footer(pdf: FPDF, certificate: Certificate, language: str, words: Mapping[str, str],
            width: float) -> None:
    pdf.set_y(FOOTER_TOP)
    pdf.set_font("sans", "", 9)
    pdf.set_text_color(*MUTED)
    issued = format_date(certificate.issued_on, "long", locale=_locale(language))
    pdf.cell(width, 4.5, words["issued"].format(date=issued), align=Align.C,
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(width, 4.5, f"{words['certificate_id']}: {certificate.certificate_id}",
             align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(width, 4.5, f"{words['verify']}: {certificate.verification_url}",
             align=Align.C, link=certificate.verification_url,
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _locale(language: str) -> str:
    """A Babel locale for a BCP 47 tag (fr-BE -> fr_BE); English when Babel knows none."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(language.replace("-", "_") or "en"))
    except (UnknownLocaleError, ValueError):
        return "en"


def fonts_bytes() -> dict[str, int]:
    """The shipped font files and their sizes (for docs and the packaging check)."""
    return {path.name: path.stat().st_size for path in sorted(FONTS.glob("*.ttf"))}
