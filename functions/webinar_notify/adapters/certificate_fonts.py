"""Which characters the certificate's embedded fonts draw: read from the fonts' cmap tables
only (fontTools), without fpdf, so the manage page and an assessment can ask cheaply whether a
certificate can be printed before anything is drawn (adapters/certificate_pdf draws it).

Every text may use Noto Sans (Latin, Greek, Cyrillic) and Noto Sans CJK JP. The name may also
be in Arabic or Hebrew (Noto Sans Arabic and Hebrew, bold as the name is): those are drawn
with text shaping (joined letters, right to left), which needs uharfbuzz; without it, they
count as not drawn.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

FONTS = Path(__file__).resolve().parents[1] / "fonts"
LATIN_FONT = {"": FONTS / "NotoSans-Regular.ttf", "B": FONTS / "NotoSans-Bold.ttf"}
CJK_FONT = FONTS / "NotoSansCJKjp-Regular.ttf"
SHAPED_FONTS = {"arabic": FONTS / "NotoSansArabic-Bold.ttf",  # the name only, in bold
                "hebrew": FONTS / "NotoSansHebrew-Bold.ttf"}


@cache
def shaping() -> bool:
    """Whether fpdf2 can shape text here (it uses uharfbuzz, a dependency)."""
    try:
        import uharfbuzz  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def shaped_families(name: str) -> list[str]:
    """The shaped fonts a name needs (``SHAPED_FONTS`` keys), the first one it uses first;
    [] when it needs none, or when shaping is not available."""
    if not shaping():
        return []
    latin = _cmap(LATIN_FONT["B"])
    first: dict[str, int] = {}
    for index, ch in enumerate(name):
        if ord(ch) in latin:
            continue
        for family, path in SHAPED_FONTS.items():
            if ord(ch) in _cmap(path):
                first.setdefault(family, index)
    return sorted(first, key=first.__getitem__)


@cache
def _cmap(path: Path) -> frozenset[int]:
    """The code points a font file draws (only its cmap table is read)."""
    font = TTFont(path, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def uncovered(text: str, include_cjk: bool = True, name: bool = False) -> list[str]:
    """The characters of ``text`` that no embedded font draws, as "U+XXXX" (whitespace and
    control characters are not drawn, so not counted); with ``name``, the fonts for names
    count too (Arabic and Hebrew, where shaping is available)."""
    latin = _cmap(LATIN_FONT[""])
    seen = dict.fromkeys(ch for ch in unicodedata.normalize("NFC", text)
                         if not ch.isspace() and unicodedata.category(ch)[0] != "C"
                         and ord(ch) not in latin)
    if not seen:  # the usual case: the other fonts are not even opened
        return []
    others = [CJK_FONT] if include_cjk else []
    if name and shaping():
        others += SHAPED_FONTS.values()
    have = frozenset().union(*(_cmap(path) for path in others))
    return [f"U+{ord(ch):04X}" for ch in seen if ord(ch) not in have]


def missing_scripts(text: str, name: bool = False) -> tuple[str, ...]:
    """The scripts of the characters of ``text`` that no embedded font draws, by their
    Unicode names ("Arabic", "Hebrew"; "Symbols" for emoji and other symbols): what may be
    said of a name in a log line or to an organiser, unlike its characters."""
    from fontTools import unicodedata as scripts  # type: ignore[import-untyped]

    found = {scripts.script_name(scripts.script(chr(int(point[2:], 16))))
             for point in uncovered(text, name=name)}
    return tuple(sorted({"Symbols" if script in ("Common", "Inherited", "Unknown") else script
                         for script in found}))
