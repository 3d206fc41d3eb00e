"""The per-ticket CSV export: one line per ticket of the reader's report scope that the filters
keep, with the ticket's dimensions and its metric columns (first reply, resolution, reopens,
responses, one-touch, the SLA outcome per metric, CSAT, CES, NPS, the tier path, tags).

Reading: tickets in id order, in keyset-paginated batches (`BATCH` ids: `id > last` ordered by
id, so a page never rereads or skips a ticket whatever the table's size); for each batch one
query per table — the tickets with their department, team, assignee, requester, organization and
status; their facts (`reports.models.TicketFacts`); their finished SLA clock instances
(`sla.models.SlaRecord`); their running clocks (`sla.models.TicketSla`); their surveys; their
tags. The generator holds one batch at a time, so memory stays flat whatever the number of
tickets; lines are written through `csv.writer` as they are read (`contacts.transfer.csv_lines`:
UTF-8 with a BOM for spreadsheet apps, cells that would start a formula — = + - @ tab CR —
prefixed with an apostrophe).

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

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sportello.accounts.models import Department, Role, User
from sportello.contacts.transfer import csv_lines
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


@dataclass(frozen=True, slots=True)
class ClockInstance:
    targeted: bool
    breached: bool
    running: bool


class Outcome(models.TextChoices):
    MET = "met", gettext_lazy("met")
    BREACHED = "breached", gettext_lazy("breached")
    RUNNING = "running", gettext_lazy("running")
    NO_TARGET = "no_target", gettext_lazy("no target")


def sla_outcome(instances: Sequence[ClockInstance]) -> tuple[Outcome | None, int, int]:
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

    def instant(self, value: datetime | None) -> str:
        return "" if value is None else value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def outcome(self, instances: Sequence[ClockInstance]) -> str:
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


def _clocks(ids: list[int], now: datetime) -> dict[int, dict[str, list[ClockInstance]]]:
    """The clock instances of each ticket by metric: finished ones from the SLA records, running
    ones from the tickets' clocks (a running instance replaces its record: a reopened ticket's
    resolution runs again). A running clock past its due instant at `now` is breached, whether or
    not the worker has stamped the breach yet. Two queries."""
    found: dict[int, dict[str, dict[int, ClockInstance]]] = {}
    records = SlaRecord.objects.filter(ticket_id__in=ids).values_list(
        "ticket_id", "metric", "instance", "target_seconds", "breached"
    )
    for ticket_id, metric, instance, target, breached in records:
        found.setdefault(ticket_id, {}).setdefault(metric, {})[instance] = ClockInstance(
            targeted=target is not None, breached=breached, running=False
        )
    for ticket_id, state in TicketSla.objects.filter(ticket_id__in=ids).values_list("ticket_id", "state"):
        for clock in state.get("clocks", ()) if isinstance(state, dict) else ():
            if clock.get("status") not in RUNNING:
                continue
            found.setdefault(ticket_id, {}).setdefault(clock.get("metric", ""), {})[
                clock.get("instance", 0)
            ] = ClockInstance(
                targeted=clock.get("target_us") is not None,
                breached=clock.get("breached_at") is not None
                or (
                    clock.get("status") == "active"
                    and (due := _due(clock.get("due_at"))) is not None
                    and due <= now
                ),
                running=True,
            )
    return {
        ticket_id: {metric: list(instances.values()) for metric, instances in metrics.items()}
        for ticket_id, metrics in found.items()
    }


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


def _batch_lines(ids_rows: list[dict[str, Any]], w: Words) -> Generator[list[str]]:
    ids = [r["id"] for r in ids_rows]
    facts = {f.ticket_id: f for f in TicketFacts.objects.filter(ticket_id__in=ids)}
    clocks = _clocks(ids, w.now)
    surveys = {
        row[0]: row[1:]
        for row in Survey.objects.filter(ticket_id__in=ids).values_list(
            "ticket_id", "state", "satisfaction", "rating", "scale", "ces", "nps"
        )
    }
    tags: dict[int, list[str]] = {}
    for ticket_id, name in TicketTag.objects.filter(ticket_id__in=ids).values_list("ticket_id", "name"):
        tags.setdefault(ticket_id, []).append(name)
    for r in ids_rows:
        f = facts.get(r["id"])
        metrics = clocks.get(r["id"], {})
        average = None if f is None or not f.replies else f.response_seconds / f.replies
        yield [
            str(r["number"]),
            r["subject"],
            r["department__name"] or "",
            r["team__name"] or "",
            r["assignee__name"] or "",
            r["requester__email"] or "",
            r["organization__name"] or "",
            w.channels.get(r["channel"], r["channel"]),
            w.priorities.get(r["priority"], str(r["priority"])),
            labels.status_label(r["status__key"], r["status__name"]),
            w.instant(r["created_at"]),
            w.instant(f.first_reply_at if f is not None else None),
            _int(f.first_reply_seconds if f is not None else None),
            _hours(f.first_reply_seconds if f is not None else None),
            _int(f.first_reply_business_seconds if f is not None else None),
            _hours(f.first_reply_business_seconds if f is not None else None),
            w.instant(r["solved_at"]),
            _int(f.resolution_seconds if f is not None else None),
            _hours(f.resolution_seconds if f is not None else None),
            _int(f.resolution_business_seconds if f is not None else None),
            _hours(f.resolution_business_seconds if f is not None else None),
            "" if f is None else str(f.reopens),
            "" if f is None else str(f.replies),
            _int(average),
            _hours(average),
            "" if f is None else (w.yes if f.one_touch else w.no),
            w.outcome(metrics.get(FIRST_RESPONSE, [])),
            w.outcome(metrics.get(NEXT_RESPONSE, [])),
            w.outcome(metrics.get(RESOLUTION, [])),
            *_survey_cells(surveys.get(r["id"]), w),
            " → ".join(w.tiers.get(t, t) for t in (f.tier_path if f is not None else [])),
            ", ".join(sorted(tags.get(r["id"], []))),
        ]


def ticket_rows(qs: QuerySet[Ticket], w: Words, *, batch: int = BATCH) -> Generator[list[str]]:
    """The lines of the tickets of `qs`, in id order, read `batch` tickets at a time (see the
    module docstring). Nothing is read before the first line is asked for."""
    last = 0
    while True:
        page = list(qs.filter(pk__gt=last).order_by("pk").values(*TICKET_FIELDS)[:batch])
        if not page:
            return
        yield from _batch_lines(page, w)
        if len(page) < batch:
            return
        last = page[-1]["id"]


def ticket_csv(
    *, scope: ReportScope, filters: ExportFilters, zone: tzinfo, now: datetime, batch: int = BATCH
) -> Iterator[str]:
    """The CSV text of the export, line by line: the filters are checked and every label is
    translated now (the viewer's language and time zone), the tickets read as the lines are."""
    qs = export_tickets(scope=scope, filters=filters)
    w = words(zone, now)
    return csv_lines(header(str(zone)), ticket_rows(qs, w, batch=batch))


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
