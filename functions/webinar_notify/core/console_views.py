"""What the organiser console shows, worked out from stored values without any I/O: session
times in two zones, rows of the registrant list, delivery rates against SES's review
thresholds, audit lines without addresses, CSV cells that no spreadsheet runs as a formula.

Every view is plain JSON-able data: the console's pages render it and the read API returns it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .counts import MailRecord, SeriesCounts
from .durations import format_duration
from .registration import Registration
from .schedule import Slot
from .series import Series, Session
from .tasks import AnnouncementTask, Notice
from .times import clock, day

# SES reviews an account whose bounce rate reaches 5 % (at risk: 10 %) and whose complaint
# rate reaches 0.1 % (at risk: 0.5 %), measured over its recent sending.
THRESHOLDS: Mapping[str, tuple[float, float]] = {"bounced": (0.05, 0.10),
                                                 "complained": (0.001, 0.005)}
MAIL_STATES = ("sent", "delivered", "bounced", "soft_bounced", "complained", "rejected",
               "delayed", "expired")
STATE_LABELS = {"sent": "Sent", "delivered": "Delivered", "bounced": "Bounced (hard)",
                "soft_bounced": "Bounced (soft)", "complained": "Complained",
                "rejected": "Rejected", "delayed": "Delayed",
                "expired": "Expired (too late to send)", "": "Sent, no news yet"}
KIND_LABELS = {"confirmation": "Confirmation", "reminder": "Reminder", "update": "Update",
               "cancellation": "Cancellation", "announcement": "Announcement",
               "new_session": "New session"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("registrant_id", "name", "email", "time_zone", "status", "opted_in",
               "whole_series", "sessions", "interests", "attended", "suppressed",
               "reminders_off", "announcements_off", "consent")


@dataclass(frozen=True, slots=True)
class Due:
    """Something the scheduler will send: when, what, and to about how many people."""

    when: datetime
    kind: str
    key: str
    session: str
    label: str
    recipients: int | None  # None: counted when it goes (an interest list, attendance)
    cancellable: str = ""  # an announcement's id, when it can still be cancelled


def moment_in(moment: datetime, zone: str) -> str:
    """"Thu 26 Oct 2023 15:00 CEST": a moment as read in one zone."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{day(local)} {clock(local)}"


