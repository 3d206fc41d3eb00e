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


# The table's compact widths in rem (queues.css sets the same on each column's header); the
# subject takes what is left. A column set whose widths leave the subject at least
# SUBJECT_MIN_REM in a 1440 px window (TABLE_REM wide beside the views) fits the window;
# a wider set scrolls sideways inside the table's own box, number and subject held in place.
COLUMN_WIDTHS_REM: dict[str, float] = {
    "check": 1.75,
    "number": 3.5,
    "requester": 6.75,
    "organization": 6.25,
    "department": 5.75,
    "team": 5.75,
    "assignee": 6.5,
    "status": 5,
    "priority": 4.75,
    "sla": 4.5,
    "updated": 3.75,
    "created": 3.75,
    "channel": 4.5,
    "tags": 6,
}
CUSTOM_WIDTH_REM = 7.0
TABLE_REM = 76.5
SUBJECT_MIN_REM = 21.0


def table_fits(keys: list[str]) -> bool:
    """Whether the columns `keys` (with the selection box) fit a 1440 px window."""
    used = COLUMN_WIDTHS_REM["check"] + sum(
        COLUMN_WIDTHS_REM.get(k, CUSTOM_WIDTH_REM) for k in keys if k != "subject"
    )
    return TABLE_REM - used >= SUBJECT_MIN_REM
