"""What several panels of one ticket page need, read once per request. `ticket_context` makes one
`PageReads` and hands it to the panels in `shared["reads"]`; a panel rendered alone (the history
filter, a refused form) makes its own, and reads as the page would.

The page reads its ticket with what it shows of it besides (`page_ticket`: tags, requester and
counts, SLA clocks, e-mail deliveries, colleagues on the ticket), in one statement. What admins
configure is the per-process configuration, under the one signature read of the request
(`core.config`): every status (the properties form's choices, the statuses "Send and set"
offers, the history's status names), the departments, teams and people (`accounts.structure`:
the properties form's and the task form's choices, the names the page and the history show),
the department's layout and the custom fields (`tickets.configuration`), the SLA policies,
calendars, tier paths and blueprints. Each part is taken when a panel first asks for it; a
ticket not read by `page_ticket` has its requester read with its counts in one statement.
Nothing outlives the request; the configuration's rows are shared by the process: never
changed here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from django.db.models import (
    Aggregate,
    Case,
    Count,
    Exists,
    IntegerField,
    JSONField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, JSONObject
from django.http import HttpRequest

from sportello.accounts.models import Department, Role, Team, User
from sportello.accounts.selectors import valid_pk
from sportello.accounts.structure import Structure, structure
from sportello.blueprints.models import BlueprintVersion
from sportello.contacts.models import Contact
from sportello.core.compiled import STATEMENTS
from sportello.core.errors import NotFound
from sportello.outbox.models import OutboxMessage, ReplyMessageId
from sportello.sla import tiers as tier_paths
from sportello.tickets import presence, selectors
from sportello.tickets.configuration import TicketConfiguration, configuration
from sportello.tickets.models import (
    AuthorKind,
    LayoutField,
    Message,
    Status,
    Ticket,
    TicketTag,
    TicketViewer,
)

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
    def structure(self) -> Structure:
        """The desk's departments, teams and people (`accounts.structure`)."""
        return structure(self.memo)

    @cached_property
    def configuration(self) -> TicketConfiguration:
        """The statuses, custom fields and layouts (`tickets.configuration`)."""
        return configuration(self.memo)

    @cached_property
    def statuses(self) -> list[Status]:
        """Every status, in their order (active or not, each panel picks its own)."""
        return list(self.configuration.statuses)

    @cached_property
    def departments(self) -> list[Department]:
        """Every department, by name."""
        return list(self.structure.departments.values())

    @cached_property
    def teams(self) -> list[Team]:
        """The department's teams and the ticket's own, by name."""
        ticket = self.ticket
        return [
            t
            for t in self.structure.teams.values()
            if t.department_id == ticket.department_id or t.pk == ticket.team_id
        ]

    @cached_property
    def people(self) -> list[User]:
        """The active users who may be given work on the ticket, by name: admins, the people of
        its department (`members`; light agents too: a task may go to them) and its assignee.
        For both forms that offer them."""
        ticket = self.ticket
        members = self.members
        return [
            u
            for u in self.structure.users.values()
            if u.is_active and (u.role == Role.ADMIN or u.pk in members or u.pk == ticket.assignee_id)
        ]

    @cached_property
    def members(self) -> frozenset[int]:
        """The ids of the users who are members of the ticket's department."""
        department_id = self.ticket.department_id
        return frozenset(u for u, ds in self.structure.member_of.items() if department_id in ds)

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
            statuses=self.statuses,
            departments=self.departments,
            people=self.people,
            members=self.members,
            teams=self.teams,
        )

    @cached_property
    def requester(self) -> Contact:
        """The requester, with their organization and how many tickets each has that this agent
        may see (`requester_total`, `organization_total`): read with the ticket (`page_ticket`),
        else in one statement, set on the ticket (and the organization, when it is the
        requester's): the header and a process's facts read them there."""
        ticket = self.ticket
        if hasattr(ticket, "requester_total") and Ticket.requester.is_cached(ticket):
            requester = ticket.requester
            requester.requester_total = ticket.requester_total  # type: ignore[attr-defined]
            requester.organization_total = ticket.organization_total  # type: ignore[attr-defined]
            return requester
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
        """What the history may name without asking again: the desk's people, departments,
        teams, statuses and custom fields (the per-process configuration), the requester, the
        authors of `messages`, the processes and tier paths the page has read."""
        found = self.structure
        users: dict[int, User] = dict(found.users)
        contacts: dict[int, Contact] = {}
        requester = self._read("requester")
        if requester is not None:
            contacts[requester.pk] = requester
        for m in messages:
            if m.author_agent is not None:
                users.setdefault(m.author_agent.pk, m.author_agent)
            if m.author_contact is not None:
                contacts.setdefault(m.author_contact.pk, m.author_contact)
        records: dict[str, Mapping[int, Any]] = {
            "assignee": users,
            "requester": contacts,
            "department": found.departments,
            "team": found.teams,
        }
        paths = tier_paths.paths_by_department(self.memo) if "signatures" in self.memo else {}
        return Known(
            statuses=self.statuses,
            records=records,
            custom_fields=self.configuration.fields,
            blueprint_versions=self.blueprint_versions,
            tier_paths={p.key: p for p in paths.values()},
        )


