"""Saved views: a named condition over tickets (the rules' condition language), the columns to
show and the default sort. Personal views have an owner; shared ones (admins write them) have
none and are desk-wide or limited to one department. Views shipped with the desk carry a `key`."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ViewExtra(models.TextChoices):
    """Filters the condition language cannot say, on data outside the ticket row."""

    NONE = "", "None"
    SLA_AT_RISK = "sla_at_risk", "SLA at risk or breached"
    CUSTOMER_UPDATED = "customer_updated", "Last updated by the customer"


class SavedView(models.Model):
    key = models.SlugField(max_length=40, unique=True, null=True, blank=True)  # shipped views only
    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="saved_views"
    )
    department = models.ForeignKey(
        "accounts.Department", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # Parsed by engine.conditions, with the placeholders of queues.conditions.
    condition = models.JSONField(default=dict)
    extra = models.CharField(max_length=20, choices=ViewExtra.choices, blank=True, default="")
    columns = models.JSONField(default=list)
    sort = models.CharField(max_length=80, default="-priority,created")
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "name", "id"]
        indexes = [models.Index(fields=["owner", "position"], name="qv_owner")]

    def __str__(self) -> str:
        return self.name

    @property
    def shared(self) -> bool:
        return self.owner_id is None
