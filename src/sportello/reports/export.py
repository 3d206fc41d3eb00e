"""The per-ticket CSV export: one line per ticket of the reader's report scope that the filters
keep, with the ticket's dimensions and its metric columns (first reply, resolution, reopens,
responses, one-touch, the SLA outcome per metric, CSAT, CES, NPS, the tier path, tags).

Reading: tickets in id order, in keyset-paginated batches (`BATCH` ids: `id > last` ordered by
id, so a page never rereads or skips a ticket whatever the table's size); for each batch one
query per table — the tickets with their department, team, assignee, requester, organization and
status; their facts (`reports.models.TicketFacts`); their finished SLA clock instances
(`sla.models.SlaRecord`); their running clocks (`sla.models.TicketSla`); their surveys; their
tags. The batch's ids go to the other tables as one parameter (an array), not 2,000. The
generator holds one batch at a time, so memory stays flat whatever the number of tickets; lines
are written through `csv.writer` as they are read (UTF-8 with a BOM for spreadsheet apps; text
cells that would start a formula — = + - @ tab CR — prefixed with an apostrophe,
`contacts.transfer.csv_cell`).

Times are given as instants in the viewer's time zone (named in the header) and as durations in
seconds and in hours with one decimal. Figures come from the facts table (what `engine.reporting`
folds from the audit trail; docs/metrics.md): a ticket without a facts row yet has blank figures.

The SLA outcome of a metric: blank when the ticket had no clock of it; "no target" when none of
its clocks had a target; "breached" when a clock with a target breached it (with several
instances, e.g. next response, "2 of 5 breached"); else "running" while a clock with a target
still runs, and "met" once all have met it. The labels are the viewer's language's, read when the
export starts (the lines are written after the view returns).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from django.db import connection, models
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sportello.accounts.models import Department, Role, User
from sportello.contacts.transfer import csv_cell as cell
from sportello.core.errors import NotFound, ValidationFailed
from sportello.engine.sla.policy import FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION
from sportello.sla.models import SlaRecord, TicketSla
from sportello.sla.tiers import paths_by_department
from sportello.surveys.models import Satisfaction, Scale, Survey, SurveyState
from sportello.tickets.models import Channel, Status, Ticket, TicketTag
from sportello.web import labels

from .access import ReportScope
from .models import TicketFacts

BATCH = 2000
SLA_METRICS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
RUNNING = ("active", "paused")


class DateField(models.TextChoices):
    CREATED = "created", gettext_lazy("Created")
    SOLVED = "solved", gettext_lazy("Solved")


@dataclass(frozen=True, slots=True)
class ExportFilters:
    """Which tickets: [start, end) on their creation or (latest) solve; None: unbounded."""

    start: datetime | None = None
    end: datetime | None = None
    dates: str = DateField.CREATED
    department_id: int | None = None
    assignee_id: int | None = None
    channel: str | None = None
    status: str | None = None  # a status key


def export_tickets(*, scope: ReportScope, filters: ExportFilters) -> QuerySet[Ticket]:
    """The tickets of `scope` the filters keep, unordered. A department outside the scope, or an
    unknown channel, status or agent, is refused (NotFound / ValidationFailed) rather than
    silently giving an empty file."""
    qs = Ticket.objects.filter(scope.q())
    if filters.start is not None and filters.end is not None and filters.end <= filters.start:
        raise ValidationFailed("must be after `from`", field="to")
    column = "created_at" if filters.dates == DateField.CREATED else "solved_at"
    if filters.dates not in DateField.values:
        raise ValidationFailed("must be created or solved", field="dates")
    if filters.start is not None:
        qs = qs.filter(**{f"{column}__gte": filters.start})
    if filters.end is not None:
        qs = qs.filter(**{f"{column}__lt": filters.end})
    if filters.department_id is not None:
        if (
            not scope.allows(filters.department_id)
            or not Department.objects.filter(pk=filters.department_id).exists()
        ):
            raise NotFound("department not found")
        qs = qs.filter(department_id=filters.department_id)
    if filters.assignee_id is not None:
        if not User.objects.filter(pk=filters.assignee_id).exclude(role=Role.LIGHT_AGENT).exists():
            raise ValidationFailed("no such agent", field="assignee_id")
        qs = qs.filter(assignee_id=filters.assignee_id)
    if filters.channel is not None:
        if filters.channel not in Channel.values:
            raise ValidationFailed(f"must be one of {', '.join(Channel.values)}", field="channel")
        qs = qs.filter(channel=filters.channel)
    if filters.status is not None:
        found = Status.objects.filter(key=filters.status).values_list("pk", flat=True).first()
        if found is None:
            raise ValidationFailed("no such status", field="status")
        qs = qs.filter(status_id=found)
    return qs


# -- the SLA outcome of a metric ---------------------------------------------------------------------


class ClockInstance(NamedTuple):
    targeted: bool
    breached: bool
    running: bool


class Outcome(models.TextChoices):
    MET = "met", gettext_lazy("met")
    BREACHED = "breached", gettext_lazy("breached")
    RUNNING = "running", gettext_lazy("running")
    NO_TARGET = "no_target", gettext_lazy("no target")


def sla_outcome(instances: Collection[ClockInstance]) -> tuple[Outcome | None, int, int]:
    """The outcome of a metric's clock instances, with the breaches and the instances that had a
    target (see the module docstring); None: no instance."""
    if not instances:
        return None, 0, 0
    targeted = [i for i in instances if i.targeted]
    if not targeted:
        return Outcome.NO_TARGET, 0, 0
    breaches = sum(1 for i in targeted if i.breached)
    if breaches:
        return Outcome.BREACHED, breaches, len(targeted)
    if any(i.running for i in targeted):
        return Outcome.RUNNING, 0, len(targeted)
    return Outcome.MET, 0, len(targeted)


# -- the lines ----------------------------------------------------------------------------------------


def _hours(seconds: int | float | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.1f}"


def _int(value: int | float | None) -> str:
    return "" if value is None else str(round(value))


@dataclass(frozen=True, slots=True)
class Words:
    """Every translated word a line may need, read once when the export starts."""

    zone: tzinfo
    now: datetime  # when the export started: running SLA clocks are judged at it
    channels: Mapping[str, str]
    priorities: Mapping[int, str]
    outcomes: Mapping[str, str]
    breaches: str  # "%(breached)s of %(n)s breached"
    satisfaction: Mapping[str, str]
    yes: str
    no: str
    tiers: Mapping[str, str]  # tier key -> name

    statuses: dict[tuple[str, str], str]  # (key, name) -> label, filled as met

    def instant(self, value: datetime | None) -> str:
        return "" if value is None else value.astimezone(self.zone).isoformat(" ", "seconds")[:19]

    def status(self, key: str, name: str) -> str:
        found = self.statuses.get((key, name))
        if found is None:
            found = self.statuses[(key, name)] = labels.status_label(key, name)
        return found

    def outcome(self, instances: Collection[ClockInstance]) -> str:
        found, breaches, n = sla_outcome(instances)
        if found is None:
            return ""
        if found == Outcome.BREACHED and n > 1:
            return self.breaches % {"breached": breaches, "n": n}
        return self.outcomes[found]


def header(zone_name: str) -> list[str]:
    at = f" ({zone_name})"
    return [
        _("Number"),
        _("Subject"),
        _("Department"),
        _("Team"),
        _("Assignee"),
        _("Requester e-mail"),
        _("Organization"),
        _("Channel"),
        _("Priority"),
        _("Status"),
        _("Created") + at,
        _("First reply at") + at,
        _("First reply (seconds)"),
        _("First reply (hours)"),
        _("First reply, business (seconds)"),
        _("First reply, business (hours)"),
        _("Solved at") + at,
        _("Resolution (seconds)"),
        _("Resolution (hours)"),
        _("Resolution, business (seconds)"),
        _("Resolution, business (hours)"),
        _("Reopens"),
        _("Replies"),
        _("Average response (seconds)"),
        _("Average response (hours)"),
        _("One-touch"),
        _("SLA first response"),
        _("SLA next response"),
        _("SLA resolution"),
        _("CSAT"),
        _("CES"),
        _("NPS"),
        _("Tier path"),
        _("Tags"),
    ]


def words(zone: tzinfo, now: datetime) -> Words:
    tiers: dict[str, str] = {}
    for path in paths_by_department().values():
        for tier in path.tiers:
            tiers.setdefault(tier.key, tier.name)
    return Words(
        zone=zone,
        now=now,
        channels={key: str(label) for key, label in labels.CHANNEL_LABELS.items()},
        priorities={value: labels.priority_label(value) for value in labels.PRIORITY_BY_VALUE},
        outcomes={o.value: str(o.label) for o in Outcome},
        breaches=_("%(breached)s of %(n)s breached"),
        satisfaction={s.value: str(s.label) for s in Satisfaction},
        yes=_("yes"),
        no=_("no"),
        tiers=tiers,
        statuses={},
    )


TICKET_FIELDS = (
    "id",
    "number",
    "subject",
    "channel",
    "priority",
    "created_at",
    "solved_at",
    "department__name",
    "team__name",
    "assignee__name",
    "requester__email",
    "organization__name",
    "status__key",
    "status__name",
)


def _due(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _clocks(ids: RawSQL, now: datetime) -> dict[tuple[int, str], dict[int, ClockInstance]]:
    """The clock instances of each ticket and metric, by instance: finished ones from the SLA
    records, running ones from the tickets' clocks (a running instance replaces its record: a
    reopened ticket's resolution runs again). A running clock past its due instant at `now` is
    breached, whether or not the worker has stamped the breach yet. Two queries."""
    found: dict[tuple[int, str], dict[int, ClockInstance]] = {}
    records = SlaRecord.objects.filter(ticket_id__in=ids).values_list(
        "ticket_id", "metric", "instance", "target_seconds", "breached"
    )
    for ticket_id, metric, instance, target, breached in records:
        key = (ticket_id, metric)
        instances = found.get(key)
        if instances is None:
            instances = found[key] = {}
        instances[instance] = ClockInstance(target is not None, breached, False)
    for ticket_id, state in TicketSla.objects.filter(ticket_id__in=ids).values_list("ticket_id", "state"):
        for clock in state.get("clocks", ()) if isinstance(state, dict) else ():
            status = clock.get("status")
            if status not in RUNNING:
                continue
            due = _due(clock.get("due_at")) if status == "active" else None
            found.setdefault((ticket_id, clock.get("metric", "")), {})[clock.get("instance", 0)] = (
                ClockInstance(
                    clock.get("target_us") is not None,
                    clock.get("breached_at") is not None or (due is not None and due <= now),
                    True,
                )
            )
    return found


def _survey_cells(row: tuple[Any, ...] | None, w: Words) -> list[str]:
    """CSAT (the rating's meaning, with its score on a 1-to-5 scale), CES and NPS."""
    if row is None:
        return ["", "", ""]
    state, satisfaction, rating, scale, ces, nps = row
    if state == SurveyState.PENDING:
        return ["", "", ""]
    csat = w.satisfaction.get(satisfaction, satisfaction)
    if state == SurveyState.ANSWERED and scale == Scale.FIVE and rating is not None:
        csat = f"{csat} ({rating}/5)"
    return [csat, _int(ces), _int(nps)]


FACT_FIELDS = (
    "ticket_id",
    "first_reply_at",
    "first_reply_seconds",
    "first_reply_business_seconds",
    "resolution_seconds",
    "resolution_business_seconds",
    "reopens",
    "replies",
    "response_seconds",
    "one_touch",
    "tier_path",
)
NO_FACTS = (None,) * len(FACT_FIELDS)


def _batch(ids: list[int]) -> RawSQL:
    """The batch's ticket ids as one parameter (an array, a JSON list on SQLite), for
    `ticket_id__in`: a list of 2,000 placeholders costs more to bind than the query to run."""
    if connection.vendor == "postgresql":  # an array literal: psycopg dumps a list item by item
        return RawSQL("SELECT unnest(%s::bigint[])", ("{" + ",".join(map(str, ids)) + "}",))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(ids),))


