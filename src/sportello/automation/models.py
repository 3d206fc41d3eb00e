"""Automation: event and time rules, macros, assignment policies, timers and traces.

What admins configure (rules, macros, policies) is versioned: the head row (`Rule`, `Macro`,
`AssignmentPolicy`) carries what lists and ordering need plus the number of its current version;
each saved definition is a new immutable `*Version` row holding the document exactly as in the
rules-as-code schema (`docs/rules.md`). Nothing here updates a version row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from sportello.accounts.models import Department, Team
from sportello.core.models import TicketTimer, TicketTimerFiring
from sportello.core.versioning import ConfigHead, DefinitionVersion
from sportello.tickets.models import Ticket


class RuleKind(models.TextChoices):
    EVENT = "event", "Event rule"
    TIME = "time", "Time rule"


class Rule(ConfigHead):
    """An event rule (trigger) or a time rule. Event rules run in (category, position) order."""

    kind = models.CharField(max_length=10, choices=RuleKind.choices)
    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=80, blank=True, default="")
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["category", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="automation_rule_version_gte_1")
        ]
        indexes = [models.Index(fields=["kind", "active", "category", "position"], name="rule_run_order")]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


class RuleVersion(DefinitionVersion):
    """One saved definition of a rule. Immutable: a change is a new version."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions", db_index=False)

    class Meta:
        ordering = ["rule", "version"]
        constraints = [
            models.UniqueConstraint("rule", "version", name="automation_ruleversion_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="automation_ruleversion_gte_1"),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id}@{self.version}"


class Visibility(models.TextChoices):
    PERSONAL = "personal", "Personal"
    TEAM = "team", "Team"
    DEPARTMENT = "department", "Department"
    EVERYONE = "everyone", "Everyone"


class Macro(ConfigHead):
    """A named bundle of actions an agent applies to tickets. The owner matching the visibility
    is set (a personal macro's agent, a team macro's team, ...); the others are null."""

    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.EVERYONE)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="macros"
    )
    owner_team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="macros"
    )
    owner_department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="macros"
    )
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        visibility=Visibility.PERSONAL,
                        owner_user__isnull=False,
                        owner_team__isnull=True,
                        owner_department__isnull=True,
                    )
                    | Q(
                        visibility=Visibility.TEAM,
                        owner_user__isnull=True,
                        owner_team__isnull=False,
                        owner_department__isnull=True,
                    )
                    | Q(
                        visibility=Visibility.DEPARTMENT,
                        owner_user__isnull=True,
                        owner_team__isnull=True,
                        owner_department__isnull=False,
                    )
                    | Q(
                        visibility=Visibility.EVERYONE,
                        owner_user__isnull=True,
                        owner_team__isnull=True,
                        owner_department__isnull=True,
                    )
                ),
                name="automation_macro_owner_matches_visibility",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="automation_macro_version_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


class MacroVersion(DefinitionVersion):
    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="versions", db_index=False)

    class Meta:
        ordering = ["macro", "version"]
        constraints = [
            models.UniqueConstraint("macro", "version", name="automation_macroversion_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="automation_macroversion_gte_1"),
        ]

    def __str__(self) -> str:
        return f"macro {self.macro_id}@{self.version}"


class AssignmentPolicy(ConfigHead):
    """A round-robin policy; its pool, caps and counted statuses are in the current version's
    definition, copied here for the assigner to read without a join."""

    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    definition = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="automation_policy_version_gte_1")
        ]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


