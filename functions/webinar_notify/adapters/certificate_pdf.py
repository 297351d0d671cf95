"""A certificate of attendance as a PDF (fpdf2, pure Python), A4 landscape.

The fonts are embedded (subset to the characters used): Noto Sans for Latin with every
diacritic (Vietnamese included), Greek and Cyrillic; Noto Sans CJK JP, as a fallback, for
Japanese kana, Chinese and Japanese ideographs of the CJK Unified Ideographs block and Korean
Hangul (docs/certificates.md). They ship in ``webinar_notify/fonts/`` (OFL 1.1, licence
beside them). The CJK font (9 MB) is read only when a certificate has a character that
Noto Sans lacks.

The name is drawn exactly as typed, in Unicode's composed form (NFC): the same letters,
so a Vietnamese name typed with combining accents is drawn with its precomposed letters and
reads back the same. A text with a character no embedded font has is refused
(MissingGlyphsError) rather than printed with an empty box.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.dates import format_date
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from ..core.certificates import Certificate

FONTS = Path(__file__).resolve().parents[1] / "fonts"
LATIN_FONT = {"": FONTS / "NotoSans-Regular.ttf", "B": FONTS / "NotoSans-Bold.ttf"}
CJK_FONT = FONTS / "NotoSansCJKjp-Regular.ttf"
INK = (33, 37, 41)  # near black: 15:1 on white
MUTED = (73, 80, 87)  # 8:1 on white, for labels
ACCENT = (0, 84, 147)  # the title and the border: 7.8:1 on white
RULE = (173, 181, 189)  # the table's lines (not text)
PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 297.0, 210.0, 18.0

LABELS = {  # English; the wiring passes the registrant's language's catalog entries
    "title": "Certificate of attendance",
    "certifies": "This is to certify that",
    "attended": "attended the live webinar series",
    "attended_session": "attended the live webinar",
    "sessions": "Sessions attended",
    "date": "Date",
    "session": "Session",
    "hours": "Hours",
    "total": "Total: {hours} h, {credits} {label}",
    "organisers": "Organisers",
    "certificate_id": "Certificate ID",
    "verify": "Verify at",
    "issued": "Issued on {date}",
}


class MissingGlyphsError(ValueError):
    """A text has characters no embedded font can draw (named by code point, never shown)."""

    def __init__(self, code_points: Iterable[str]) -> None:
        self.code_points = tuple(code_points)
        super().__init__("no embedded font has " + ", ".join(self.code_points[:10]))


@cache
def _cmap(path: Path) -> frozenset[int]:
    """The code points a font file draws (only its cmap table is read)."""
    font = TTFont(path, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def uncovered(text: str, include_cjk: bool = True) -> list[str]:
    """The characters of ``text`` that no embedded font draws, as "U+XXXX" (whitespace and
    control characters are not drawn, so not counted)."""
    have = _cmap(LATIN_FONT[""]) | (_cmap(CJK_FONT) if include_cjk else frozenset())
    seen = dict.fromkeys(ch for ch in unicodedata.normalize("NFC", text)
                         if not ch.isspace() and unicodedata.category(ch)[0] != "C"
                         and ord(ch) not in have)
    return [f"U+{ord(ch):04X}" for ch in seen]


def _texts(certificate: Certificate, labels: Mapping[str, str]) -> list[str]:
    return [certificate.name, certificate.series_title, certificate.credit_label,
            certificate.certificate_id, certificate.verification_url,
            *(s.title for s in certificate.sessions), *certificate.organisers,
            *labels.values()]


def _number(value: Decimal) -> str:
    """1.50 -> 1.5, 8.00 -> 8: a number as people write it."""
    text = f"{value.normalize():f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def certificate_pdf(certificate: Certificate, language: str = "en",
                    labels: Mapping[str, str] | None = None) -> bytes:
    """The certificate as PDF bytes. Dates are written in ``language`` (Babel), in the
    series' time zone (the sessions' own). MissingGlyphsError when a text cannot be drawn."""
    words = {**LABELS, **(labels or {})}
    texts = _texts(certificate, words)
    missing = uncovered(" ".join(texts))
    if missing:
        raise MissingGlyphsError(missing)
    needs_cjk = bool(uncovered(" ".join(texts), include_cjk=False))
    pdf = _document(certificate, language, needs_cjk)
    _draw(pdf, certificate, language, words)
    return bytes(pdf.output())


def _document(certificate: Certificate, language: str, needs_cjk: bool) -> FPDF:
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    for style, path in LATIN_FONT.items():
        pdf.add_font("sans", style, path)
    if needs_cjk:
        pdf.add_font("cjk", "", CJK_FONT)
        pdf.set_fallback_fonts(["cjk"], exact_match=False)
    issued = datetime.combine(certificate.issued_on, time(12), tzinfo=UTC)
    pdf.set_creation_date(issued)  # the same certificate makes the same file
    pdf.set_lang(language)
    pdf.set_title(f"{certificate.series_title} – {certificate.certificate_id}")
    pdf.set_subject(certificate.series_title)
    pdf.set_creator("webinar-notify")
    pdf.add_page()
    return pdf


def _draw(pdf: FPDF, certificate: Certificate, language: str, words: Mapping[str, str]
          ) -> None:
    width = PAGE_WIDTH - 2 * MARGIN
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.8)
    pdf.rect(MARGIN / 2, MARGIN / 2, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - MARGIN)
    pdf.set_y(MARGIN + 10 + 3.5 * max(0, 8 - len(certificate.sessions)))  # fewer rows: lower
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
    _sessions(pdf, certificate, language, words, width)
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
    _footer(pdf, certificate, language, words, width)


def _line(pdf: FPDF, text: str, size: float, style: str, colour: tuple[int, int, int],
          width: float) -> None:
    pdf.set_font("sans", style, size)
    pdf.set_text_color(*colour)
    pdf.cell(width, size * 0.5, text, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _fitted_name(pdf: FPDF, name: str, width: float) -> None:
    """The name on one line, from 30 pt down to 16 pt; longer names wrap at 16 pt."""
    size = 30.0
    pdf.set_font("sans", "B", size)
    while size > 16 and pdf.get_string_width(name) > width:
        size -= 1
        pdf.set_font("sans", "B", size)
    pdf.set_text_color(*INK)
    pdf.multi_cell(width, size * 0.5, name, align=Align.C, new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)


def _sessions(pdf: FPDF, certificate: Certificate, language: str,
              words: Mapping[str, str], width: float) -> None:
    """The sessions attended: date, title and hours, as a table with a header row."""
    table_width = min(width, 200.0)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.set_x((PAGE_WIDTH - table_width) / 2)
    pdf.set_font("sans", "B", 9.5)
    pdf.set_text_color(*MUTED)
    columns = (34.0, table_width - 34.0 - 20.0, 20.0)
    rows: list[tuple[str, str, str]] = [(words["date"], words["session"], words["hours"])]
    for session in certificate.sessions:
        hours = Decimal(int(session.duration.total_seconds())) / Decimal(3600)
        rows.append((format_date(session.start.date(), "medium", locale=_locale(language)),
                     session.title, _number(hours.quantize(Decimal("0.01")))))
    for index, row in enumerate(rows):
        if index == 1:
            pdf.set_font("sans", "", 9.5)
            pdf.set_text_color(*INK)
        pdf.set_x((PAGE_WIDTH - table_width) / 2)
        title = row[1] if pdf.get_string_width(row[1]) <= columns[1] - 2 else \
            _shortened(pdf, row[1], columns[1] - 2)
        pdf.cell(columns[0], 5.5, row[0], border="B")
        pdf.cell(columns[1], 5.5, title, border="B")
        pdf.cell(columns[2], 5.5, row[2], border="B", align=Align.R,
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _shortened(pdf: FPDF, text: str, width: float) -> str:
    """A session title cut to the column with an ellipsis (the series file holds it whole)."""
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _footer(pdf: FPDF, certificate: Certificate, language: str, words: Mapping[str, str],
            width: float) -> None:
    pdf.set_y(PAGE_HEIGHT - MARGIN - 13.5)
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
