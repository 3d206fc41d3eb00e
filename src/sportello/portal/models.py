"""The customer portal's own data: its settings (one row), the customers' sign-in links and
optional passwords, and the organizations' designated contacts (who see their organization's
tickets). Customers are `contacts.Contact`; nothing here is an agent's account."""

from __future__ import annotations

from django.db import models

from sportello.accounts.models import Department
from sportello.contacts.models import Contact, Organization


class PortalSettings(models.Model):
    """The portal's settings: one row (pk 1), changed only through `services.portal_settings_update`
    (a stale save is refused on `version`; each change is recorded as a configuration snapshot)."""

    enabled = models.BooleanField(default=False)
    name = models.CharField(max_length=80, default="Sportello")
    colour = models.CharField(max_length=7, default="#1f5f99")  # #rrggbb, AA with white text
    default_language = models.CharField(max_length=10, default="en")
    logo = models.BinaryField(blank=True, default=b"")
    logo_type = models.CharField(max_length=20, blank=True, default="")  # image/png, jpeg, webp
    logo_sha256 = models.CharField(max_length=64, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "portal settings"


class SignInLink(models.Model):
    """A sign-in link mailed to a contact: only the hash of its token is kept. It works once
    (`used_at`, set under the row's lock) until `expires_at`, for its contact only."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    address = models.CharField(max_length=45, blank=True, default="")  # who asked for it

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contact", "created_at"], name="portal_link_contact")]

    def __str__(self) -> str:
        return f"sign-in link {self.pk} of contact {self.contact_id}"


class CustomerPassword(models.Model):
    """The password a contact chose on their account page (Django's hashers), optional."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="+")
    password = models.CharField(max_length=128)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"password of contact {self.contact_id}"


class DesignatedContact(models.Model):
    """A contact who sees, answers, closes and reopens every ticket of their organization in the
    portal (not only their own). Set on the organization's page in the Console; it applies while
    the contact belongs to `organization` (a contact moved elsewhere sees only their own)."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", null=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"designated contact {self.contact_id}"


class HiddenDepartment(models.Model):
    """A department not offered in the portal: absent from its request form and refused when
    posted. Every department is offered until it has a row here (`portal_settings_update`)."""

    department = models.OneToOneField(Department, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"department {self.department_id} hidden in the portal"