class AssignmentPolicyVersion(DefinitionVersion):
    policy = models.ForeignKey(
        AssignmentPolicy, on_delete=models.CASCADE, related_name="versions", db_index=False
    )

    class Meta:
        ordering = ["policy", "version"]
        constraints = [
            models.UniqueConstraint("policy", "version", name="automation_policyversion_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="automation_policyversion_gte_1"),
        ]

    def __str__(self) -> str:
        return f"policy {self.policy_id}@{self.version}"


class AgentAssignment(models.Model):
    """An agent's place in a policy's rotation: the row locked while the next agent is chosen."""

    policy = models.ForeignKey(
        AssignmentPolicy, on_delete=models.CASCADE, related_name="agents", db_index=False
    )
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "agent"]
        constraints = [models.UniqueConstraint("policy", "agent", name="automation_agentassignment_unique")]

    def __str__(self) -> str:
        return f"policy {self.policy_id}: agent {self.agent_id}"


class AssignmentBacklog(models.Model):
    """A ticket that found no agent with capacity, waiting its turn: priority, then age."""

    policy = models.ForeignKey(
        AssignmentPolicy, on_delete=models.CASCADE, related_name="backlog", db_index=False
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    priority = models.PositiveSmallIntegerField()  # Ticket.priority when queued
    ticket_created_at = models.DateTimeField()
    queued_at = models.DateTimeField()

    class Meta:
        ordering = ["policy", "-priority", "ticket_created_at", "ticket"]
        constraints = [models.UniqueConstraint("policy", "ticket", name="automation_backlog_unique")]
        indexes = [
            models.Index(fields=["policy", "-priority", "ticket_created_at", "ticket"], name="backlog_order")
        ]

    def __str__(self) -> str:
        return f"policy {self.policy_id}: ticket {self.ticket_id}"


class Timer(TicketTimer):
    """A time rule's step armed for a ticket: due at `due_at`, for the anchor instance
    `anchor_key` (e.g. the instant the anchor was set). Disarming deletes the row."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="timers", db_index=False)
    rule_version = models.PositiveIntegerField()
    anchor_key = models.CharField(max_length=100)
    step = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint("rule", "ticket", "anchor_key", "step", name="automation_timer_unique")
        ]
        indexes = [models.Index(fields=["due_at", "id"], name="timer_due")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} step {self.step} on ticket {self.ticket_id} at {self.due_at}"


class TimerFiring(TicketTimerFiring):
    """A step that fired. The unique key is the guarantee that a step never fires twice."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings", db_index=False)
    anchor_key = models.CharField(max_length=100)
    step = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()

    class Meta:
        ordering = ["fired_at", "id"]
        constraints = [
            models.UniqueConstraint(
                "rule", "ticket", "anchor_key", "step", name="automation_timerfiring_unique"
            )
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} step {self.step} fired on ticket {self.ticket_id}"


class RuleFireCount(models.Model):
    """How often an event rule has fired on a ticket: kept only for rules with a
    `max_fires_per_ticket` (the cycle skips them once the count reaches it)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="+", db_index=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rule", "ticket"]
        constraints = [models.UniqueConstraint("rule", "ticket", name="automation_rulefirecount_unique")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} fired {self.count} times on ticket {self.ticket_id}"


class TraceKind(models.TextChoices):
    EVENT = "event", "Event"
    TIMER = "timer", "Timer"
    SIMULATE = "simulate", "Simulation"


class RuleTrace(models.Model):
    """The "why" of a change: every rule considered, how it ended and the first part of its
    condition that failed (`considered`), and for the rules that acted, each condition and
    action. Stored for every change on which a rule was considered; a change on which none
    fired, failed or reached its cap is `quiet` (pruned after `RULE_TRACE_RETENTION_DAYS`). A
    simulation of a snapshot that is no stored ticket has no ticket."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    change_id = models.UUIDField(db_index=True)
    at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=TraceKind.choices)
    passes = models.PositiveSmallIntegerField(default=0)
    loop_guard = models.BooleanField(default=False)  # the pass cap stopped the cycle
    # No rule fired, failed or reached its cap: the trace only says why none did.
    quiet = models.BooleanField(default=False)
    trace = models.JSONField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["ticket", "at"], name="trace_ticket"),
            models.Index(fields=["at"], condition=models.Q(quiet=True), name="trace_quiet_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} trace {self.change_id}"
