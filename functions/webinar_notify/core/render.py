"""Jinja2 rendering of the email bodies from ``templates/`` (HTML autoescaped, text not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


class Renderer:
    """Compiles each template once per process; a render is then a cached function call."""

    def __init__(self, templates_dir: Path) -> None:
        self.environment = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html",),
                                         default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            keep_trailing_newline=True,
        )

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.environment.get_template(name).render(context)

    def render_pair(self, kind: str, context: dict[str, Any]) -> tuple[str, str]:
        """The plain-text and HTML bodies of one kind of email."""
        return self.render(f"{kind}.txt", context), self.render(f"{kind}.html", context)
