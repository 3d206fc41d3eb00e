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
