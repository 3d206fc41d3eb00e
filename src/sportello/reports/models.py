"""What reports read instead of the audit trail: a row of figures per ticket (`TicketFacts`) and
daily roll-ups (`DailyRollup`), both kept by the change pipeline in the change's own transaction
(`reports.extension`) and rebuilt from the audit trail by `sportello reports rebuild`
(`reports.rollups`). What each figure means: `engine.reporting` and docs/metrics.md."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import User
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


class Frequency(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


class PauseReason(models.TextChoices):
    NONE = "", _("Not paused")
    BY_HAND = "paused", _("Paused by hand")
    NO_ACCESS = "no_access", _("Paused: the subscriber no longer reads reports")


class ReportSubscription(models.Model):
    """The overview e-mailed to an agent who reads reports, daily (the day before) or weekly
    (the week before, Monday to Sunday), at `hour` on the subscriber's clock
    (`User.time_zone`), in their language. `filters`: the overview's dimensions
    (department, team, agent, channel, priority: ids or keys), always read within the
    subscriber's scope at the moment of sending. Managed through `reports.subscriptions`."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    weekday = models.PositiveSmallIntegerField(default=0)  # 0 Monday … 6 Sunday (weekly only)
    hour = models.PositiveSmallIntegerField(default=8)  # 0..23, the subscriber's local time
    filters = models.JSONField(default=dict, blank=True)
    group = models.CharField(max_length=20, default="department")
    active = models.BooleanField(default=True)
    paused_reason = models.CharField(max_length=20, choices=PauseReason.choices, blank=True, default="")
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["user_id", "id"]
        indexes = [models.Index(fields=["active"], name="report_sub_active")]
        constraints = [
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="report_sub_hour"),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="report_sub_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.frequency} report for user {self.user_id}"


class ReportDelivery(models.Model):
    """A subscription's report of one period, recorded in the transaction that queues its mail:
    unique per subscription and period, so however many workers look, a period is sent once.
    `outbox_id`: the queued mail (its delivery state is the outbox's)."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="deliveries")
    period_start = models.DateField()
    period_end = models.DateField()
    outbox_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["subscription_id", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period_start"], name="report_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"report {self.subscription_id} for {self.period_start}"


class SubscriptionAction(models.TextChoices):
    CREATED = "created", _("Created")
    CHANGED = "changed", _("Changed")
    PAUSED = "paused", _("Paused")
    RESUMED = "resumed", _("Resumed")
    DELETED = "deleted", _("Deleted")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed by e-mail link")
    FAILED = "failed", _("Could not be prepared")


class SubscriptionEvent(models.Model):
    """The history of a subscription: who (None: the system) did what, when, and the
    subscription as it became (`state`). Kept after the subscription is deleted."""

    subscription_id = models.BigIntegerField()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")  # the subscriber
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=20, choices=SubscriptionAction.choices)
    state = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["subscription_id", "at"], name="report_sub_event")]

    def __str__(self) -> str:
        return f"{self.action} subscription {self.subscription_id}"
