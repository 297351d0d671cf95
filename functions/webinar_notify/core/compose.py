"""From a job and the series to a finished email: the composer of the job's kind.

Each kind of email is one module in core/kinds/ (its payload and its composer) plus a pair of
templates; the sender does not know which kind it sends. Every email is written in the
recipient's language when we speak it (fr-BE reads French), else in the series' default
(core/i18n.py); titles and series text stay as the organisers wrote them. The helpers every
kind shares live in core/kinds/common.py and are importable from here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .announcements import Announcement
from .errors import PayloadError
from .jobs import EmailJob
from .kinds import REGISTRY, CertificateFile
from .kinds.common import (
    SOON,
    Inputs,
    Links,
    city,
    context,
    language_of,
    personal_link,
    preheader,
    session_view,
    unsubscribe_headers,
)
from .render import Renderer
from .series import Series

if TYPE_CHECKING:
    from .mime import Email

__all__ = ["SOON", "Links", "city", "compose", "context", "language_of", "personal_link",
           "preheader", "session_view", "unsubscribe_headers"]


def compose(series: Series, job: EmailJob, *, now: datetime, renderer: Renderer,
            links: Links, announcement: Announcement | None = None,
            certificate: CertificateFile | None = None) -> Email:
    """The email of one job; ``announcement``: the stored announcement an announcement job
    names, ``certificate``: a certificate email's certificate and PDF (the sender reads
    both)."""
    kind = REGISTRY.get(job.kind)
    if kind is None:
        raise PayloadError(f"no composer for {job.kind} emails")
    return kind.compose(series, job, Inputs(now, renderer, links, announcement, certificate))
