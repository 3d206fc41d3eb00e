"""Service levels: SLA policies (a head row and immutable versions, like rules), each ticket's
clocks, and the exact timers of their warnings, breaches and escalations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import In

from sportello.core.models import TicketTimer, TicketTimerFiring
from sportello.core.versioning import ConfigHead, DefinitionVersion
from sportello.tickets.models import UNRESOLVED_CATEGORIES, Ticket


class SlaPolicy(ConfigHead):
    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "key"]
        constraints = [models.CheckConstraint(condition=Q(version__gte=1), name="sla_policy_version_gte_1")]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


class SlaPolicyVersion(DefinitionVersion):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="versions", db_index=False)

    class Meta:
        ordering = ["policy", "version"]
        constraints = [models.UniqueConstraint("policy", "version", name="sla_policyversion_unique")]

    def __str__(self) -> str:
        return f"policy {self.policy_id}@{self.version}"


class TicketSla(models.Model):
    """A ticket's SLA clocks (`engine.sla.SlaState` as data) and the policy they follow.
    `next_breach_at`: the earliest due instant of its running, not yet breached clocks — indexed,
    for views ("next breach") and sweeps. `unresolved`: the status category the clocks last saw
    (`state.category`, which follows the ticket's in every change) is not solved or closed —
    computed by the database from `state`, so no write path can leave it stale. The Desk's
    "At risk and breached" reads the breached clocks of unresolved tickets from a partial index
    of a few thousand entries instead of probing every unresolved ticket (breached clocks of
    solved tickets are most of the breached ones and stay breached for ever)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="sla")
    policy = models.ForeignKey(SlaPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    state = models.JSONField()
    next_breach_at = models.DateTimeField(null=True, blank=True, db_index=True)
    breached = models.BooleanField(default=False)  # a clock has breached its target
    unresolved = models.GeneratedField(
        expression=In(KeyTextTransform("category", "state"), [str(c) for c in UNRESOLVED_CATEGORIES]),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["ticket"], condition=Q(breached=True, unresolved=True), name="sla_breached_open"
            )
        ]

    def __str__(self) -> str:
        return f"SLA of ticket {self.ticket_id}"


class SlaTimer(TicketTimer):
    """A warning, breach or escalation level armed for one clock instance of a ticket."""

    key = models.CharField(max_length=80)  # metric:instance:kind:level

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint("ticket", "key", name="sla_timer_unique")]
        indexes = [models.Index(fields=["due_at", "id"], name="sla_timer_due")]

    def __str__(self) -> str:
        return f"{self.key} on ticket {self.ticket_id} at {self.due_at}"


class SlaFiring(TicketTimerFiring):
    """A timer that fired. The unique key is the guarantee that a level fires once per clock
    instance, whatever crashes or how many workers run."""

    key = models.CharField(max_length=80)
    due_at = models.DateTimeField()

    class Meta:
        ordering = ["fired_at", "id"]
        constraints = [models.UniqueConstraint("ticket", "key", name="sla_firing_unique")]

    def __str__(self) -> str:
        return f"{self.key} fired on ticket {self.ticket_id}"


class BusinessCalendar(ConfigHead):
    """Business hours: a time zone, weekly hours, holidays, special days, dated versions
    (`engine.calendars`). The calendar of a ticket is its department's, else the desk's default
    one, else none (every instant is in business hours)."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_default = models.BooleanField(default=False)
    departments = models.ManyToManyField(
        "accounts.Department", through="CalendarDepartment", related_name="+", blank=True
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True, active=True),
                name="sla_one_default_calendar",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


class BusinessCalendarVersion(DefinitionVersion):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="versions",
                                 db_index=False)  # fmt: skip

    class Meta:
        ordering = ["calendar", "version"]
        constraints = [models.UniqueConstraint("calendar", "version", name="sla_calendarversion_unique")]

    def __str__(self) -> str:
        return f"calendar {self.calendar_id}@{self.version}"


class CalendarDepartment(models.Model):
    """A department's calendar: at most one per department."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="+")
    department = models.OneToOneField("accounts.Department", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"department {self.department_id}: calendar {self.calendar_id}"


class SlaRecord(models.Model):
    """One finished clock instance (fulfilled, breached or not): what SLA reports aggregate.
    Written when the clock is fulfilled, with the ticket's department, team and assignee then."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=20)
    instance = models.PositiveIntegerField()
    policy = models.ForeignKey(SlaPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    department = models.ForeignKey(
        "accounts.Department", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    business = models.BooleanField()  # measured in a business calendar
    target_seconds = models.BigIntegerField(null=True, blank=True)
    own_seconds = models.BigIntegerField()  # in the clock's own time (business or calendar)
    calendar_seconds = models.BigIntegerField()  # wall clock, start to end
    breached = models.BooleanField()
    breached_at = models.DateTimeField(null=True, blank=True)
    tier = models.CharField(max_length=64, blank=True, default="")  # its tier path's tier then

    class Meta:
        ordering = ["ended_at", "id"]
        constraints = [models.UniqueConstraint("ticket", "metric", "instance", name="sla_record_unique")]
        indexes = [
            models.Index(fields=["ended_at"], name="sla_record_ended"),
            models.Index(fields=["department", "ended_at"], name="sla_record_department"),
            models.Index(fields=["assignee", "ended_at"], name="sla_record_assignee"),
        ]

    def __str__(self) -> str:
        return f"{self.metric}#{self.instance} of ticket {self.ticket_id}"


class TierPath(ConfigHead):
    """Tiered support for a department: its tiers in order (Tier 1 → Tier 2 → ...), each a
    team (and maybe another department) a ticket moves to when escalated."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    department = models.OneToOneField("accounts.Department", on_delete=models.CASCADE, related_name="+")
    definition = models.JSONField()  # the current version's, as the hot path reads it
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


class TierPathVersion(DefinitionVersion):
    """One saved definition of a tier path. Immutable: a change is a new version."""

    path = models.ForeignKey(TierPath, on_delete=models.CASCADE, related_name="versions", db_index=False)

    class Meta:
        ordering = ["path", "version"]
        constraints = [
            models.UniqueConstraint("path", "version", name="sla_tierpathversion_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="sla_tierpathversion_gte_1"),
        ]

    def __str__(self) -> str:
        return f"tier path {self.path_id}@{self.version}"


class TicketTier(models.Model):
    """Where a ticket stands on its department's tier path (no row: the first tier)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="tier")
    path = models.ForeignKey(TierPath, on_delete=models.CASCADE, related_name="+")
    tier = models.CharField(max_length=64)
    entered_at = models.DateTimeField()
    escalations = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} at {self.tier}"
