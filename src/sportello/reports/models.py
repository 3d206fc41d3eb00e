"""What reports read instead of the audit trail: a row of figures per ticket (`TicketFacts`) and
daily roll-ups (`DailyRollup`), both kept by the change pipeline in the change's own transaction
(`reports.extension`) and rebuilt from the audit trail by `sportello reports rebuild`
(`reports.rollups`). What each figure means: `engine.reporting` and docs/metrics.md."""

from __future__ import annotations

from django.db import models

from sportello.tickets.models import Ticket


class TicketFacts(models.Model):
    """A ticket's report state: its dimensions and figures as its history says them."""

    ticket = models.OneToOneField(Ticket, primary_key=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    # The dimensions the ticket's next figures count under (ids: 0 for none).
    department_id = models.BigIntegerField(default=0)
    team_id = models.BigIntegerField(default=0)
    assignee_id = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=10, blank=True, default="")
    priority = models.CharField(max_length=10, blank=True, default="")
    tier = models.CharField(max_length=64, blank=True, default="")
    category = models.CharField(max_length=10, blank=True, default="")
    waiting_since = models.DateTimeField(null=True, blank=True)
    first_reply_at = models.DateTimeField(null=True, blank=True)
    first_reply_seconds = models.BigIntegerField(null=True, blank=True)
    first_reply_business_seconds = models.BigIntegerField(null=True, blank=True)
    resolution_seconds = models.BigIntegerField(null=True, blank=True)  # to the latest solve
    resolution_business_seconds = models.BigIntegerField(null=True, blank=True)
    solves = models.PositiveIntegerField(default=0)
    reopens = models.PositiveIntegerField(default=0)
    agent_replies = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)  # responses to customer messages
    response_seconds = models.BigIntegerField(default=0)
    response_business_seconds = models.BigIntegerField(default=0)
    one_touch = models.BooleanField(default=False)
    merged = models.BooleanField(default=False)
    tier_path = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"facts of ticket {self.ticket_id}"


class Counted(models.Model):
    """A day (in the reports' time zone), a dimension key and the counters of `engine.reporting`."""

    day = models.DateField()
    department_id = models.BigIntegerField()
    team_id = models.BigIntegerField(default=0)
    assignee_id = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=10, blank=True, default="")
    priority = models.CharField(max_length=10, blank=True, default="")
    tier = models.CharField(max_length=64, blank=True, default="")
    created = models.IntegerField(default=0)
    solved = models.IntegerField(default=0)
    merged = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    backlog_in = models.IntegerField(default=0)
    backlog_out = models.IntegerField(default=0)
    first_replies = models.IntegerField(default=0)
    first_reply_seconds = models.BigIntegerField(default=0)
    first_reply_business_seconds = models.BigIntegerField(default=0)
    responses = models.IntegerField(default=0)
    response_seconds = models.BigIntegerField(default=0)
    response_business_seconds = models.BigIntegerField(default=0)
    resolution_seconds = models.BigIntegerField(default=0)
    resolution_business_seconds = models.BigIntegerField(default=0)
    one_touch = models.IntegerField(default=0)

    class Meta:
        abstract = True


class DailyRollup(Counted):
    """The counters of a day and key, what dashboards sum. The pipeline appends a row per change
    that counts (no row is ever updated by a change, so concurrent changes never wait on each
    other); `reports.rollups.compact` folds a past day's rows into one per key."""

    class Meta:
        ordering = ["day", "id"]
        indexes = [
            models.Index(fields=["day", "department_id"], name="rollup_day_dept"),
            models.Index(fields=["department_id", "day"], name="rollup_dept_day"),
        ]

    def __str__(self) -> str:
        return f"roll-up {self.day} department {self.department_id}"


class TicketCount(Counted):
    """What one change of one ticket counted, at its instant: never folded, so a figure's
    tickets are found (drill-downs) and a ticket's counts can be recomputed on their own."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["ticket", "at"], name="count_ticket"),
            models.Index(fields=["day", "department_id"], name="count_day_dept"),
        ]

    def __str__(self) -> str:
        return f"counts of ticket {self.ticket_id} at {self.at}"
