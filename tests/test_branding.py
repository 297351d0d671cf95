"""Every series in its own brand: the brand read and checked from the series file, shown in
every kind of email, and a series' template overrides replacing ours for that series only."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from conftest import Harness
from test_email_defects import BRAND, KINDS, LINKS, NOW, Page, every_kind, job, series
from webinar_notify.core.branding import Brand, contrast, parse_brand
from webinar_notify.core.compose import compose
from webinar_notify.core.errors import SeriesFileError
from webinar_notify.core.render import Renderer, StyleInliner
from webinar_notify.core.series import Series
from webinar_notify.core.series_document import parse_series, series_to_document

ROOT = Path(__file__).resolve().parents[1]
ACCENT = BRAND["accent"]
OURS = "#0b5c8e"


def document() -> dict[str, object]:
    with (ROOT / "series" / "reirradiation-2023.yaml").open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    assert isinstance(loaded, dict)
    return loaded


# --- the brand in the series file ----------------------------------------------------------

def test_a_brand_is_read_and_written_back_unchanged() -> None:
    branded = parse_series(document() | {"brand": BRAND | {"accent": "#7A1F5C"},
                                         "templates": "reirradiation"})
    assert branded.brand == Brand(accent=ACCENT, logo_url="https://brand.example/logo.png",
                                  logo_alt="Oncology Society", footer=BRAND["footer"],
                                  postal_address=BRAND["postal_address"])
    assert branded.templates == "reirradiation"
    assert parse_series(series_to_document(branded)) == branded
    assert "brand" not in series_to_document(series())  # ours is left out, not written out
    assert parse_brand({"accent": "#036"}).accent == "#003366"


@pytest.mark.parametrize(("accent", "figure"), [("#ffcc00", "1.51"), ("#3399ff", "2.94"),
                                                 ("#808080", "3.95"), ("#777777", "4.48")])
def test_an_accent_too_light_for_text_or_white_button_text_is_refused_with_its_contrast(
        accent: str, figure: str) -> None:
    with pytest.raises(SeriesFileError) as error:
        parse_series(document() | {"brand": {"accent": accent}})
    message = str(error.value)
    assert message.startswith("brand.accent: ") and f"{figure}:1" in message
    assert "4.5:1" in message and "\n" not in message
    assert parse_brand({"accent": "#767676"}).accent == "#767676"  # 4.54:1, just enough


@pytest.mark.parametrize(("brand", "field"), [
    ({"accent": "navy"}, "brand.accent: expected a colour"),
    ({"logo": {"url": "http://brand.example/logo.png", "alt": "Logo"}},
     "brand.logo.url: expected an https URL"),
    ({"logo": {"url": "https://brand.example/logo.png"}}, "brand.logo.alt: required"),
    ({"logo": {"url": "javascript:alert(1)", "alt": "x"}}, "brand.logo.url: expected an https"),
    ({"reply_to": "x@example.org"}, "brand.reply_to: unknown field"),
    ("blue", "brand: expected a mapping"),
])
def test_a_bad_brand_names_its_field(brand: object, field: str) -> None:
    with pytest.raises(SeriesFileError, match=re.escape(field)):
        parse_series(document() | {"brand": brand})


@pytest.mark.parametrize("folder", ["../templates", "Series", "a/b", ""])
def test_a_template_folder_is_a_plain_name(folder: str) -> None:
    with pytest.raises(SeriesFileError, match="templates: expected a folder name"):
        parse_series(document() | {"templates": folder})


# --- the brand in every kind ---------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_branded_series_shows_its_logo_colour_and_footer_in_every_kind(kind: str) -> None:
    email = every_kind(True)[kind]
    html, text = email.html or "", email.text
    page = Page(html)
    [logo] = [n for n in page.nodes if n.tag == "img"]
    assert logo.attrs["src"] == "https://brand.example/logo.png"
    assert logo.attrs["alt"] == "Oncology Society" and logo.attrs["width"] == "160"
    assert logo.style["width"] == "160px" and logo.style["height"] == "auto"
    heading = next(n for n in page.nodes if n.tag == "h1")  # the series' title, then any
    assert heading.style["color"] == ACCENT
    assert heading.parent is not None and ACCENT in heading.parent.style["border-bottom"]
    cells = [n for n in page.nodes if n.tag == "td" and "bgcolor" in n.attrs]
    assert cells and all(ACCENT in n.style["border"] for n in cells)
    assert OURS not in html  # no colour of ours is left behind
    for words in (BRAND["footer"], BRAND["postal_address"]):
        assert words in text and words.replace("'", "&#39;") in html
    ours = every_kind()[kind]
    assert ACCENT not in (ours.html or "") and "<img" not in (ours.html or "")
    assert BRAND["footer"] not in ours.text


def test_the_primary_button_is_white_on_the_accent_and_links_are_in_the_accent() -> None:
    page = Page(every_kind(True)["reminder"].html or "")
    join = next(n for n in page.nodes if n.tag == "a" and "".join(n.texts) == "Join the webinar")
    assert join.parent is not None and join.parent.attrs["bgcolor"] == ACCENT
    assert join.parent.style["background"] == ACCENT and join.style["color"] == "#ffffff"
    assert contrast(join.style["color"], ACCENT) >= 4.5
    page = Page(every_kind(True)["announcement"].html or "")
    form = next(n for n in page.nodes if n.tag == "a" and "".join(n.texts) == "the form")
    assert form.attrs["href"] == "https://forms.example/q" and form.style["color"] == ACCENT
    [title, heading] = [n for n in page.nodes if n.tag == "h1"]  # the Markdown's # heading too
    assert title.style == heading.style


def test_an_english_email_of_our_brand_reads_as_before() -> None:
    """Inlining changes how styles are written, not what a reader sees: same text, same
    colours (the hand-inlined templates had these), narrow-screen rules kept."""
    html = every_kind()["confirmation"].html or ""
    page = Page(html)
    assert "@media (max-width: 480px)" in html and 'class="wn-pad"' in html
    colours = {n.style.get("color") for n in page.nodes} - {None}
    assert colours == {"#1f2933", "#52606d", OURS}
    styled = set(re.findall(r"\.([a-z][\w-]*)", "".join(re.findall(r"<style>(.*?)</style>",
                                                                  html, re.DOTALL))))
    left = {name for value in re.findall(r' class="([^"]*)"', html) for name in value.split()}
    assert left and left <= styled  # a class stays only where a <style> rule still needs it


def test_the_inliner_keeps_a_tags_own_style_over_the_stylesheet() -> None:
    inliner = StyleInliner("p { margin: 0; color: #111111; } .x { color: #222222; }")
    out = inliner.source('<p class="x" style="color:#333333;">{{ a }}</p><td>{% if b %}')
    assert out == '<p style="margin: 0;color: #222222;color:#333333;">{{ a }}</p><td>{% if b %}'
    with pytest.raises(SeriesFileError, match="fixed class names"):
        inliner.source('<p class="{{ kind }}">')


# --- template overrides --------------------------------------------------------------------

@pytest.fixture
def overridden(tmp_path: Path) -> Renderer:
    """Our templates plus one override folder with its own cancellation email."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates,
                    ignore=shutil.ignore_patterns("console", "__pycache__"))
    folder = templates / "series" / "special"
    folder.mkdir(parents=True)
    (folder / "cancellation.html").write_text(
        '{% extends "base.html" %}\n{% block content %}\n'
        '<p class="wn-lead">Our apologies: {{ session.title }} will not take place.</p>\n'
        '{% endblock %}\n{% block footer %}Special footer.{% endblock %}\n', encoding="utf-8")
    return Renderer(templates)


