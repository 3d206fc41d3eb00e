"""The Console's sections, registered once: its navigation and its overview are drawn from this
list, so a section appears in both when it exists and nowhere before. Groups follow an admin
centre's (People, Channels, Workflows, Service levels, Apps and integrations, Account); a group
with no section yet is not shown."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the `section` a page names to be the current one
    group: Promise
    label: Promise
    description: Promise
    url_name: str


GROUPS: tuple[Promise, ...] = (
    _("People"),
    _("Channels"),
    _("Workflows"),
    _("Service levels"),
    _("Apps and integrations"),
    _("Account"),
)

SECTIONS: tuple[Section, ...] = (
    Section(
        key="tokens",
        group=GROUPS[4],
        label=_("API tokens"),
        description=_(
            "Every agent's tokens for the REST API: who holds them, when they were last used; revoke any."
        ),
        url_name="console:tokens",
    ),
    Section(
        key="departments",
        group=GROUPS[2],
        label=_("Departments and layouts"),
        description=_(
            "The desk's departments and, for each, the fields of its tickets: order, required, "
            "picklist values, with a preview."
        ),
        url_name="console:departments",
    ),
    Section(
        key="fields",
        group=GROUPS[2],
        label=_("Custom fields"),
        description=_("The ticket fields the desk adds to its own: text, numbers, dates, picklists."),
        url_name="console:fields",
    ),
    Section(
        key="statuses",
        group=GROUPS[2],
        label=_("Statuses"),
        description=_("The statuses tickets move through, each in its fixed category."),
        url_name="console:statuses",
    ),
)


def grouped() -> list[tuple[Promise, list[Section]]]:
    """The groups that have sections, in the Console's order, each with its sections."""
    return [(g, [s for s in SECTIONS if s.group == g]) for g in GROUPS if any(s.group == g for s in SECTIONS)]
