"""Rebuilds the certificate fonts in functions/webinar_notify/fonts/ from Debian's Noto packages.

The fonts are kept in the repository (they are OFL 1.1, which allows redistributing them,
subset or not, with the licence beside them), so neither a build nor CI needs this script: it
exists so that anyone can check where they came from and make them again.

    sudo apt-get download fonts-noto-core fonts-noto-cjk   # any folder; no install needed
    python scripts/build_certificate_fonts.py fonts-noto-core_*.deb fonts-noto-cjk_*.deb

It takes Noto Sans Regular and Bold (fonts-noto-core) and Noto Sans CJK JP Regular (the first
face of NotoSansCJK-Regular.ttc in fonts-noto-cjk), keeps the characters listed below, drops
hinting and OpenType layout features (fpdf2 draws those without shaping), and converts the
CJK subset from CFF to TrueType outlines, which fpdf2 embeds with a standard Identity-H
encoding that every PDF reader, pypdf included, maps back to text. Noto Sans Arabic Bold and
Noto Sans Hebrew Bold (fonts-noto-core) keep their layout features: a name in those scripts
is drawn with text shaping (HarfBuzz, through uharfbuzz), right to left with joined letters.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "functions" / "webinar_notify" / "fonts"

LATIN = [  # Noto Sans: Latin with every diacritic (Vietnamese too), Greek, Cyrillic
    (0x0020, 0x024F), (0x0250, 0x02FF), (0x0300, 0x036F), (0x0370, 0x03FF),
    (0x0400, 0x052F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20A0, 0x20CF),
    (0x2100, 0x214F), (0x2190, 0x21FF), (0xFB00, 0xFB06)]
CJK = [  # Noto Sans CJK JP: Japanese kana, Hangul, CJK ideographs of the basic block
    (0x3000, 0x30FF), (0x3130, 0x318F), (0x31F0, 0x31FF), (0x4E00, 0x9FFF),
    (0xAC00, 0xD7A3), (0xFF00, 0xFFEF)]


# Drawn with shaping, for the name only (bold): their layout tables are kept, and so are the
# space and ASCII punctuation, so that a name's words stay one run (read back in order).
_RUN = [(0x0020, 0x002F), (0x00A0, 0x00A0), (0x200C, 0x200F)]
SHAPED = {
    "NotoSansArabic-Bold.ttf": [*_RUN, (0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF),
                                (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    "NotoSansHebrew-Bold.ttf": [*_RUN, (0x0590, 0x05FF), (0xFB1D, 0xFB4F)],
}


def code_points(ranges: list[tuple[int, int]]) -> set[int]:
    return {cp for start, end in ranges for cp in range(start, end + 1)}


def subset_font(font: TTFont, ranges: list[tuple[int, int]], shaped: bool = False) -> TTFont:
    options = subset.Options()
    options.hinting = False
    options.layout_features = ["*"] if shaped else []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=code_points(ranges))
    subsetter.subset(font)
    return font


def cff_to_truetype(font: TTFont) -> None:
    """Quadratic outlines (within 1 unit of the cubic ones) in a glyf table instead of CFF."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"], font["glyf"] = newTable("loca"), glyf
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attribute in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                      "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                      "maxComponentElements"):
        setattr(maxp, attribute, 0)
    maxp.maxZones = 1
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
    font.sfntVersion = "\x00\x01\x00\x00"


def save(font: TTFont, name: str) -> None:
    buffer = io.BytesIO()
    font.save(buffer)
    (OUT / name).write_bytes(buffer.getvalue())
    print(f"{name}: {len(buffer.getvalue()):,} bytes")


def main(debs: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", deb, folder], check=True)
        root = Path(folder) / "usr" / "share" / "fonts"
        OUT.mkdir(parents=True, exist_ok=True)
        for weight in ("Regular", "Bold"):
            save(subset_font(TTFont(root / "truetype" / "noto" / f"NotoSans-{weight}.ttf"),
                             LATIN), f"NotoSans-{weight}.ttf")
        for name, ranges in SHAPED.items():
            save(subset_font(TTFont(root / "truetype" / "noto" / name), ranges, shaped=True),
                 name)
        cjk = subset_font(TTFont(root / "opentype" / "noto" / "NotoSansCJK-Regular.ttc",
                                 fontNumber=0), CJK)
        cff_to_truetype(cjk)
        save(cjk, "NotoSansCJKjp-Regular.ttf")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