def name_records(ticket: Ticket, memo: dict[str, Any]) -> None:
    """Set the ticket's status, department, team and assignee, which the page shows, from the
    desk's (`accounts.structure`, `tickets.configuration`): no statement."""
    desk = structure(memo)
    # One made since the configuration's signature was read is left to be read as it is shown.
    if (status := configuration(memo).by_id.get(ticket.status_id)) is not None:
        ticket.status = status
    if (department := desk.departments.get(ticket.department_id)) is not None:
        ticket.department = department
    if (team := desk.teams.get(ticket.team_id)) is not None:  # type: ignore[arg-type]
        ticket.team = team
    if (assignee := desk.users.get(ticket.assignee_id)) is not None:  # type: ignore[arg-type]
        ticket.assignee = assignee


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


# -- the page's ticket ---------------------------------------------------------------------------


class _JSONRows(Aggregate):
    """The aggregated values as one JSON array (SQLite's `JSON_GROUP_ARRAY`, PostgreSQL's
    `JSONB_AGG`), in no particular order."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(compiler, connection, function="JSONB_AGG", **extra_context)


def json_rows(rows: QuerySet[Any], by: str, **fields: Any) -> Subquery:
    """`rows` (each one `by`, their one value) as a JSON array of objects with `fields`, as a
    scalar subquery: NULL when there is none."""
    aggregated = rows.order_by().values(by).annotate(json_rows=_JSONRows(JSONObject(**fields)))
    return Subquery(aggregated.values("json_rows"), output_field=JSONField())


def json_at(value: Any) -> datetime | None:
    """An instant written into JSON by the database (ISO text; SQLite's without its UTC offset)."""
    if not isinstance(value, str):
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _page_queryset(user: User, ticket_id: int, now: datetime) -> QuerySet[Ticket]:
    """`page_ticket`'s statement (its reader's scope, the ticket's id, the instant)."""
    visible = Ticket.objects.filter(selectors.ticket_scope(principal=user))
    replies = Message.objects.filter(public=True, author_kind=AuthorKind.AGENT)
    emails = OutboxMessage.objects.annotate(reply_id=ReplyMessageId()).filter(
        kind="email", reply_id__in=replies.filter(ticket_id=OuterRef(OuterRef("pk"))).values("pk")
    )
    viewers = TicketViewer.objects.filter(
        ticket_id=OuterRef("pk"), seen_at__gte=now - presence.PRESENCE_TTL
    ).exclude(agent_id=user.pk)
    return (
        visible.filter(pk=ticket_id)
        .select_related(
            "requester__organization", "organization", "sla__policy", "tier", "blueprint_run__blueprint"
        )
        .annotate(
            requester_total=_count(visible.filter(requester_id=OuterRef("requester_id")), "requester_id"),
            organization_total=_count(
                visible.filter(organization_id=OuterRef("organization_id")), "organization_id"
            ),
            page_tag_rows=json_rows(
                TicketTag.objects.filter(ticket_id=OuterRef("pk")), "ticket_id", id="id", name="name"
            ),
            # The e-mails are found by their reply (kept where the reply was written, they stay
            # when a merge moves it): asked only when the ticket has replies.
            page_delivery_rows=Case(
                When(
                    Exists(replies.filter(ticket_id=OuterRef("pk"))),
                    then=json_rows(
                        emails,
                        "kind",
                        id="id",
                        message="reply_id",
                        status="status",
                        attempts="attempts",
                        last_error="last_error",
                        sent_at="sent_at",
                    ),
                ),
                default=None,
                output_field=JSONField(),
            ),
            page_viewer_rows=json_rows(viewers, "ticket_id", agent="agent_id", replying="replying"),
        )
    )


def page_ticket(*, user: User, ticket_id: int, now: datetime) -> Ticket:
    """The ticket for its page, if this agent may see it (`tickets.selectors.ticket_scope`; else
    `NotFound`), in one statement with what the page shows of it besides: its tags, its
    requester and their organization with how many tickets each has that this agent may see, its
    SLA clocks and their policy, where it stands on its tier path and in its process, how the
    e-mails of its public replies fared, and the colleagues who have it open (`presence`).
    `PageReads` and the panels take these from the ticket (the tags as prefetched,
    `page_deliveries` by message id, `page_viewers`)."""
    if not isinstance(ticket_id, int) or not valid_pk(ticket_id):
        raise NotFound("ticket not found")
    # Built and compiled once per reader (the scope is theirs), then only run (`core.compiled`).
    found = STATEMENTS.rows(
        ("page_ticket", user.pk, user.role, user.is_active),
        lambda ident, at: _page_queryset(user, ident, at),
        ids=(ticket_id,),
        now=now,
    )
    if not found:
        raise NotFound("ticket not found")
    ticket = found[0]
    if ticket.organization_id is not None and ticket.organization_id == ticket.requester.organization_id:
        ticket.requester.organization = ticket.organization
    _tags_loaded(ticket, ticket.page_tag_rows or [])  # type: ignore[attr-defined]
    deliveries: dict[int, dict[str, Any]] = {}
    for row in sorted(ticket.page_delivery_rows or [], key=lambda r: r["id"]):  # type: ignore[attr-defined]
        deliveries[int(row["message"])] = {
            "status": row["status"],
            "attempts": row["attempts"],
            "last_error": row["last_error"],
            "sent_at": json_at(row["sent_at"]),
        }
    ticket.page_deliveries = deliveries  # type: ignore[attr-defined]
    replying = {int(r["agent"]): bool(r["replying"]) for r in ticket.page_viewer_rows or []}  # type: ignore[attr-defined]
    # By name, as the desk orders its people.
    ticket.page_viewers = [  # type: ignore[attr-defined]
        presence.Viewer(agent_id=u.pk, name=u.name or u.email, replying=replying[u.pk])
        for u in structure().users.values()
        if u.pk in replying
    ]
    return ticket


def _tags_loaded(ticket: Ticket, rows: list[dict[str, Any]]) -> None:
    """The ticket's tags, read with it, as `ticket.tags.all()` gives them once prefetched (by
    name), as `prefetch_related` leaves them."""
    tags = sorted((TicketTag(pk=r["id"], ticket_id=ticket.pk, name=r["name"]) for r in rows), key=_by_name)
    loaded = TicketTag.objects.filter(ticket_id=ticket.pk).order_by("name")
    loaded._result_cache = tags  # what `prefetch_related` sets
    loaded._prefetch_done = True  # type: ignore[attr-defined]
    ticket._prefetched_objects_cache = {"tags": loaded}  # type: ignore[attr-defined]


def _by_name(tag: TicketTag) -> tuple[str, int]:
    return (tag.name, tag.pk)
