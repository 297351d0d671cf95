"""Jinja2 rendering of the email bodies from ``templates/`` (HTML autoescaped, text not).

The HTML templates use classes from ``templates/email.css``; when a template is first loaded
for a brand, css-inline writes each tag's declarations into its ``style`` attribute (mail
clients drop stylesheets), so the per-email cost is that of hand-inlined templates. The
stylesheet keeps to type and class selectors, so one tag's style never depends on where it
sits and each tag is inlined on its own, before Jinja runs. A series' brand sets the accent
colour; its ``templates:`` folder under ``templates/series/`` replaces templates by name.

The kinds a fan-out sends (reminders, changes, cancellations, announcements) are rendered
once for everyone who reads the same thing (same session, zone, language, minute and brand)
and filled with each reader's own values: their name and links (``_Bodies``), byte for byte
what Jinja would write. ``render_templates`` is the plain render.

Templates mark their words with ``_("...")`` and ``ngettext(...)`` (Jinja2's i18n extension,
as Babel extracts them). Each language has its own Environment with its catalog, made on first
use; there a message without values is translated once, when its template compiles, so the
per-email cost of a translated template is that of a plain one.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import lru_cache
from pathlib import Path
from threading import Lock
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


def _cached_wordwrap(environment: Environment) -> Callable[..., str]:
    """Jinja's ``wordwrap``, once per text: the series' paragraphs are the same in every
    confirmation, so they are wrapped once per revision (the cache is bounded; a new text
    simply takes a new entry)."""
    wrap = environment.filters["wordwrap"]

    @lru_cache(maxsize=256)
    def wrapped(text: str, width: int, break_long_words: bool, wrapstring: str | None,
                break_on_hyphens: bool) -> str:
        return str(wrap(environment, text, width, break_long_words, wrapstring,
                        break_on_hyphens))

    def wordwrap(text: str, width: int = 79, break_long_words: bool = True,
                 wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
        if type(text) is not str:  # Markup, or a value the filter turns into text
            return str(wrap(environment, text, width, break_long_words, wrapstring,
                            break_on_hyphens))
        return wrapped(text, width, break_long_words, wrapstring, break_on_hyphens)

    return wordwrap


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

    def __init__(self, templates_dir: Path, *, reuse_bodies: bool = True) -> None:
        self.templates_dir = templates_dir
        self._environments: dict[tuple[str, Brand, str], Environment] = {}
        self._inlined = lru_cache(maxsize=64)(self._inline)
        self._bodies: _Bodies | None = _Bodies(self) if reuse_bodies else None
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
            environment.filters["wordwrap"] = _cached_wordwrap(environment)
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
        the same stylesheet and brand, so its headings and links match the frame. Cached by
        the HTML, brand and overrides: an announcement is styled once, not once per reader."""
        return self._inlined(html, series.brand, series.templates)

    def _inline(self, html: str, brand: Brand, overrides: str) -> Markup:
        environment = self.for_language(i18n.SOURCE, brand, overrides)
        loader = environment.loader
        assert isinstance(loader, _BrandedLoader)
        return Markup(loader.inliner(environment).source(html))  # noqa: S704 (HTML in, HTML out)

    def render_pair(self, kind: str, context: dict[str, Any],
                    language: str = i18n.SOURCE,
                    series: Series | None = None) -> tuple[str, str]:
        """The plain-text and HTML bodies of one kind of email: rendered once for everyone
        who reads the same thing, then filled with each reader's own values (``_Bodies``)."""
        if series is None or series.templates or self._bodies is None or kind not in REUSED:
            return self.render_templates(kind, context, language, series)
        return self._bodies.render(kind, context, language, series)

    def render_templates(self, kind: str, context: dict[str, Any],
                         language: str = i18n.SOURCE,
                         series: Series | None = None) -> tuple[str, str]:
        """Both templates rendered by Jinja2, nothing reused."""
        return (self.render(f"{kind}.txt", context, language, series),
                self.render(f"{kind}.html", context, language, series))


# -- bodies shared by everyone who reads the same thing -------------------------------------

# Context entries that hold the reader's own values, at any depth: their name, their links
# (a dataclass of URLs), one-click unsubscribe and opt-in URLs, and join links, which may be
# personal (Zoom's). Everything else is the same for every reader of a session in a zone and
# language, and is the cache key.
PERSONAL = frozenset({"name", "links", "unsubscribe", "opt_in_url", "join_url"})
# The kinds sent to many readers at once (a fan-out), whose bodies repeat; a confirmation or
# a dropped session is written for one person at a time, so its body is never met again.
REUSED = frozenset({"reminder", "update", "cancellation", "announcement"})
_SCALARS = frozenset({str, Markup, int, float, bool, type(None)})


class _NotCacheable(Exception):
    """A personal value of a kind the cache does not fill in (rendered as it is)."""


class _Same:
    """A frozen context value compared by identity (the series: one object per revision,
    kept alive by the key, so its id is never another's)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


def _key(value: Any, found: list[str]) -> Hashable:
    """A context as a cache key, the personal values left out (only whether each is empty)
    and appended to ``found`` in the order they are met."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple((name, _personal(item, found) if name in PERSONAL
                             else _key(item, found)) for name, item in value.items()))
    if kind is list or kind is tuple:
        return (kind, tuple(_key(item, found) for item in value))
    if kind in _SCALARS:
        return (kind, value)
    params = getattr(value, "__dataclass_params__", None)
    if params is not None and params.frozen and not isinstance(value, type):
        return _Same(value)  # immutable: the same object renders the same
    raise _NotCacheable(kind.__name__)


