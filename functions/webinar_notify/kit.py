"""Where the files the commands need beyond the code are: the email and page templates, the
SAM template the local runner builds its resources from, the demo scenario and the seed and
sandbox series it plays.

A checkout keeps them at its top (``templates/``, ``infra/``, ``scenarios/``, ``series/``),
where SAM, the docs and organisers point. A wheel carries a copy of them, in the same layout,
in ``webinar_notify/kit_files/`` (``setup.py`` copies them there at build time), so that an
installed ``webinar-notify demo`` or ``serve`` works from any directory. This module is the one
place that knows both: the packaged copy when there is one, else the checkout the package was
imported from (an editable install). Only the standard library: every function imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .core.errors import WebinarNotifyError

# What a wheel carries, relative to the top of a checkout (a folder is taken whole).
FILES = (
    "templates",
    "infra/template.yaml",
    "scenarios/demo.yaml",
    "series/reirradiation-2023.yaml",
    "series/sandbox.yaml",
)
PACKAGED_DIR = "kit_files"  # inside the package, in a wheel

_PACKAGE = Path(__file__).resolve().parent
_MARKER = "infra/template.yaml"


class KitMissing(WebinarNotifyError):
    """The package was installed without its files (a broken or partial install)."""


def root() -> Path:
    """The folder holding ``templates/``, ``infra/``, ``scenarios/`` and ``series/``."""
    packaged = _PACKAGE / PACKAGED_DIR
    if (packaged / _MARKER).is_file():
        return packaged
    checkout = _PACKAGE.parent.parent  # <checkout>/functions/webinar_notify (pyproject.toml)
    if (checkout / _MARKER).is_file():
        return checkout
    raise KitMissing(f"webinar-notify's own files ({', '.join(FILES)}) are neither in the "
                     f"package ({packaged}) nor in a checkout: reinstall webinar-notify")


def templates() -> Path:
    """The email and page templates: ``TEMPLATES_DIR`` when set (the Lambda artifact keeps
    them beside the package and the SAM template says where), else the kit's."""
    configured = os.environ.get("TEMPLATES_DIR")
    return Path(configured) if configured else root() / "templates"


def sam_template() -> Path:
    return root() / "infra" / "template.yaml"


def demo_scenario() -> Path:
    return root() / "scenarios" / "demo.yaml"


def sandbox_series() -> Path:
    """The series ``serve`` offers by default: its sessions are ahead."""
    return root() / "series" / "sandbox.yaml"
