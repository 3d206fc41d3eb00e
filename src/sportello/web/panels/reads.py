"""What several panels of one ticket page need, read once per request. `ticket_context` makes one
`PageReads` and hands it to the panels in `shared["reads"]`; a panel rendered alone (the history
filter, a refused form) makes its own, and reads as the page would.

Each part is read when a panel first asks for it: every status (the properties form's choices,
the statuses "Send and set" offers, the history's status names), every department, the people
who may work the ticket (the properties form's and the task form's assignees, the names in the
history), the department's layout (the properties, the custom fields a process step asks for),
the requester with the counts of their tickets (the customer panel, the process's facts), and
the configurations' signatures (`core.config`: SLA policies, calendars, tier paths, blueprints).
Nothing outlives the request."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from sportello.accounts.models import Department, Role, Team, User
from sportello.blueprints.models import BlueprintVersion
from sportello.contacts.models import Contact
from sportello.sla import tiers as tier_paths
from sportello.tickets import selectors
from sportello.tickets.models import LayoutField, Message, Status, Ticket

from ..properties_form import PropertyChoices
from ..timeline import Known


class PageReads:
    """One ticket page's reads, for `user` (the agent) and `ticket` (read for them)."""

    def __init__(self, *, user: User, ticket: Ticket) -> None:
        self.user = user
        self.ticket = ticket
        self.memo: dict[str, Any] = {}  # the configurations' signatures, read once (`core.config`)
        # The process version the blueprint panel read, by (blueprint key, version): the
        # history names its states and transitions from it.
        self.blueprint_versions: dict[tuple[str, int], BlueprintVersion] = {}

    def _read(self, name: str) -> Any:
        """A part if a panel has asked for it already (None if not), without reading it."""
        return self.__dict__.get(name)

    @cached_property
    def statuses(self) -> list[Status]:
        """Every status, in their order (a few rows: active or not, each panel picks its own)."""
        return list(Status.objects.order_by("position", "id"))

    @cached_property
    def departments(self) -> list[Department]:
        return list(Department.objects.order_by("name", "id"))

    @cached_property
    def teams(self) -> list[Team]:
        """The department's teams and the ticket's own, by name."""
        ticket = self.ticket
        which = Q(department_id=ticket.department_id)
        if ticket.team_id is not None:
            which |= Q(pk=ticket.team_id)
        return list(Team.objects.filter(which).order_by("name"))

    @cached_property
    def people(self) -> list[User]:
        """The active users who may be given work on the ticket, by name: admins, the people of
        its department (`in_department`; light agents too: a task may go to them) and its
        assignee. One statement for both forms that offer them and the names in the history."""
        ticket = self.ticket
        member = User.departments.through.objects.filter(
            user_id=OuterRef("pk"), department_id=ticket.department_id
        )
        which = Q(role=Role.ADMIN) | Q(in_department=True)
        if ticket.assignee_id is not None:
            which |= Q(pk=ticket.assignee_id)
        return list(
            User.objects.filter(is_active=True)
            .annotate(in_department=Exists(member))
            .filter(which)
            .order_by("name", "id")
        )

    @cached_property
    def layouts(self) -> dict[int, list[LayoutField]]:
        """The ticket's department layout (`tickets.selectors.department_layouts`; an empty one
        is there too: read, not missing)."""
        layouts = selectors.department_layouts(department_ids=[self.ticket.department_id])
        layouts.setdefault(self.ticket.department_id, [])
        return layouts

    def property_choices(self) -> PropertyChoices:
        """What the properties form offers for the ticket's department."""
        return PropertyChoices(
            statuses=self.statuses, departments=self.departments, people=self.people, teams=self.teams
        )

    @cached_property
    def requester(self) -> Contact:
        """The requester, with their organization and how many tickets each has that this agent
        may see (`requester_total`, `organization_total`), in one statement; set on the ticket
        (and the organization, when it is the requester's): the header and a process's facts
        read them there."""
        ticket = self.ticket
        visible = Ticket.objects.filter(selectors.ticket_scope(principal=self.user))
        counts: dict[str, Any] = {
            "requester_total": _count(visible.filter(requester_id=ticket.requester_id), "requester_id")
        }
        if ticket.organization_id is not None:
            counts["organization_total"] = _count(
                visible.filter(organization_id=ticket.organization_id), "organization_id"
            )
        requester = (
            Contact.objects.select_related("organization").annotate(**counts).get(pk=ticket.requester_id)
        )
        ticket.requester = requester
        if ticket.organization_id is not None and ticket.organization_id == requester.organization_id:
            ticket.organization = requester.organization
        return requester

    def known(self, *, messages: Sequence[Message] = ()) -> Known:
        """What the history may name without asking again: what the page has read so far
        (nothing more is read for it), and the authors of `messages`."""
        users: dict[int, User] = {u.pk: u for u in self._read("people") or []}
        users[self.user.pk] = self.user
        contacts: dict[int, Contact] = {}
        requester = self._read("requester")
        if requester is not None:
            contacts[requester.pk] = requester
        for m in messages:
            if m.author_agent is not None:
                users.setdefault(m.author_agent.pk, m.author_agent)
            if m.author_contact is not None:
                contacts.setdefault(m.author_contact.pk, m.author_contact)
        records: dict[str, dict[int, Any]] = {"assignee": users, "requester": contacts}
        if (departments := self._read("departments")) is not None:
            records["department"] = {d.pk: d for d in departments}
        if (teams := self._read("teams")) is not None:
            records["team"] = {t.pk: t for t in teams}
        layouts = self._read("layouts") or {}
        paths = tier_paths.paths_by_department(self.memo) if "signatures" in self.memo else {}
        return Known(
            statuses=self._read("statuses"),
            records=records,
            custom_fields={r.field.key: r.field for rows in layouts.values() for r in rows},
            blueprint_versions=self.blueprint_versions,
            tier_paths={p.key: p for p in paths.values()},
        )


def page_reads(shared: dict[str, Any], request: HttpRequest, ticket: Ticket) -> PageReads:
    """The page's reads (`shared["reads"]`), or this panel's own when it is rendered alone."""
    reads = shared.get("reads")
    if reads is None:
        reads = PageReads(user=request.user, ticket=ticket)  # type: ignore[arg-type]
    return reads


def _count(tickets: QuerySet[Ticket], by: str) -> Coalesce:
    """How many of `tickets` there are, as a scalar subquery (grouped by `by`, their one value).
    `COUNT(*)`, not of a column: the index on (`by`, department) answers alone (an organization
    holds tens of thousands of tickets; reading each row took 20 ms on 1M)."""
    counted = tickets.order_by().values(by).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