def _personal(value: Any, found: list[str]) -> Hashable:
    if type(value) is str:
        if value:
            found.append(value)
        return (str, bool(value))
    if value is None:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        texts = [getattr(value, f.name) for f in fields(value)]
        if not all(type(text) is str for text in texts):
            raise _NotCacheable(type(value).__name__)
        found.extend(text for text in texts if text)
        return (type(value), tuple(bool(text) for text in texts))
    raise _NotCacheable(type(value).__name__)


def _swapped(value: Any, tokens: Iterator[str]) -> Any:
    """The context with each personal value replaced by the next token, met in ``_key``'s
    order."""
    kind = type(value)
    if kind is dict:
        return {name: _swapped_personal(item, tokens) if name in PERSONAL
                else _swapped(item, tokens) for name, item in value.items()}
    if kind is list or kind is tuple:
        return kind(_swapped(item, tokens) for item in value)
    return value


def _swapped_personal(value: Any, tokens: Iterator[str]) -> Any:
    if type(value) is str:
        return next(tokens) if value else value
    if value is None:
        return value
    return replace(value, **{f.name: next(tokens) for f in fields(value)
                             if getattr(value, f.name)})


def _token(index: int) -> str:
    """A stand-in for a personal value, with characters that any transformation of it would
    change (case, escaping, quoting, spacing)."""
    return f"[wn{index}&<é\"' %Zq]"


@dataclass(frozen=True, slots=True)
class _Cut:
    """One rendered body, cut where the reader's values go (an int: which one)."""

    pieces: tuple[str | int, ...]

    def fill(self, values: list[str]) -> str:
        return "".join(p if isinstance(p, str) else values[p] for p in self.pieces)


def _cut(body: str, forms: list[str]) -> _Cut:
    if not forms:
        return _Cut((body,))
    where = {form: index for index, form in enumerate(forms)}
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
    pieces: list[str | int] = []
    at = 0
    for match in pattern.finditer(body):
        pieces += [body[at:match.start()], where[match.group(0)]]
        at = match.end()
    pieces.append(body[at:])
    return _Cut(tuple(pieces))


def _escaped(values: list[str]) -> list[str]:
    return [str(escape(value)) for value in values]


@dataclass(frozen=True, slots=True)
class _Seen:
    """A body rendered once, for one reader: kept to check the cut made the next time."""

    values: tuple[str, ...]
    text: str
    html: str


class _Bodies:
    """Bodies rendered once per everything but the reader: for a reminder, once per session,
    zone, language and minute, not once per person.

    The first email with a key is rendered as it is, and kept. The second is rendered with
    stand-ins for the personal values and cut where they appear (escaped in HTML, as Jinja
    escapes them); the cut is kept only if, filled with the first reader's values, it gives
    the first email exactly, so a template that changes a personal value (a filter, a slice)
    is rendered in full every time. A test on a value's content (``"@" in name``) could pass
    that check by chance: ``tests/test_email_caches.py`` holds our templates to printing,
    passing on and testing for emptiness, and a series' own templates are never reused.
    So each email costs at most one render (two for the one whose check fails), and the
    bodies of a fan-out far less. Bounded (least recently used out); safe across threads."""

    def __init__(self, renderer: Renderer, size: int = 512) -> None:
        self.renderer = renderer
        self.size = size
        # _Seen: rendered once; a cut pair: filled per reader; None: always rendered in full
        self._known: OrderedDict[Hashable, _Seen | tuple[_Cut, _Cut] | None] = OrderedDict()
        self._lock = Lock()

    def render(self, kind: str, context: dict[str, Any], language: str,
               series: Series) -> tuple[str, str]:
        found: list[str] = []
        render = self.renderer.render_templates
        try:
            key = (kind, language, series.brand, _key(context, found))
        except _NotCacheable:
            return render(kind, context, language, series)
        with self._lock:
            seen = key in self._known
            known = self._known.get(key)
            if seen:
                self._known.move_to_end(key)
        if not seen:
            text, html = render(kind, context, language, series)
            self._keep(key, _Seen(tuple(found), text, html))
            return text, html
        if isinstance(known, _Seen):
            known = self._cut(kind, context, language, series, known)
            self._keep(key, known)
        if known is None:
            return render(kind, context, language, series)
        text_cut, html_cut = known
        return text_cut.fill(found), html_cut.fill(_escaped(found))

    def _keep(self, key: Hashable, value: _Seen | tuple[_Cut, _Cut] | None) -> None:
        with self._lock:
            self._known[key] = value
            self._known.move_to_end(key)
            if len(self._known) > self.size:
                self._known.popitem(last=False)

    def _cut(self, kind: str, context: dict[str, Any], language: str, series: Series,
             first: _Seen) -> tuple[_Cut, _Cut] | None:
        tokens = [_token(i) for i in range(len(first.values))]
        text, html = self.renderer.render_templates(kind, _swapped(context, iter(tokens)),
                                                    language, series)
        cut = (_cut(text, tokens), _cut(html, _escaped(tokens)))
        values = list(first.values)
        if (cut[0].fill(values), cut[1].fill(_escaped(values))) != (first.text, first.html):
            return None
        return cut
