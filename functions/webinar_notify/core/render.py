"""Jinja2 rendering of the email bodies from ``templates/`` (HTML autoescaped, text not).

Templates mark their words with ``_("...")`` and ``ngettext(...)`` (Jinja2's i18n extension,
as Babel extracts them). Each language has its own Environment with its catalog, made on first
use; there a message without values is translated once, when its template compiles, so the
per-email cost of a translated template is that of a plain one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.support import NullTranslations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.nodes import EvalContext
from jinja2.utils import pass_eval_context
from markupsafe import Markup, escape

from . import i18n

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


class Renderer:
    """Compiles each template once per process and language."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._environments: dict[str, Environment] = {}
        self.environment = self.for_language(i18n.SOURCE)

    def for_language(self, language: str) -> Environment:
        known = language if language in i18n.LANGUAGES else i18n.SOURCE
        environment = self._environments.get(known)
        if environment is None:
            environment = Environment(
                loader=FileSystemLoader(str(self.templates_dir)),
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
            self._environments[known] = environment
        return environment

    def render(self, name: str, context: dict[str, Any], language: str = i18n.SOURCE) -> str:
        return self.for_language(language).get_template(name).render(context)

    def render_pair(self, kind: str, context: dict[str, Any],
                    language: str = i18n.SOURCE) -> tuple[str, str]:
        """The plain-text and HTML bodies of one kind of email."""
        return (self.render(f"{kind}.txt", context, language),
                self.render(f"{kind}.html", context, language))