def _batch_lines(page: list[tuple[Any, ...]], w: Words) -> Generator[list[str]]:
    ids = [r[0] for r in page]
    batch = _batch(ids)
    facts = {f[0]: f for f in TicketFacts.objects.filter(ticket_id__in=batch).values_list(*FACT_FIELDS)}
    clocks = _clocks(batch, w.now)
    surveys = {
        row[0]: row[1:]
        for row in Survey.objects.filter(ticket_id__in=batch).values_list(
            "ticket_id", "state", "satisfaction", "rating", "scale", "ces", "nps"
        )
    }
    tags: dict[int, list[str]] = {}
    for ticket_id, name in TicketTag.objects.filter(ticket_id__in=batch).values_list("ticket_id", "name"):
        tags.setdefault(ticket_id, []).append(name)
    instant, outcome, tiers, status = w.instant, w.outcome, w.tiers, w.status
    channels, priorities, yes, no = w.channels, w.priorities, w.yes, w.no
    empty: dict[int, ClockInstance] = {}
    for (
        pk,
        number,
        subject,
        channel,
        priority,
        created,
        solved,
        dept,
        team,
        assignee,
        email,
        org,
        skey,
        sname,
    ) in page:
        f = facts.get(pk)
        _, reply_at, first, first_b, resolution, resolution_b, reopens, replies, response, one_touch, path = (
            f or NO_FACTS
        )
        average = response / replies if replies else None
        yield [
            str(number),
            cell(subject),
            cell(dept or ""),
            cell(team or ""),
            cell(assignee or ""),
            cell(email or ""),
            cell(org or ""),
            channels.get(channel, channel),
            priorities.get(priority, str(priority)),
            cell(status(skey, sname)),
            instant(created),
            instant(reply_at),
            _int(first),
            _hours(first),
            _int(first_b),
            _hours(first_b),
            instant(solved),
            _int(resolution),
            _hours(resolution),
            _int(resolution_b),
            _hours(resolution_b),
            "" if f is None else str(reopens),
            "" if f is None else str(replies),
            _int(average),
            _hours(average),
            "" if f is None else (yes if one_touch else no),
            outcome(clocks.get((pk, FIRST_RESPONSE), empty).values()),
            outcome(clocks.get((pk, NEXT_RESPONSE), empty).values()),
            outcome(clocks.get((pk, RESOLUTION), empty).values()),
            *_survey_cells(surveys.get(pk), w),
            cell(" → ".join(tiers.get(t, t) for t in (path or ()))),
            cell(", ".join(sorted(tags.get(pk, ())))),
        ]


