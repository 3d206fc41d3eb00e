"""Customers: contacts and the organizations they belong to."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower


class Tier(models.TextChoices):
    STANDARD = "standard", "Standard"
    SILVER = "silver", "Silver"
    GOLD = "gold", "Gold"
    PLATINUM = "platinum", "Platinum"


class Organization(models.Model):
    name = models.CharField(max_length=200)
    domains = models.JSONField(default=list, blank=True)  # lower-case e-mail domains
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STANDARD)
    vip = models.BooleanField(default=False)
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="contacts_org_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A customer. A contact has an e-mail address, a phone number or both: a caller known only
    by their phone is a contact without an address (`email` empty), who is never e-mailed. An
    address belongs to one contact (case-insensitively); so does the phone of a contact without
    an address, their only way to be told apart."""

    email = models.EmailField(max_length=254, blank=True, default="")
    name = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=40, blank=True, default="")
    language = models.CharField(max_length=10, default="en")
    time_zone = models.CharField(max_length=64, default="UTC")
    vip = models.BooleanField(default=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="contacts_contact_email_ci_unique"
            ),
            models.UniqueConstraint(
                fields=["phone"],
                condition=models.Q(email="") & ~models.Q(phone=""),
                name="contacts_contact_phone_only_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(email="") | ~models.Q(phone=""), name="contacts_contact_email_or_phone"
            ),
        ]
        # The VIP contacts (a few of many): the Desk's VIP view reads them, not every contact.
        indexes = [models.Index(fields=["id"], condition=models.Q(vip=True), name="contact_vip")]

    def __str__(self) -> str:
        return self.name or self.email or self.phone


class MergedContact(models.Model):
    """A contact merged into another (`contacts.services.contact_merge`) and deleted: what it was
    (its id, address, phone and name) and where it went. Its address stays the target's: mail
    from it is the target's (`contact_by_email`), and no new contact may take it. A target merged
    in turn takes these rows with it, so they always name a contact that exists."""

    source_id = models.BigIntegerField(unique=True)
    email = models.EmailField(max_length=254, blank=True, default="")  # lower-case, as stored
    phone = models.CharField(max_length=40, blank=True, default="")
    name = models.CharField(max_length=200, blank=True, default="")
    target = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merged_contacts")
    merged_at = models.DateTimeField()
    merged_by_id = models.BigIntegerField(null=True, blank=True)  # the agent; None: the system

    class Meta:
        ordering = ["-merged_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~models.Q(email=""), name="contacts_merged_email_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"contact {self.source_id} merged into {self.target_id}"


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", "Preview"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ContactImport(models.Model):
    """A CSV file of contacts uploaded for import (`contacts.transfer`): the decoded text, the
    column mapping, and the progress and report of the run (rows done of `total`; created,
    updated and skipped, each skipped row with its line number and reason in `skipped`)."""

    created_by_id = models.BigIntegerField(null=True, blank=True)
    filename = models.CharField(max_length=255, blank=True, default="")
    text = models.TextField()
    mapping = models.JSONField(default=dict)  # field -> column index
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PREVIEW)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=list)  # [[line, reason], ...], written when it ends
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"contact import {self.pk}"
