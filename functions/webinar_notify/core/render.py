"""Jinja2 rendering of the email bodies from ``templates/`` (HTML autoescaped, text not).

The HTML templates use classes from ``templates/email.css``; when a template is first loaded
for a brand, css-inline writes each tag's declarations into its ``style`` attribute (mail
clients drop stylesheets), so the per-email cost is that of hand-inlined templates. The
stylesheet keeps to type and class selectors, so one tag's style never depends on where it
sits and each tag is inlined on its own, before Jinja runs. A series' brand sets the accent
colour; its ``templates:`` folder under ``templates/series/`` replaces templates by name.

Templates mark their words with ``_("...")`` and ``ngettext(...)`` (Jinja2's i18n extension,
as Babel extracts them). Each language has its own Environment with its catalog, made on first
use; there a message without values is translated once, when its template compiles, so the
per-email cost of a translated template is that of a plain one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import css_inline
from babel.support import NullTranslations
from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.nodes import EvalContext
from jinja2.utils import pass_eval_context
from markupsafe import Markup, escape

from . import i18n
from .branding import DEFAULT_BRAND, Brand
from .errors import SeriesFileError
from .series import Series

_MARKERS = {"_": "_t", "gettext": "_t", "ngettext": "_n"}


class _CompiledMessages(Extension):
    """Rewrites ``_("msg", k=v)`` as ``"msg"|_t(k=v)`` and ``ngettext("a", "b", n)`` as
    ``"a"|_n("b", n)``: Jinja folds a filter whose arguments are constants when it compiles
    the template, which a call never is."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        tokens = list(stream)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            after = tokens[index + 1:index + 3]
            before = tokens[index - 1] if index else None
            if (token.type == "name" and token.value in _MARKERS
                    and [t.type for t in after] == ["lparen", "string"]
                    and (before is None or before.type != "dot")):
                line = token.lineno
                yield after[1]
                yield Token(line, "pipe", "|")
                yield Token(line, "name", _MARKERS[token.value])
                yield Token(line, "lparen", "(")
                index += 3
                if tokens[index].type == "comma":
                    index += 1
                continue
            yield token
            index += 1


def _filters(translations: NullTranslations) -> dict[str, Any]:
    """The message in the language with its ``%(name)s`` values filled, escaped where the
    template is HTML (values that are Markup, such as a macro's output, stay as they are)."""
    translate, translate_plural = translations.gettext, translations.ngettext

    @pass_eval_context
    def gettext(context: EvalContext, message: str, **values: Any) -> str:
        text = translate(message)
        if not context.autoescape:
            return text % values if values else text
        # our own catalog's text, with every value escaped (Markup values stay as they are)
        return Markup(text % {k: escape(v) for k, v in values.items()} if values  # noqa: S704
                      else text)

    @pass_eval_context
    def ngettext(context: EvalContext, singular: str, plural: str, count: int,
                 **values: Any) -> str:
        text = translate_plural(singular, plural, count)
        if not context.autoescape:
            return text % ({"num": count} | values)
        return Markup(text % ({"num": count}  # noqa: S704 (as above)
                              | {k: escape(v) for k, v in values.items()}))

    return {"_t": gettext, "_n": ngettext, "strong": _strong, "nowrap": _nowrap}


def _strong(value: str) -> Markup:
    """Emphasis inside a translated sentence (the sentence keeps its own word order)."""
    return Markup("<strong>%s</strong>") % value


def _nowrap(value: str) -> Markup:
    """A date or time that must not break across lines, even at 375 px."""
    return Markup('<span style="white-space:nowrap;">%s</span>') % value


STYLESHEET = "email.css"
ACCENT = "var(--wn-accent)"  # the stylesheet's stand-in for the brand's accent colour
_START_TAG = re.compile(r"<([a-z][a-z0-9]*)((?:[^<>\"']|\"[^\"]*\"|'[^']*')*)>")
_CLASS = re.compile(r"""\sclass=(["'])([^"']*)\1""")
_STYLE = re.compile(r"""\sstyle=(["'])([^"']*)\1""")
_PROBED = re.compile(r"<[a-z0-9]+[^>]*\sdata-wn-probe[^>]*>")
_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
_CLASS_NAME = re.compile(r"\.([A-Za-z][\w-]*)")
_SKIPPED = frozenset({"html", "head", "meta", "title", "style", "link", "br"})
_IN_TABLE = {"td": ("<table><tr>", "</tr></table>"), "th": ("<table><tr>", "</tr></table>"),
             "tr": ("<table>", "</table>"), "tbody": ("<table>", "</table>")}


