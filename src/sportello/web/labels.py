"""Translated display labels for values stored as keys (categories, priorities, field names)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

CATEGORY_LABELS: dict[str, Promise] = {
    "new": pgettext_lazy("status category", "New"),
    "open": pgettext_lazy("status category", "Open"),
    "pending": pgettext_lazy("status category", "Pending"),
    "on_hold": pgettext_lazy("status category", "On hold"),
    "solved": pgettext_lazy("status category", "Solved"),
    "closed": pgettext_lazy("status category", "Closed"),
}

# The built-in statuses as the tickets migration seeds them (key -> name). They are shown
# translated while they keep that name; statuses an admin adds or renames keep their own name.
BUILT_IN_STATUS_NAMES = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "on_hold": "On hold",
    "solved": "Solved",
    "closed": "Closed",
}

PRIORITY_LABELS: dict[str, Promise] = {
    "low": pgettext_lazy("priority", "Low"),
    "normal": pgettext_lazy("priority", "Normal"),
    "high": pgettext_lazy("priority", "High"),
    "urgent": pgettext_lazy("priority", "Urgent"),
}
PRIORITY_BY_VALUE = {1: "low", 2: "normal", 3: "high", 4: "urgent"}

FIELD_LABELS: dict[str, Promise] = {
    "subject": _("Subject"),
    "status": _("Status"),
    "status_category": _("Status category"),
    "priority": _("Priority"),
    "channel": _("Channel"),
    "department": _("Department"),
    "team": _("Team"),
    "assignee": _("Assignee"),
    "requester": _("Requester"),
    "organization": _("Organization"),
    "due_at": _("Due"),
    "tags": _("Tags"),
}

CHANNEL_LABELS: dict[str, Promise] = {
    "email": _("Email"),
    "web": _("Web"),
    "portal": _("Portal"),
    "chat": _("Chat"),
    "phone": _("Phone"),
    "api": _("API"),
    "rule": _("Rule"),
    "system": _("System"),
    "import": _("Import"),
}


def status_label(key: str, name: str = "") -> str:
    if key in BUILT_IN_STATUS_NAMES and name in ("", BUILT_IN_STATUS_NAMES[key]):
        return str(CATEGORY_LABELS[key])
    return name or key


def priority_label(value: int | str) -> str:
    key = PRIORITY_BY_VALUE.get(value, "") if isinstance(value, int) else value
    label = PRIORITY_LABELS.get(key)
    return str(label) if label is not None else str(value)


def category_label(key: str) -> str:
    label = CATEGORY_LABELS.get(key)
    return str(label) if label is not None else key


ROLE_LABELS: dict[str, Promise] = {
    "admin": pgettext_lazy("role", "Admin"),
    "agent": pgettext_lazy("role", "Agent"),
    "light_agent": pgettext_lazy("role", "Light agent"),
}
