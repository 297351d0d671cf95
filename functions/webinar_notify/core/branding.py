"""A series' brand: its logo, accent colour and footer, checked when the series file is read.

The accent colour drives the header rule, the title, links and buttons, so it must be readable
as text on white and carry white button text: a colour under WCAG's 4.5:1 for either is
refused with its contrast figure. The logo is an https URL that is never fetched here; the
email shows it at a fixed width with its alt text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .document_fields import FieldReader
from .errors import SeriesFileError

DEFAULT_ACCENT = "#0b5c8e"
MINIMUM_CONTRAST = 4.5  # WCAG 2.2 AA for body text
DARK_CARD = "#1e2227"  # the card's background in dark mode (templates/base.html)
LOGO_WIDTH = 160  # CSS pixels: wide enough for a wordmark, small beside the title at 375 px
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_HTTPS = re.compile(r"https://[^\s<>\"']+")
FIELDS = {"logo", "accent", "footer", "postal_address"}
LOGO_FIELDS = {"url", "alt"}


@dataclass(frozen=True, slots=True)
class Brand:
    """How a series' emails look; the defaults are the project's own."""

    accent: str = DEFAULT_ACCENT
    logo_url: str = ""
    logo_alt: str = ""
    footer: str = ""  # the organiser's words at the foot of every email
    postal_address: str = ""  # the organiser's postal address (CAN-SPAM, GDPR practice)


    @property
    def dark_accent(self) -> str:
        """The accent for text on the dark card (base.html's dark mode): mixed towards white
        until it reads at 4.5:1 there, so a dark brand colour stays legible."""
        return _readable_on_dark(self.accent)


@lru_cache(maxsize=64)
def _readable_on_dark(accent: str) -> str:
    """Worked out once per colour: every email's stylesheet asks for it three times."""
    channels = [int(accent[i:i + 2], 16) for i in (1, 3, 5)]
    for step in range(11):
        mixed = "#" + "".join(f"{round(c + (255 - c) * step / 10):02x}" for c in channels)
        if contrast(mixed, DARK_CARD) >= MINIMUM_CONTRAST:
            return mixed
    return "#ffffff"


DEFAULT_BRAND = Brand()


def luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of a #rrggbb colour."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def accent_colour(value: object) -> str:
    """A #rgb or #rrggbb colour (lower-case #rrggbb out) readable as text on white; the
    same ratio holds for white text on it, so the buttons are readable too."""
    if not isinstance(value, str) or not _HEX.fullmatch(value.strip()):
        raise ValueError("expected a colour like #0b5c8e")
    colour = value.strip().lower()
    if len(colour) == 4:
        colour = "#" + "".join(ch * 2 for ch in colour[1:])
    ratio = contrast(colour, "#ffffff")
    if ratio < MINIMUM_CONTRAST:
        raise ValueError(f"{colour} has a contrast of {ratio:.2f}:1 against white (text on "
                         f"white and white button text need {MINIMUM_CONTRAST}:1); "
                         "choose a darker colour")
    return colour


def parse_brand(data: object, path: str = "brand") -> Brand:
    """The ``brand:`` mapping of a series file; raises SeriesFileError naming the field."""
    r = FieldReader(data, path, FIELDS)
    logo_url = logo_alt = ""
    if r.data.get("logo") is not None:
        logo = FieldReader(r.data["logo"], r.at("logo"), LOGO_FIELDS)
        logo_url = logo.text("url", required=True, limit=2000)
        if not _HTTPS.fullmatch(logo_url):
            raise SeriesFileError(f"{logo.at('url')}: expected an https URL")
        logo_alt = logo.text("alt", required=True, limit=200)
    return Brand(
        accent=r.convert("accent", accent_colour, default=DEFAULT_ACCENT),
        logo_url=logo_url,
        logo_alt=logo_alt,
        footer=r.text("footer", limit=1000),
        postal_address=r.text("postal_address", limit=500),
    )


def brand_document(brand: Brand) -> dict[str, Any]:
    """The mapping parse_brand reads back to an equal Brand (defaults left out)."""
    doc: dict[str, Any] = {}
    if brand.logo_url:
        doc["logo"] = {"url": brand.logo_url, "alt": brand.logo_alt}
    if brand.accent != DEFAULT_ACCENT:
        doc["accent"] = brand.accent
    if brand.footer:
        doc["footer"] = brand.footer
    if brand.postal_address:
        doc["postal_address"] = brand.postal_address
    return doc
