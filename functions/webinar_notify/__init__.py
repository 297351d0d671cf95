"""webinar-notify: confirmations, reminders and calendar entries for webinar series.

Layers: ``core`` is pure (no I/O, no clock), ``adapters`` talk to AWS or stand in for it,
``services`` compose the two into use cases, ``entrypoints`` translate Lambda events, and
``bootstrap`` is the one place that wires real adapters.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