def test_an_override_replaces_one_template_for_its_series_only(overridden: Renderer) -> None:
    plain = series()
    special = replace(plain, templates="special")
    cancel = job("cancellation", ("s2",))
    def cancelled(s: Series) -> Series:
        return replace(s, sessions=tuple(replace(x, status="cancelled") if x.id == "s2" else x
                                         for x in s.sessions))

    theirs = compose(cancelled(special), cancel, now=NOW, renderer=overridden, links=LINKS)
    ours = compose(cancelled(plain), cancel, now=NOW, renderer=overridden, links=LINKS)
    title = next(x.title for x in plain.sessions if x.id == "s2")
    assert f"Our apologies: {title} will not take place." in (theirs.html or "")
    assert 'font-size: 17px">Our apologies' in (theirs.html or "")  # inlined like ours
    assert "Special footer." in (theirs.html or "")
    assert "will not take place" not in (ours.html or "")
    assert ours.html == every_kind()["cancellation"].html
    assert theirs.text == ours.text  # the plain text was not overridden
    confirmation = job("confirmation", ("s1",))
    assert compose(special, confirmation, now=NOW, renderer=overridden, links=LINKS).html == \
        compose(plain, confirmation, now=NOW, renderer=overridden, links=LINKS).html


def test_a_missing_override_folder_is_a_clear_error(overridden: Renderer) -> None:
    with pytest.raises(SeriesFileError, match="templates: no folder 'gone' under"):
        compose(replace(series(), templates="gone"), job("confirmation", ("s1",)), now=NOW,
                renderer=overridden, links=LINKS)


def test_a_branded_series_pages_wear_its_brand(harness: Harness) -> None:
    """The manage page of a branded series (like its unsubscribe, opt-in and erased pages, by
    the same render) shows its logo and colour, not ours."""
    branded = parse_series(document() | {"brand": BRAND})
    harness.runtime.push_series(branded)
    harness.register(sessions=["s1"])
    manage = harness.runtime.request("GET", harness.manage_path(), {}, b"")
    assert manage.status == 200
    assert ACCENT in manage.text and BRAND["logo"]["url"] in manage.text
    assert OURS not in manage.text