class StyleInliner:
    """Writes a stylesheet's declarations into the start tags of a template's source.

    css-inline computes each distinct (tag, classes) once, on a probe element of its own;
    declarations the tag already has in ``style`` come after them and so win.
    """

    def __init__(self, css: str, kept: frozenset[str] = frozenset()) -> None:
        self._inliner = css_inline.CSSInliner(extra_css=css, load_remote_stylesheets=False,
                                              keep_style_tags=False)
        self._styles: dict[tuple[str, str], str] = {}
        self.kept = kept  # classes a <style> block still needs (narrow screens, dark mode)

    def style(self, tag: str, classes: str) -> str:
        key = (tag, classes)
        found = self._styles.get(key)
        if found is None:
            before, after = _IN_TABLE.get(tag, ("", ""))
            probe = f'<{tag} class="{classes}" data-wn-probe>' if tag == "img" \
                else f'<{tag} class="{classes}" data-wn-probe></{tag}>'
            if tag == "body":
                document = f'<html><head></head><body class="{classes}" data-wn-probe></body>'
            else:
                document = f"<html><head></head><body>{before}{probe}{after}</body></html>"
            element = _PROBED.search(self._inliner.inline(document))
            style = _STYLE.search(element.group(0)) if element else None
            found = style.group(2).strip().rstrip(";") if style else ""
            self._styles[key] = found
        return found

    def source(self, text: str) -> str:
        return _START_TAG.sub(self._tag, text)

    def _tag(self, match: re.Match[str]) -> str:
        tag, attributes = match.group(1), match.group(2)
        if tag in _SKIPPED:
            return match.group(0)
        classes = _CLASS.search(attributes)
        if classes and "{" in classes.group(2):
            raise SeriesFileError(f"<{tag} class={classes.group(2)!r}>: email templates use "
                                  "fixed class names, so each tag is styled once")
        names = classes.group(2).split() if classes else []
        computed = self.style(tag, " ".join(names))
        if classes:  # the inline style says it all; only what a <style> block needs stays
            kept = " ".join(n for n in names if n in self.kept)
            attributes = attributes[:classes.start()] + (f' class="{kept}"' if kept else "") \
                + attributes[classes.end():]
        if not computed:
            return f"<{tag}{attributes}>"
        own = _STYLE.search(attributes)
        if own is None:
            return f'<{tag} style="{computed}"{attributes}>'
        merged = f"{computed};{own.group(2)}"
        return f"<{tag}{attributes[:own.start(2)]}{merged}{attributes[own.end(2):]}>"


class _BrandedLoader(BaseLoader):
    """The series' override folder first, then ours; email HTML inlined for one brand."""

    def __init__(self, folders: list[Path], brand: Brand) -> None:
        self.files = FileSystemLoader([str(f) for f in folders])
        self.brand = brand
        self._inliner: StyleInliner | None = None

    def get_source(self, environment: Environment,
                   template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.files.get_source(environment, template)
        if template.endswith(".html") and not template.startswith("console/"):
            source = self.inliner(environment).source(source)
        return source, filename, uptodate

    def inliner(self, environment: Environment) -> StyleInliner:
        if self._inliner is None:
            css = self.files.get_source(environment, STYLESHEET)[0]
            frame = self.files.get_source(environment, "base.html")[0]
            kept = frozenset(name for block in _STYLE_BLOCK.findall(frame)
                             for name in _CLASS_NAME.findall(block))
            self._inliner = StyleInliner(css.replace(ACCENT, self.brand.accent), kept)
        return self._inliner


class Renderer:
    """Compiles each template once per process and language."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._environments: dict[tuple[str, Brand, str], Environment] = {}
        self.environment = self.for_language(i18n.SOURCE)

    def folders(self, overrides: str) -> list[Path]:
        """Where a series' templates are looked up, its own folder first."""
        if not overrides:
            return [self.templates_dir]
        folder = self.templates_dir / "series" / overrides
        if not folder.is_dir():
            raise SeriesFileError(f"templates: no folder {overrides!r} under "
                                  f"{self.templates_dir / 'series'}")
        return [folder, self.templates_dir]

    def for_language(self, language: str, brand: Brand = DEFAULT_BRAND,
                     overrides: str = "") -> Environment:
        """The templates in one language, for one brand and set of overrides (made once)."""
        known = language if language in i18n.LANGUAGES else i18n.SOURCE
        environment = self._environments.get((known, brand, overrides))
        if environment is None:
            environment = Environment(
                loader=_BrandedLoader(self.folders(overrides), brand),
                autoescape=select_autoescape(enabled_extensions=("html",),
                                             default_for_string=True),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,
                keep_trailing_newline=True,
                extensions=["jinja2.ext.i18n", _CompiledMessages],
            )
            translations = i18n.translations(known)
            environment.install_gettext_translations(  # type: ignore[attr-defined]
                translations, newstyle=True)  # {% trans %} blocks, and any call left
            environment.filters.update(_filters(translations))
            environment.globals["language"] = known
            environment.globals["brand"] = brand
            self._environments[(known, brand, overrides)] = environment
        return environment

    def render(self, name: str, context: dict[str, Any], language: str = i18n.SOURCE,
               series: Series | None = None) -> str:
        """One template; with a series, in its brand and with its overrides."""
        environment = self.for_language(language) if series is None else \
            self.for_language(language, series.brand, series.templates)
        return environment.get_template(name).render(context)

    def inline(self, html: str, series: Series) -> Markup:
        """HTML made at send time (an announcement's Markdown) styled as the templates are:
        the same stylesheet and brand, so its headings and links match the frame."""
        environment = self.for_language(i18n.SOURCE, series.brand, series.templates)
        loader = environment.loader
        assert isinstance(loader, _BrandedLoader)
        return Markup(loader.inliner(environment).source(html))  # noqa: S704 (HTML in, HTML out)

    def render_pair(self, kind: str, context: dict[str, Any],
                    language: str = i18n.SOURCE,
                    series: Series | None = None) -> tuple[str, str]:
        """The plain-text and HTML bodies of one kind of email."""
        return (self.render(f"{kind}.txt", context, language, series),
                self.render(f"{kind}.html", context, language, series))
