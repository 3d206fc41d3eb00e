"""The columns of the ticket table and the sorts it offers. A column key is a standard name below
or `custom.<key>` for a custom field."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sportello.core.paging import SortKey

CUSTOM = "custom."

STANDARD_COLUMNS: dict[str, Promise] = {
    "number": _("Number"),
    "subject": _("Subject"),
    "requester": _("Requester"),
    "organization": _("Organization"),
    "department": _("Department"),
    "team": _("Team"),
    "assignee": _("Assignee"),
    "status": _("Status"),
    "priority": _("Priority"),
    "sla": _("SLA"),
    "updated": _("Updated"),
    "created": _("Created"),
    "channel": _("Channel"),
    "tags": _("Tags"),
}
# Always shown: a row needs its number and subject to be a row.
REQUIRED_COLUMNS = ("number", "subject")
DEFAULT_COLUMNS = [
    "number",
    "subject",
    "requester",
    "organization",
    "department",
    "assignee",
    "status",
    "priority",
    "sla",
    "updated",
    "tags",
]
COLUMNS_MAX = 20

# Column key -> how it sorts (non-null columns of the ticket row; `id` breaks ties).
SORTS: dict[str, SortKey] = {
    "number": SortKey("number"),
    "subject": SortKey("subject", kind="str"),
    "priority": SortKey("priority"),
    "status": SortKey("status_category", kind="str"),
    "updated": SortKey("updated_at", kind="datetime"),
    "created": SortKey("created_at", kind="datetime"),
}
DEFAULT_SORT = "-priority,created"


def is_column(key: str, custom_keys: set[str]) -> bool:
    return key in STANDARD_COLUMNS or (key.startswith(CUSTOM) and key.removeprefix(CUSTOM) in custom_keys)
