"""Every kind of email in one place each: its payload (what a queued job carries beyond the
person and the sessions) and its composer, in ``core/kinds/<kind>.py``; its templates are
``templates/<kind>.html`` and ``.txt``, its words in the catalogs. See docs/email_kinds.md.
"""

from __future__ import annotations

from typing import Any

from .announcement import ANNOUNCEMENT, AnnouncementPayload
from .cancellation import CANCELLATION, CancellationPayload
from .certificate import CERTIFICATE, CertificateFile, CertificatePayload
from .common import Kind
from .confirmation import CONFIRMATION, ConfirmationPayload
from .declined import DECLINED, DeclinedPayload
from .pending import PENDING, PendingPayload
from .reminder import REMINDER, ReminderPayload
from .update import UPDATE, UpdatePayload
from .waitlisted import WAITLISTED, WaitlistedPayload

Payload = (ConfirmationPayload | ReminderPayload | UpdatePayload | CancellationPayload
           | AnnouncementPayload | WaitlistedPayload | PendingPayload | DeclinedPayload
           | CertificatePayload)
REGISTRY: dict[str, Kind[Any]] = {kind.name: kind for kind in (
    CONFIRMATION, REMINDER, UPDATE, CANCELLATION, ANNOUNCEMENT, WAITLISTED, PENDING, DECLINED,
    CERTIFICATE)}

__all__ = ["REGISTRY", "AnnouncementPayload", "CancellationPayload", "CertificateFile",
           "CertificatePayload", "ConfirmationPayload",
           "DeclinedPayload", "Kind", "Payload", "PendingPayload", "ReminderPayload",
           "UpdatePayload", "WaitlistedPayload"]
