"""Writes for contacts and organizations."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from sportello.core.errors import Conflict, ValidationFailed
from sportello.core.text import clean_text

from .models import Contact, Organization, Tier


def normalise_email(raw: str, *, field: str = "email") -> str:
    email = clean_text(raw or "", field=field, max_length=254).strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("must be a valid e-mail address", field=field) from None
    return email


def normalise_domains(raw: list[str]) -> list[str]:
    out: list[str] = []
    for d in raw:
        domain = clean_text(d, field="domains", max_length=253).strip().lower().lstrip("@")
        if not domain or "." not in domain or any(c.isspace() or c in "@/\\," for c in domain):
            raise ValidationFailed(f"{d[:60]!r} is not an e-mail domain", field="domains")
        if domain not in out:
            out.append(domain)
    return out


def organization_for_email(email: str) -> Organization | None:
    domain = email.rsplit("@", 1)[-1].lower()
    for org in Organization.objects.filter(domains__icontains=domain).order_by("id"):
        if domain in (org.domains or []):
            return org
    return None


def organization_create(
    *,
    name: str,
    domains: list[str] | None = None,
    tier: str = Tier.STANDARD,
    vip: bool = False,
    notes: str = "",
) -> Organization:
    name = clean_text(name, field="name", max_length=200, single_line=True, required=True)
    if tier not in Tier.values:
        raise ValidationFailed(f"must be one of {', '.join(Tier.values)}", field="tier")
    if Organization.objects.filter(name__iexact=name).exists():
        raise Conflict(f"an organization named {name!r} exists", field="name")
    notes = clean_text(notes, field="notes", max_length=10_000)
    return Organization.objects.create(
        name=name, domains=normalise_domains(domains or []), tier=tier, vip=vip, notes=notes
    )


def contact_create(
    *,
    email: str,
    name: str = "",
    phone: str = "",
    language: str = "en",
    time_zone: str = "UTC",
    vip: bool = False,
    organization: Organization | None = None,
) -> Contact:
    email = normalise_email(email)
    name = clean_text(name, field="name", max_length=200, single_line=True)
    phone = clean_text(phone, field="phone", max_length=40, single_line=True)
    if Contact.objects.filter(email__iexact=email).exists():
        raise Conflict(f"a contact with e-mail {email} exists", field="email")
    if organization is None:
        organization = organization_for_email(email)
    try:
        with transaction.atomic():
            return Contact.objects.create(
                email=email,
                name=name,
                phone=phone,
                language=language,
                time_zone=time_zone,
                vip=vip,
                organization=organization,
            )
    except IntegrityError:
        raise Conflict(f"a contact with e-mail {email} exists", field="email") from None


def contact_get_or_create(*, email: str, name: str = "") -> Contact:
    email = normalise_email(email, field="requester_email")
    existing = Contact.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        return contact_create(email=email, name=name)
    except Conflict:  # created concurrently
        return Contact.objects.get(email__iexact=email)
