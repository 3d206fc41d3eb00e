"""Satisfaction surveys: each department's policy, one survey per ticket, and the timers that
send the survey and its one reminder.

A `SurveyPolicy` row is a department's survey settings (off by default: a department without a
row sends none); its history is kept as snapshots (`surveys.history`).

A `Survey` is the one survey of a ticket: created when the ticket is first solved under a
policy that is on, with the attribution of that solve (agent, team, department, tier, blueprint
state) and the policy's questions copied, so a later policy change does not change a survey
already offered. Its answer is kept on the row (the last answer counts); every answer or change
of answer is also a ticket event (`rating`).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Department, Team
from sportello.core.models import TicketTimer, TicketTimerFiring
from sportello.tickets.models import Ticket


class Scale(models.TextChoices):
    GOOD_BAD = "good_bad", "Good / bad"
    FIVE = "five", "1 to 5"


class SurveyChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    PORTAL = "portal", "Portal"


class Satisfaction(models.TextChoices):
    """What a rating means, whatever the scale: `ticket.satisfaction` in rules."""

    UNOFFERED = "unoffered", _("Not offered")
    OFFERED = "offered", _("Offered")
    GOOD = "good", _("Good")
    NEUTRAL = "neutral", _("Neutral")
    BAD = "bad", _("Bad")


class SurveyState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    OFFERED = "offered", "Offered"
    ANSWERED = "answered", "Answered"


def new_nonce() -> str:
    return secrets.token_urlsafe(12)


class SurveyPolicy(models.Model):
    """A department's survey settings. Defaults: off."""

    department = models.OneToOneField(Department, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    delay_minutes = models.PositiveIntegerField(default=60)  # after the ticket is solved
    channels = models.JSONField(default=list)  # SurveyChannel values
    scale = models.CharField(max_length=10, choices=Scale.choices, default=Scale.GOOD_BAD)
    ask_ces = models.BooleanField(default=False)
    ask_nps = models.BooleanField(default=False)
    reminder_hours = models.PositiveIntegerField(null=True, blank=True)  # None: no reminder
    window_days = models.PositiveIntegerField(default=14)  # how long the links may be answered
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"survey policy of department {self.department_id}"


class Survey(models.Model):
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="survey")
    state = models.CharField(max_length=10, choices=SurveyState.choices, default=SurveyState.PENDING)
    nonce = models.CharField(max_length=32, default=new_nonce)  # carried by the signed links
    # The policy as it was when the ticket was solved.
    scale = models.CharField(max_length=10, choices=Scale.choices)
    ask_ces = models.BooleanField(default=False)
    ask_nps = models.BooleanField(default=False)
    channels = models.JSONField(default=list)
    # Who and where the ticket was solved (the last solve before the survey was offered).
    solved_at = models.DateTimeField()
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    tier = models.CharField(max_length=64, blank=True, default="")
    blueprint_state = models.CharField(max_length=64, blank=True, default="")
    offered_at = models.DateTimeField(null=True, blank=True)
    emailed = models.BooleanField(default=False)
    reminded_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The answer (the last one counts).
    rating = models.PositiveSmallIntegerField(null=True, blank=True)  # 1 bad, 2 good; or 1..5
    satisfaction = models.CharField(max_length=10, choices=Satisfaction.choices, default=Satisfaction.OFFERED)
    comment = models.TextField(blank=True, default="")
    ces = models.PositiveSmallIntegerField(null=True, blank=True)  # 1..7
    nps = models.PositiveSmallIntegerField(null=True, blank=True)  # 0..10
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_via = models.CharField(max_length=10, blank=True, default="")
    answers = models.PositiveIntegerField(default=0)  # how many times it was answered or changed

    class Meta:
        indexes = [
            models.Index(
                fields=["answered_at", "department"],
                condition=Q(answered_at__isnull=False),
                name="survey_answered",
            ),
            models.Index(fields=["offered_at", "department"], name="survey_offered"),
        ]

    def __str__(self) -> str:
        return f"survey of ticket {self.ticket_id}"


class SurveyStep(models.TextChoices):
    SEND = "send", "Send the survey"
    REMIND = "remind", "Send the reminder"


class SurveyTimer(TicketTimer):
    """The survey's sending, or its reminder, armed for a ticket: at most one of each fires,
    ever (`SurveyFiring`)."""

    step = models.CharField(max_length=10, choices=SurveyStep.choices)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint("ticket", "step", name="survey_timer_unique")]
        indexes = [models.Index(fields=["due_at", "id"], name="survey_timer_due")]

    def __str__(self) -> str:
        return f"survey {self.step} of ticket {self.ticket_id} at {self.due_at}"


class SurveyFiring(TicketTimerFiring):
    step = models.CharField(max_length=10, choices=SurveyStep.choices)

    class Meta:
        constraints = [models.UniqueConstraint("ticket", "step", name="survey_firing_unique")]

    def __str__(self) -> str:
        return f"survey {self.step} fired on ticket {self.ticket_id}"
