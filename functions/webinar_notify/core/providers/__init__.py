"""Registration form providers: each verifies its own signature and maps its own payload.

Adding a provider (Typeform, Tally, Zoom...) means adding a module here and an entry in
``PROVIDERS``; the intake service and the API route stay as they are.
"""

from __future__ import annotations

from .base import Provider
from .generic import GenericProvider

PROVIDERS: dict[str, Provider] = {"generic": GenericProvider()}

__all__ = ["PROVIDERS", "Provider"]
