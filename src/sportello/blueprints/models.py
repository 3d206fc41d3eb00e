"""Blueprints: a department's process as a state machine over ticket statuses.

What admins configure is versioned like rules: the head row (`Blueprint`) carries what lists and
entry need plus the number of its current version; each saved definition is a new immutable
`BlueprintVersion` holding the document exactly as in `docs/blueprints.md`. Nothing here updates
a version row.

`TicketBlueprint` is a ticket's place in its process: one row per ticket, pinned to the version
it entered (a later version does not move tickets already in the process), its current state
and since when. A run that completed or was removed stays as the ticket's last run
(`active=False`); entering a process again reuses the row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from sportello.accounts.models import Department
from sportello.core.models import TicketTimer, TicketTimerFiring
from sportello.core.versioning import ConfigHead, DefinitionVersion
from sportello.tickets.models import Ticket


class Blueprint(ConfigHead):
    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="blueprints")
    priority = models.IntegerField(default=0)  # when several match a ticket, the highest applies
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="blueprints_blueprint_version_gte_1")
        ]
        indexes = [models.Index(fields=["department", "active"], name="bp_department_active")]

    def __str__(self) -> str:
        return f"{self.key}@{self.version}"


class BlueprintVersion(DefinitionVersion):
    """One saved definition of a blueprint. Immutable: a change is a new version."""

    blueprint = models.ForeignKey(
        Blueprint, on_delete=models.CASCADE, related_name="versions", db_index=False
    )

    class Meta:
        ordering = ["blueprint", "version"]
        constraints = [
            models.UniqueConstraint("blueprint", "version", name="blueprints_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="blueprints_version_gte_1"),
        ]

    def __str__(self) -> str:
        return f"blueprint {self.blueprint_id}@{self.version}"


class TicketBlueprint(models.Model):
    """A ticket in its process: the blueprint and version it follows, its state and since when.
    Written only by `blueprints.hooks`, inside the change pipeline."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="blueprint_run")
    blueprint = models.ForeignKey(Blueprint, on_delete=models.PROTECT, related_name="runs", db_index=False)
    version = models.PositiveIntegerField()
    state = models.CharField(max_length=64)
    entered_state_at = models.DateTimeField()
    attached_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["ticket"]
        indexes = [models.Index(fields=["blueprint", "active", "state"], name="bp_run_state")]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} in blueprint {self.blueprint_id}@{self.version}: {self.state}"


class BlueprintTimer(TicketTimer):
    """An escalation of a state's time limit, armed when a ticket entered the state (`key`:
    state, instant entered, escalation index); leaving the state disarms it."""

    key = models.CharField(max_length=120)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint("ticket", "key", name="blueprints_timer_unique")]
        indexes = [models.Index(fields=["due_at", "id"], name="bp_timer_due")]

    def __str__(self) -> str:
        return f"{self.key} on ticket {self.ticket_id} at {self.due_at}"


class BlueprintFiring(TicketTimerFiring):
    """A state escalation that fired: once per entry into the state (the unique key)."""

    key = models.CharField(max_length=120)

    class Meta:
        ordering = ["fired_at", "id"]
        constraints = [models.UniqueConstraint("ticket", "key", name="blueprints_firing_unique")]

    def __str__(self) -> str:
        return f"{self.key} fired on ticket {self.ticket_id}"
