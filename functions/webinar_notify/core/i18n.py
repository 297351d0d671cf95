"""Languages: which we speak, the nearest one to a person's tag, and each one's catalog.

The catalogs are gettext .po files inside the package (``webinar_notify/locale/<lang>/
LC_MESSAGES/messages.po``), read with Babel on first use and kept for the process: no compiled
.mo files and no build step. English is the source language and has no catalog. Adding a
language is adding its catalog and its code to ``LANGUAGES``.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

SOURCE = "en"
LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "it", "pt")  # the one list to extend
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def nearest(tag: str | None) -> str | None:
    """The supported language for a BCP 47 tag (fr-BE → fr, pt-BR → pt), or None."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def choose(person: str | None, default: str = SOURCE) -> str:
    """The person's language when we speak it, else the series' default."""
    return nearest(person) or nearest(default) or SOURCE


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header, or None."""
    if not header:
        return None
    wanted: list[tuple[float, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _sep, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            wanted.append((-quality + index * 1e-6, tag.strip()))
    preferred = [tag.replace("-", "_") for _q, tag in sorted(wanted)]
    found = negotiate_locale(preferred, list(LANGUAGES), sep="_")
    return nearest(found) if found else None


def for_page(stored: str | None, accept_language: str | None, default: str = SOURCE) -> str:
    """A page's language: the person's stored one, else their browser's, else the series'."""
    return nearest(stored) or from_accept_language(accept_language) or choose(None, default)


def mark(message: str) -> str:
    """Marks a message for extraction where it is translated later (``tr(lang, message)``)."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The catalog of one language, read once per process (English: the source strings)."""
    if language == SOURCE or language not in LANGUAGES:
        return NullTranslations()
    with catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE)


def tr(language: str, message: str, **values: object) -> str:
    """One message in a language, with its ``%(name)s`` placeholders filled. Babel extracts
    these calls (``tr:2``, ``tr_plural:2,3``; see babel.cfg)."""
    text = translations(language).gettext(message)
    return text % values if values else text


def tr_plural(language: str, singular: str, plural: str, count: int, **values: object) -> str:
    """A message with a count (``%(num)d``), in the plural form the language gives it."""
    text = translations(language).ngettext(singular, plural, count)
    return text % ({"num": count} | values)
