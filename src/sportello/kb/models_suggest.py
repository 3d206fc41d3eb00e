"""What happened to answer suggestions, for the deflection figures (`kb.deflection`).

One `SHOWN` row per list of suggestions shown (the text asked about, the articles in the order
shown); `OPENED` and `SOLVED` rows point at it and at the article (at most one of each kind per
list and article); a `SUBMITTED` row says a request was sent from the same portal session.
`session` is a hash of the session key, never the key itself; `contact` is the signed-in
contact, when there is one.
"""

from __future__ import annotations

from django.db import models

from sportello.accounts.models import Department
from sportello.contacts.models import Contact


class SuggestionAudience(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"


class SuggestionEvent(models.Model):
    class Kind(models.TextChoices):
        SHOWN = "shown", "Suggestions shown"
        OPENED = "opened", "Suggestion opened"
        SOLVED = "solved", "Marked as solving the problem"
        SUBMITTED = "submitted", "Request submitted"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    audience = models.CharField(max_length=10, choices=SuggestionAudience.choices)
    session = models.CharField(max_length=64, blank=True, default="")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    shown = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="followups"
    )
    article = models.ForeignKey(
        "kb.Article", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    language = models.CharField(max_length=10, blank=True, default="")
    query = models.CharField(max_length=500, blank=True, default="")
    article_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                "shown",
                "article",
                "kind",
                condition=models.Q(kind__in=["opened", "solved"]),
                name="kb_suggestion_followup_once",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "created_at"], name="kb_suggestion_kind"),
            models.Index(fields=["session", "kind"], name="kb_suggestion_session"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"
