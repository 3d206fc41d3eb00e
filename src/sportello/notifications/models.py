"""Notification and reply templates, canned responses, and the ledger of automatic
notifications to customers that the hourly limit counts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from sportello.accounts.models import Department
from sportello.core.versioning import ConfigHead, ConfigVersion


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"
    ITALIAN = "it", "Italian"


class NotificationTemplate(ConfigHead):
    """An admin's text for one template key in one language. Without a row (or with an inactive
    one) the shipped default (`notifications.defaults`) is used; deleting the row restores it.
    Every saved text is also kept in `NotificationTemplateVersion`."""

    key = models.CharField(max_length=64)
    language = models.CharField(max_length=10, choices=Language.choices)
    subject = models.CharField(max_length=1000)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["key", "language"]
        constraints = [
            models.UniqueConstraint("key", "language", name="notifications_template_key_language_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key}/{self.language}@{self.version}"


class NotificationTemplateVersion(ConfigVersion):
    """Every text saved for a (key, language), numbered on from 1. Kept when the template row is
    deleted (the default restored), so a later save continues the numbering."""

    key = models.CharField(max_length=64)
    language = models.CharField(max_length=10, choices=Language.choices)
    subject = models.CharField(max_length=1000)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["key", "language", "version"]
        constraints = [
            models.UniqueConstraint("key", "language", "version", name="notifications_templateversion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key}/{self.language}@{self.version}"


class CannedResponse(models.Model):
    """A reply text agents insert into their answers, with the templates' placeholders. Personal
    (`owner_user`) or shared with one department (`owner_department`): exactly one is set."""

    title = models.CharField(max_length=200)
    body = models.TextField()
    language = models.CharField(max_length=10, choices=Language.choices, blank=True, default="")
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
    )
    owner_department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="canned_responses"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(owner_user__isnull=False, owner_department__isnull=True)
                    | Q(owner_user__isnull=True, owner_department__isnull=False)
                ),
                name="notifications_canned_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.title


class CustomerNotification(models.Model):
    """One automatic notification queued to a customer's address: what the hourly limit
    (`SPORTELLO["CUSTOMER_NOTIFICATIONS_PER_HOUR"]`) counts. Rows older than a day are pruned."""

    email = models.CharField(max_length=254)  # lower-cased
    ticket_number = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["email", "created_at"], name="notif_customer_recent")]

    def __str__(self) -> str:
        return f"notification to {self.email} at {self.created_at}"