def ticket_rows(qs: QuerySet[Ticket], w: Words, *, batch: int = BATCH) -> Generator[list[str]]:
    """The lines of the tickets of `qs`, in id order, read `batch` tickets at a time (see the
    module docstring). Nothing is read before the first line is asked for."""
    last = 0
    while True:
        page = list(qs.filter(pk__gt=last).order_by("pk").values_list(*TICKET_FIELDS)[:batch])
        if not page:
            return
        yield from _batch_lines(page, w)
        if len(page) < batch:
            return
        last = page[-1][0]


def ticket_csv(
    *, scope: ReportScope, filters: ExportFilters, zone: tzinfo, now: datetime, batch: int = BATCH
) -> Iterator[str]:
    """The CSV text of the export, line by line: the filters are checked and every label is
    translated now (the viewer's language and time zone), the tickets read as the lines are."""
    qs = export_tickets(scope=scope, filters=filters)
    w = words(zone, now)
    return _lines(header(str(zone)), ticket_rows(qs, w, batch=batch))


class _Echo:
    """A file-like that hands back what the csv writer writes (one line at a time)."""

    def write(self, value: str) -> str:
        return value


def _lines(head: list[str], rows: Iterator[list[str]]) -> Iterator[str]:
    """CSV lines with a BOM first. The cells are written as they are: the rows guard their text
    cells themselves (`cell`), so the figures are not checked a million times over."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(head)
    for row in rows:
        yield writer.writerow(row)


def export_filename(filters: ExportFilters, *, zone: tzinfo, now: datetime) -> str:
    """tickets_<created|solved>_<first day>_<last day>.csv (the days in the viewer's zone)."""

    def day(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).date().isoformat()

    last = filters.end - timedelta(microseconds=1) if filters.end is not None else now
    return f"tickets_{filters.dates}_{day(filters.start) or 'all'}_{day(last)}.csv"


def agents_in(scope: ReportScope) -> QuerySet[User]:
    """The agents a reader may filter the export by: those of the scope's departments (admins:
    everyone but light agents), by name."""
    qs = User.objects.exclude(role=Role.LIGHT_AGENT).filter(is_active=True)
    if not scope.everything:
        qs = qs.filter(departments__in=sorted(scope.department_ids or ())).distinct()
    return qs.order_by("name", "pk")


def departments_in(scope: ReportScope) -> QuerySet[Department]:
    return Department.objects.filter(scope.q("pk")).order_by("name")
