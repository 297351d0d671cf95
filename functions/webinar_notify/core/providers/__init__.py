"""Registration form providers: each verifies its own signature and maps its own payload.

Adding a provider (Typeform, Tally, Zoom...) means adding a module here and an entry in
``PROVIDERS``; the intake service and the API route stay as they are.
"""

from __future__ import annotations

from .base import Attendance, Delivery, DirectAnswer, FetchFirst, Provider
from .eventbrite import EventbriteProvider
from .generic import GenericProvider
from .jotform import JotformProvider
from .msforms import MicrosoftFormsProvider
from .tally import TallyProvider
from .typeform import TypeformProvider
from .zoom import ZoomProvider

PROVIDERS: dict[str, Provider] = {
    provider.name: provider
    for provider in (GenericProvider(), TypeformProvider(), TallyProvider(), ZoomProvider(),
                     MicrosoftFormsProvider(), JotformProvider(), EventbriteProvider())
}

__all__ = ["PROVIDERS", "Attendance", "Delivery", "DirectAnswer", "EventbriteProvider",
           "FetchFirst", "Provider"]
