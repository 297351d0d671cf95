"""Markdown as a plain-text email part: what the HTML part says, without any Markdown marker.

Walks markdown-it's syntax tree (the same parser and preset the HTML part uses), so what is
emphasis, a link or a list is decided once, by the parser: emphasis loses its markers, a link
reads "text (url)", an autolink is its URL, list items start with "- " or "1. ", a heading
is its own line underlined, a quote is marked with "> ". Paragraphs wrap at 72 characters and
no URL is ever broken. The result depends only on the Markdown, so it is cached: an
announcement to ten thousand people is converted once.
"""

from __future__ import annotations

import textwrap
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

WIDTH = 72
_MARKDOWN = MarkdownIt("js-default")  # the preset of the HTML part: CommonMark, raw HTML off


@lru_cache(maxsize=256)
def markdown_to_text(source: str, width: int = WIDTH) -> str:
    """The readable plain text of a Markdown document, ending with one newline."""
    blocks = _blocks(SyntaxTreeNode(_MARKDOWN.parse(source)).children, width)
    return "\n\n".join(blocks).strip("\n") + "\n"


def _blocks(nodes: list[SyntaxTreeNode], width: int) -> list[str]:
    return [text for node in nodes if (text := _block(node, width))]


def _block(node: SyntaxTreeNode, width: int) -> str:
    kind = node.type
    if kind == "paragraph":
        return _wrap(_inline_of(node), width)
    if kind == "heading":
        title = _inline_of(node)
        return f"{title}\n{('=' if node.tag == 'h1' else '-') * min(len(title), width)}"
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, width)
    if kind == "blockquote":
        inner = "\n\n".join(_blocks(node.children, max(width - 2, 20)))
        return "\n".join(f"> {line}".rstrip() for line in inner.split("\n"))
    if kind in ("fence", "code_block"):
        return "\n".join(f"    {line}".rstrip() for line in node.content.rstrip("\n").split("\n"))
    if kind == "hr":
        return "-" * 20
    if kind == "table":
        return _table(node)
    if kind == "html_block":  # never with raw HTML off; kept as the text it is
        return node.content.strip("\n")
    return "\n\n".join(_blocks(node.children, width))


def _list(node: SyntaxTreeNode, width: int) -> str:
    start = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else 0
    tight = all(child.hidden for item in node.children for child in item.children
                if child.type == "paragraph")
    items = []
    for number, item in enumerate(node.children, start=start):
        marker = f"{number}. " if node.type == "ordered_list" else "- "
        indent = " " * len(marker)
        body = ("\n" if tight else "\n\n").join(
            _blocks(item.children, max(width - len(marker), 20)))
        lines = body.split("\n") if body else [""]
        items.append("\n".join([marker + lines[0]] +
                               [(indent + line).rstrip() for line in lines[1:]]))
    return ("\n" if tight else "\n\n").join(items)


def _table(node: SyntaxTreeNode) -> str:
    rows = [row for section in node.children for row in section.children]
    return "\n".join(" | ".join(_inline_of(cell) for cell in row.children) for row in rows)


def _inline_of(node: SyntaxTreeNode) -> str:
    return "".join(_inline(child) for child in node.children).strip()


def _inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "inline":
        return "".join(_inline(child) for child in node.children)
    if kind in ("text", "code_inline", "html_inline"):
        return node.content
    if kind == "softbreak":
        return " "
    if kind == "hardbreak":
        return "\n"
    if kind == "link":
        return _link("".join(_inline(child) for child in node.children),
                     str(node.attrs.get("href", "")), auto=node.info == "auto")
    if kind == "image":
        alt = "".join(_inline(child) for child in node.children)
        return _link(alt, str(node.attrs.get("src", "")), auto=False)
    return "".join(_inline(child) for child in node.children)  # em, strong, s: no markers


def _link(text: str, url: str, *, auto: bool) -> str:
    if auto:
        return text  # an autolink shows its URL, or the address of a mailto:
    if not text or text == url:
        return url
    if url == f"mailto:{text}":
        return text
    return f"{text} ({url})"


def _wrap(text: str, width: int) -> str:
    """Each line (hard breaks kept) filled to ``width``; long words such as URLs stay whole."""
    return "\n".join(textwrap.fill(line, width, break_long_words=False,
                                   break_on_hyphens=False) or line
                     for line in text.split("\n"))
