"""Extract every marked message and bring each language's catalog up to date.

    .venv/bin/python scripts/catalogs.py          # update the .po files in place
    .venv/bin/python scripts/catalogs.py --check  # exit 1 if a catalog lacks a translation

New messages arrive untranslated (an empty msgstr) and old ones are kept as obsolete (#~),
so a translator sees both; tests/test_translations.py fails until every message is translated.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from webinar_notify.core import i18n  # noqa: E402

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "tr": (2,), "tr_plural": (2, 3),
            "mark": None}


def template() -> Catalog:
    """Every message the code and the templates mark, as a fresh catalog (the .pot)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    catalog = Catalog(project="webinar-notify", charset="utf-8")
    for filename, line, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        catalog.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalog


def missing(language: str, source: Catalog) -> list[str]:
    """The messages of ``source`` that the language's catalog does not translate."""
    with i18n.catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    gaps = []
    for message in source:
        if not message.id:
            continue
        found = catalog.get(message.id, message.context)
        strings = found.string if found else None
        texts = list(strings) if isinstance(strings, (tuple, list)) else [strings]
        if found is None or found.fuzzy or not all(texts):
            gaps.append(message.id if isinstance(message.id, str) else message.id[0])
    return gaps


def update(source: Catalog) -> None:
    for language in i18n.LANGUAGES:
        if language == i18n.SOURCE:
            continue
        path = i18n.catalog_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, project="webinar-notify", charset="utf-8")
        catalog.update(source, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, sort_output=False)


def main(argv: list[str]) -> int:
    source = template()
    if "--check" in argv:
        gaps = {lang: missing(lang, source) for lang in i18n.LANGUAGES if lang != i18n.SOURCE}
        for language, ids in gaps.items():
            for message in ids:
                print(f"{language}: untranslated: {message!r}")
        return 1 if any(gaps.values()) else 0
    update(source)
    print(f"{len(source)} messages; catalogs updated in {i18n.LOCALE_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