def session_row(series: Series, session: Session, counts: SeriesCounts, viewer_zone: str,
                now: datetime) -> dict[str, Any]:
    """One session on the overview: its time in both zones, state, link and registrations."""
    if session.cancelled:
        status = "cancelled"
    elif session.end <= now:
        status = "took place"
    elif session.start <= now:
        status = "live now"
    else:
        status = "scheduled"
    return {
        "id": session.id, "title": session.title, "status": status,
        "starts_series_zone": moment_in(session.start, series.time_zone),
        "starts_viewer_zone": moment_in(session.start, viewer_zone),
        "start_utc": session.start.isoformat(), "minutes": int(session.duration.total_seconds()
                                                               // 60),
        "join_link": join_link_state(session, "zoom" in series.forms),
        "join_link_needed": status in ("scheduled", "live now"),
        "registered": counts.session_registered(session.id),
        "sent": counts.mail_count("sent", session=session.id),
    }


def join_link_state(session: Session, personal_links: bool) -> str:
    """"set", "personal links" (a provider gives each registrant their own) or "missing"."""
    if personal_links:
        return "personal links"
    return "set" if session.join_url else "missing"


def upcoming(series: Series, reminders: Iterable[Slot],
             stored: Iterable[Notice | AnnouncementTask], settled: set[str],
             counts: SeriesCounts, now: datetime) -> list[Due]:
    """The emails still to go, soonest first. Counts come from the kept counters (a constant
    cost, whatever the series' size): the session's registrants for a reminder or notice, the
    whole series for an announcement to all; exact numbers are decided when each one goes."""
    due: list[Due] = []
    for slot in reminders:
        if slot.key in settled or slot.closes <= now:
            continue
        title = _title(series, slot.session_id)
        due.append(Due(slot.opens, "reminder", slot.key, slot.session_id,
                       f"Reminder {format_duration(slot.offset)} before {title}",
                       counts.session_registered(slot.session_id)))
    for task in stored:
        if task.key in settled or task.closes <= now:
            continue
        if isinstance(task, AnnouncementTask):
            announcement = task.announcement
            audience = announcement.audience
            due.append(Due(announcement.send_at, "announcement", task.key,
                           ",".join(audience.values),
                           f"Announcement \u201c{announcement.subject}\u201d to "
                           f"{audience_label(series, audience.kind, audience.values)}",
                           audience_estimate(announcement.audience.kind,
                                             announcement.audience.values, counts),
                           cancellable=announcement.id))
        else:
            label = {"update": "Update", "cancellation": "Cancellation",
                     "new_session": "New session"}[task.kind]
            recipients = counts.whole_series if task.kind == "new_session" \
                else counts.session_registered(task.session_id)
            due.append(Due(task.opens, task.kind, task.key, task.session_id,
                           f"{label} notice of {_title(series, task.session_id)}", recipients))
    return sorted(due, key=lambda d: (d.when, d.key))


def audience_estimate(kind: str, values: tuple[str, ...], counts: SeriesCounts) -> int | None:
    """Whom an announcement reaches, from the counters: everyone registered, or the
    registrants of its sessions (a person in two of them counted in both: an upper bound)."""
    if kind == "all":
        return counts.registered
    if kind == "sessions":
        return sum(counts.session_registered(s) for s in values)
    return None


def audience_label(series: Series, kind: str, values: tuple[str, ...]) -> str:
    """Whom an announcement is for, in words ("everyone registered", "those registered for
    <title>"), as the compose form's choices name them."""
    titles = ", ".join(_title(series, v) for v in values)
    if kind == "all":
        return "everyone registered"
    if kind == "sessions":
        return f"those registered for {titles}"
    if kind == "interest":
        item = next((c for c in series.coming if c.id in values), None)
        return f"those who asked to hear about {item.title if item else titles}"
    if kind == "attended":
        return f"those who attended {titles}"
    if kind == "absent":
        return f"those registered for {titles} but absent"
    return titles or kind


def due_view(due: Due, series_zone: str, viewer_zone: str) -> dict[str, Any]:
    return {"when_series_zone": moment_in(due.when, series_zone),
            "when_viewer_zone": moment_in(due.when, viewer_zone),
            "when_utc": due.when.isoformat(), "kind": due.kind, "key": due.key,
            "session": due.session, "label": due.label, "recipients": due.recipients,
            "cancellable": due.cancellable}


def mail_table(series: Series, counts: SeriesCounts) -> list[dict[str, Any]]:
    """What went out, one row per kind and session, with the delivery states of those."""
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for (kind, session, state), n in counts.mail.items():
        if n:
            rows.setdefault((kind, session), {})[state] = n
    order = {s.id: i for i, s in enumerate(series.sessions)}
    return [{"kind": kind, "kind_label": KIND_LABELS.get(kind, kind), "session": session,
             "session_title": _title(series, session) if session else "",
             **{state: states.get(state, 0) for state in MAIL_STATES}}
            for (kind, session), states in sorted(
                rows.items(), key=lambda item: (order.get(item[0][1], -1), item[0][0]))]


def rates(counts: SeriesCounts) -> list[dict[str, Any]]:
    """Bounce and complaint rates with SES's review and at-risk levels."""
    result = []
    for state, (review, at_risk) in THRESHOLDS.items():
        rate = counts.rate(state)
        level = "at risk" if rate >= at_risk else "review" if rate >= review else "healthy"
        result.append({"state": state, "label": STATE_LABELS[state], "rate": rate,
                       "percent": f"{rate * 100:.2f} %", "count": counts.mail_count(state),
                       "review": f"{review * 100:g} %", "at_risk": f"{at_risk * 100:g} %",
                       "level": level})
    return result


def state_totals(counts: SeriesCounts) -> list[dict[str, Any]]:
    return [{"state": state, "label": STATE_LABELS[state], "count": counts.mail_count(state)}
            for state in MAIL_STATES]


def registrant_row(series: Series, registration: Registration,
                   suppressed: bool) -> dict[str, Any]:
    """One person on the registrant list (the organiser sees the address: it is their list)."""
    r = registration
    ids = [s.id for s in series.sessions]
    return {
        "id": r.registrant_id, "name": r.registrant.full_name, "email": r.registrant.email,
        "time_zone": r.registrant.time_zone or series.time_zone,
        "status": status_of(r), "opted_in": r.opted_in, "whole_series": r.whole_series,
        "sessions": r.sessions_in(ids), "consent": consent_summary(r.consent),
        "session_labels": [session_label(series, s) for s in r.sessions_in(ids)],
        "interests": sorted(r.interests), "attended": [s for s in ids if s in r.attended],
        "attended_labels": [session_label(series, s) for s in ids if s in r.attended],
        "suppressed": suppressed, "reminders_off": r.reminders_off,
        "announcements_off": r.announcements_off,
    }


def session_label(series: Series, session_id: str) -> dict[str, str]:
    """A session as a person recognises it: its date in the series' zone, short ("26 Oct")
    for lists and whole ("Thu 26 Oct 2023") for one person's page, and its title; with the
    id for those who know the series by its ids."""
    session = series.session(session_id)
    if session is None:
        return {"id": session_id, "date": "", "day": "", "title": session_id}
    local = session.start.astimezone(series.zone)
    return {"id": session_id, "date": f"{local.day} {local:%b}", "day": day(local),
            "title": session.title}


def status_of(registration: Registration) -> str:
    if registration.status != "active":
        return "cancelled"
    if registration.approval != "approved":  # a series whose organisers approve registrants
        return "awaiting approval" if registration.approval == "pending" else "declined"
    return "registered" if registration.opted_in else "awaiting opt-in"


def consent_summary(consent: str) -> str:
    """The consent a person gave, as "field: value" pairs ("" when none was recorded)."""
    if not consent:
        return ""
    try:
        given = json.loads(consent)
    except ValueError:
        return ""
    if not isinstance(given, dict):
        return _consent_value(given)[:200]
    return "; ".join(f"{k.replace('_', ' ')}: {_consent_value(v)}"
                     for k, v in sorted(given.items()))[:300]


def _consent_value(value: object) -> str:
    """A stored consent value as people read it: yes or no, not True or False."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "not given"
    if isinstance(value, list):
        return ", ".join(_consent_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_consent_value(v)}" for k, v in sorted(value.items()))
    return str(value)


def mail_rows(series: Series, records: Iterable[MailRecord], zone: str) -> list[dict[str, Any]]:
    """One registrant's emails, newest first, with what SES said of each."""
    return [{"kind": m.kind, "kind_label": _mail_label(series, m),
             "sessions": [_title(series, s) for s in m.session_ids],
             "sent_at": m.sent_at, "sent": instant_in(m.sent_at, zone),
             "delivery": m.delivery or "sent",
             "delivery_label": STATE_LABELS.get(m.delivery, m.delivery),
             "delivery_at": instant_in(m.delivery_at, zone) if m.delivery_at else "",
             "detail": m.detail} for m in records]


def _mail_label(series: Series, record: MailRecord) -> str:
    """"Reminder 1d before" rather than "Reminder": the offset whose window held the moment
    it was sent (the smallest one at least as long as the time that was left)."""
    label = KIND_LABELS.get(record.kind, record.kind)
    session = series.session(record.session_ids[0]) if len(record.session_ids) == 1 else None
    if record.kind != "reminder" or session is None or not record.sent_at:
        return label
    try:
        left = session.start - datetime.fromisoformat(record.sent_at.replace("Z", "+00:00"))
    except ValueError:
        return label
    fitting = [o for o in series.offsets_for(session) if o >= left]
    return f"{label} {format_duration(min(fitting))} before" if fitting else label


def audit_row(entry: Mapping[str, Any], names: Mapping[str, str], zone: str
              ) -> dict[str, Any]:
    """Who did what, when, with what result and to how many; never an address (the action's
    request is kept without them, and only its action name and ids are shown here)."""
    who = str(entry.get("who", ""))
    kept = entry.get("request")
    request: Mapping[str, Any] = kept if isinstance(kept, dict) else {}
    name = names.get(who) or str(request.get("by") or "")
    path = str(request.get("path", ""))
    action = str(entry.get("action", ""))
    body = request.get("body")
    asked: Mapping[str, Any] = body if isinstance(body, dict) else {}
    status = entry.get("status")
    recipients = entry.get("recipients")
    described = describe_action(action, asked, _target(path), recipients, zone)
    return {"who": name or _short_caller(who), "caller": who, "action": action,
            "what": _target(path), "label": described.label, "detail": described.detail,
            "when": instant_in(str(entry.get("when", "")), zone),
            "when_utc": str(entry.get("when", "")), "status": status,
            "result": result_label(status, action), "recipients": recipients,
            "emailed": described.emailed, "rows": entry.get("rows")}


@dataclass(frozen=True, slots=True)
class ActionWords:
    """An audited action as an organiser reads it: what was done, on what, and whom it
    emailed ("" when the entry says nothing of that)."""

    label: str
    detail: str = ""
    emailed: str = ""


ACTION_LABELS = {
    "push_series": "Series published", "update_session": "Session changed",
    "cancel_session": "Session cancelled", "record_attendance": "Attendance import started",
    "cancel_announcement": "Scheduled announcement cancelled",
    "follow_up": "Follow-up sent", "export_registrants": "Export of the registrants started",
    "download_export": "Export of the registrants downloaded",
    "cancel_registrant": "Registration cancelled", "erase_registrant": "Registrant's data erased",
    "lift_suppression": "Suppressed address allowed again"}


def describe_action(action: str, asked: Mapping[str, Any], target: str,
                    recipients: object, zone: str) -> ActionWords:
    """The words for one audit entry. An announcement says whether it was a test copy to
    the organiser, one scheduled for later, or one sent, from what was asked."""
    emailed = str(recipients) if isinstance(recipients, int) else ""
    if action == "announce":
        subject = str(asked.get("subject") or "")
        quoted = f"\u201c{subject[:120]}\u201d" if subject else ""
        if asked.get("test_to"):
            return ActionWords("Test copy of an announcement", quoted,
                               "only the organiser (a test copy)")
        if recipients is None and asked.get("send_at"):
            when = instant_in(str(asked["send_at"]), zone)
            return ActionWords("Announcement scheduled", f"{quoted} for {when}".strip(),
                               "none yet")
        return ActionWords("Announcement sent", quoted, emailed)
    label = ACTION_LABELS.get(action, action.replace("_", " ").capitalize())
    kind, _, rest = target.partition("/")
    on = rest.split("/")[0] if kind in ("sessions", "registrants") else ""
    if kind == "registrants":
        on = f"registrant {on[:8]}\u2026"
    if action in ("update_session", "cancel_session") and asked.get("quiet"):
        return ActionWords(f"{label} quietly", on, emailed or "nobody (quiet)")
    return ActionWords(label, on, emailed)


def result_label(status: object, action: str = "") -> str:
    """An HTTP status as a word: done, accepted (carried on in the background), refused."""
    if not isinstance(status, int):
        return "\u2014"
    if status == 202:
        return "started" if action == "export_registrants" else "accepted"
    if status == 200 and action == "announce":
        return "already taken on: nothing more sent"
    if status < 300:
        return "done"
    if status == 404:
        return "not found"
    if status < 500:
        return "refused"
    return "failed"


def csv_cell(value: object) -> str:
    """A cell no spreadsheet evaluates: text that starts like a formula gets a leading '."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_row(row: Mapping[str, Any]) -> list[str]:
    return [csv_cell(";".join(v) if isinstance(v, list) else
                     ("yes" if v else "no") if isinstance(v, bool) else v)
            for v in (row.get(c, "") for c in _CSV_FIELDS)]


_CSV_FIELDS = ("id", "name", "email", "time_zone", "status", "opted_in", "whole_series",
               "sessions", "interests", "attended", "suppressed", "reminders_off",
               "announcements_off", "consent")


def _short_caller(who: str) -> str:
    if who.startswith("arn:"):
        return "IAM " + who.rsplit("/", 1)[-1]
    return who[:24]


def _target(path: str) -> str:
    """What an action acted on, from its path (series, session, announcement ids only)."""
    parts = [p for p in path.split("/") if p]
    if "series" in parts:
        parts = parts[parts.index("series") + 2:]
    return "/".join(parts)


def instant_in(text: str, zone: str) -> str:
    try:
        return moment_in(datetime.fromisoformat(text), zone)
    except (ValueError, TypeError):
        return text


def _title(series: Series, session_id: str) -> str:
    session = series.session(session_id)
    return session.title if session else session_id


def job_summary(job: Mapping[str, Any]) -> str:
    """A job's progress in words, the same on its page, in its script and in the read API:
    an export counts rows, a fan-out (an announcement sent now) the emails it has queued."""
    done, total, state = int(job.get("done") or 0), job.get("total"), job.get("state")
    if job.get("kind") == "attendance":
        return _attendance_summary(job, done, total)
    if job.get("kind") == "certificates":
        return _certificates_summary(job, done, total)
    if job.get("kind") == "fan_out":
        if state == "done":
            return f"Sent to {people(done)}."
        if state == "failed":
            return f"Following the announcement stopped: {job.get('error') or 'no reason'}."
        about = f" (of about {total})" if total else ""
        return f"Sending the announcement: {done} {'email' if done == 1 else 'emails'} " \
            f"queued{about}."
    if state == "done":
        size = f" ({round(int(job['bytes']) / 1024, 1)} KB)" if "bytes" in job else ""
        return f"Ready: {done} {'registrant' if done == 1 else 'registrants'}, one row " \
            f"each{size}."
    if state == "failed":
        return f"The export failed: {job.get('error') or 'no reason'}."
    about = f" of about {total}" if total else ""
    return f"{'Waiting to start' if state == 'queued' else 'Writing'}: {done}{about} rows so far."


def _certificates_summary(job: Mapping[str, Any], done: int, total: object) -> str:
    """A certificate assessment counts registrants assessed, then the certificates issued."""
    state = job.get("state")
    if state == "done":
        issued, unnamed = int(job.get("issued") or 0), int(job.get("unnamed") or 0)
        words = f"{people(done)} assessed; {issued} " \
            f"{'certificate' if issued == 1 else 'certificates'} issued."
        return words + (f" {unnamed} earned but not issued: a registration with no name, or "
                        "one the certificate's fonts cannot print (the review of attendance "
                        "lists them)." if unnamed else "")
    if state == "failed":
        return f"The certificate assessment failed: {job.get('error') or 'no reason'}."
    about = f" of about {total}" if total else ""
    return f"{'Waiting to start' if state == 'queued' else 'Assessing'}: {done}{about} " \
        "registrants so far."


def _attendance_summary(job: Mapping[str, Any], done: int, total: object) -> str:
    """An attendance import counts addresses: looked up so far, then how many matched."""
    state, session = job.get("state"), job.get("session") or "the session"
    if state == "done":
        recorded, missing = int(job.get("recorded") or 0), int(job.get("not_registered") or 0)
        return f"Attendance of {session} recorded: {people(recorded)} attended; " \
            f"{missing} {'address' if missing == 1 else 'addresses'} matched no registration."
    if state == "failed":
        return f"The attendance import failed: {job.get('error') or 'no reason'}."
    if state == "queued":
        return f"Waiting to start: attendance of {session}, {total or 0} addresses."
    return f"Recording attendance of {session}: {done} of {total or 0} addresses looked up " \
        "so far."


def announced_words(body: Mapping[str, Any], zone: str) -> str:
    """What the compose page says once an announcement is taken on (the answer's body): to
    about how many it goes, from the kept counts, or that it is counted as it goes."""
    state = body.get("status")
    if state == "scheduled":
        when = moment_in(datetime.fromisoformat(str(body["send_at"])), zone)
        reach = body.get("recipients_now")
        return f"Scheduled for {when}; " + (
            f"it would reach about {people(reach)} now." if isinstance(reach, int)
            else "how many it reaches is counted when it goes.")
    if state == "sending":
        reach = body.get("recipients")
        return f"Sending to about {people(reach)}." if isinstance(reach, int) \
            else "Sending (how many is counted as it goes)."
    if state == "exists":
        return "This announcement was already taken on; nothing more was sent."
    return "Done."


def people(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"
