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
        key="surveys",
        group=GROUPS[2],
        label=_("Satisfaction survey"),
        description=_(
            "Per department: whether customers are asked to rate the support after a solve, when, "
            "on which scale, with the effort and recommendation questions, and one reminder."
        ),
        url_name="console:surveys",
    ),
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
        key="config",
        group=GROUPS[5],
        label=_("Export and import"),
        description=_(
            "The whole desk's configuration as one YAML document: download it, "
            "or import one after a preview of every change."
        ),
        url_name="console:config",
    ),
    Section(
        key="rules",
        group=GROUPS[2],
        label=_("Event and time rules"),
        description=_(
            "Rules that act on new and changed tickets, and on tickets that wait; "
            "try one on recent tickets before saving."
        ),
        url_name="console:rules",
    ),
    Section(
        key="audit",
        group=GROUPS[5],
        label=_("Change history"),
        description=_(
            "Every change to the desk's configuration: who saved what and when, the difference with the "
            "version before, and a way back to any earlier version."
        ),
        url_name="console:audit",
    ),
    Section(
        key="calendars",
        group=GROUPS[3],
        label=_("Business calendars"),
        description=_(
            "Opening hours by weekday, time zone and holidays — typed in or imported for a country — "
            "that business-hours SLA targets count in."
        ),
        url_name="console:calendars",
    ),
    Section(
        key="sla_policies",
        group=GROUPS[3],
        label=_("SLA policies"),
        description=_(
            "How fast each kind of ticket must be answered and solved, per priority; warnings "
            "before a breach and what happens after."
        ),
        url_name="console:sla_policies",
    ),
    Section(
        key="tier_paths",
        group=GROUPS[3],
        label=_("Tier paths"),
        description=_("Each department's support tiers in order: the team a ticket moves to when escalated."),
        url_name="console:tier_paths",
    ),
    Section(
        key="mailboxes",
        group=GROUPS[1],
        label=_("Mailboxes"),
        description=_(
            "The addresses the desk receives mail at: their department, the IMAP account they are "
            "read from (test the connection), and how an MTA delivers instead."
        ),
        url_name="console:mailboxes",
    ),
    Section(
        key="portal",
        group=GROUPS[1],
        label=_("Customer portal"),
        description=_(
            "The customers' portal: on or off, the desk's name, logo and colour, and its default language."
        ),
        url_name="console:portal",
    ),
    Section(
        key="quarantine",
        group=GROUPS[1],
        label=_("Quarantine"),
        description=_(
            "Mail the intake held back, with the reason: read it safely, release it or discard it."
        ),
        url_name="console:quarantine",
    ),
    Section(
        key="templates",
        group=GROUPS[1],
        label=_("Notification templates"),
        description=_(
            "The e-mails sent on each event, per language: edit with placeholders and a live preview."
        ),
        url_name="console:templates",
    ),
    Section(
        key="webhooks",
        group=GROUPS[4],
        label=_("Webhooks"),
        description=_(
            "The secrets that sign webhook deliveries, and every delivery with its status; retry one."
        ),
        url_name="console:webhooks",
    ),
    Section(
        key="agents",
        group=GROUPS[0],
        label=_("Agents"),
        description=_(
            "Invite agents by e-mail, set their role and departments, deactivate or reactivate them."
        ),
        url_name="console:agents",
    ),
    Section(
        key="teams",
        group=GROUPS[0],
        label=_("Teams"),
        description=_("Groups of agents within a department, for routing and assignment."),
        url_name="console:teams",
    ),
    Section(
        key="contacts",
        group=GROUPS[0],
        label=_("Contacts"),
        description=_("Customers: search them, edit their address, phone, organization and VIP flag."),
        url_name="console:contacts",
    ),
    Section(
        key="organizations",
        group=GROUPS[0],
        label=_("Organizations"),
        description=_("Customers' companies: their e-mail domains, tier and VIP flag."),
        url_name="console:organizations",
    ),
    Section(
        key="round-robin",
        group=GROUPS[2],
        label=_("Round robin"),
        description=_(
            "Assignment policies: who takes tickets in turn, how many each may hold, "
            "and who gets the next one."
        ),
        url_name="console:policies",
    ),
    Section(
        key="direct-assignment",
        group=GROUPS[2],
        label=_("Direct assignment"),
        description=_("Send new tickets that match one condition straight to an agent or a team."),
        url_name="console:direct",
    ),
    Section(
        key="macros",
        group=GROUPS[2],
        label=_("Macros"),
        description=_("Bundles of actions agents apply in one click; preview one on a ticket."),
        url_name="console:macros",
    ),
    Section(
        key="canned",
        group=GROUPS[2],
        label=_("Canned responses"),
        description=_("Reply texts agents insert into their answers; preview one on a ticket."),
        url_name="console:canned",
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
    Section(
        key="blueprints",
        group=GROUPS[2],
        label=_("Blueprints"),
        description=_(
            "A department's process as states and transitions: who moves a ticket on, "
            "what they must fill in, how long each step may take."
        ),
        url_name="console:blueprints",
    ),
)


def grouped() -> list[tuple[Promise, list[Section]]]:
    """The groups that have sections, in the Console's order, each with its sections."""
    return [(g, [s for s in SECTIONS if s.group == g]) for g in GROUPS if any(s.group == g for s in SECTIONS)]
