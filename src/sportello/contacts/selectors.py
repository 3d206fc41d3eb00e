"""Reads of contacts and organizations. Every active agent, light agents included, reads all
customers; missing ids raise NotFound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Func, Q, QuerySet, Value
from django.db.models.functions import Replace

from sportello.accounts.models import User
from sportello.accounts.selectors import valid_pk
from sportello.core.errors import NotFound, ValidationFailed
from sportello.core.text import clean_text

from . import merging
from .models import Contact, MergedContact, Organization, Tier

QUERY_MAX = 200


def _query(q: str) -> str:
    return clean_text(q, field="q", max_length=QUERY_MAX, single_line=True).strip()


PHONE_PUNCTUATION = " -./()"


def _phone_digits(text: str) -> str:
    """`text` without the punctuation people write phone numbers with, when it is a phone
    number at all (digits and that punctuation, maybe a leading +); else ""."""
    bare = "".join(c for c in text if c not in PHONE_PUNCTUATION)
    return bare if len(bare) >= 3 and bare.lstrip("+").isdigit() else ""


def _digits_of(field: str) -> Func:
    expr: Any = F(field)
    for c in PHONE_PUNCTUATION:
        expr = Replace(expr, Value(c), Value(""))
    return expr


def contact_list(
    *,
    user: User | None = None,
    q: str | None = None,
    organization_id: int | None = None,
    vip: bool | None = None,
) -> QuerySet[Contact]:
    """Contacts, optionally narrowed: `q` is a case-insensitive substring of e-mail, name or
    phone (a phone also matches written without its spaces, dashes, dots or brackets)."""
    qs = Contact.objects.select_related("organization")
    if q:
        text = _query(q)
        if text:
            match = Q(email__icontains=text) | Q(name__icontains=text) | Q(phone__icontains=text)
            digits = _phone_digits(text)
            if digits:
                match |= Q(phone_digits__contains=digits)
                qs = qs.annotate(phone_digits=_digits_of("phone"))
            qs = qs.filter(match)
    if organization_id is not None:
        if not valid_pk(organization_id):
            raise ValidationFailed("must be an organization id", field="organization_id")
        qs = qs.filter(organization_id=organization_id)
    if vip is not None:
        qs = qs.filter(vip=vip)
    return qs


def contact_get(*, user: User | None, contact_id: int) -> Contact:
    if not valid_pk(contact_id):
        raise NotFound("contact not found")
    contact = Contact.objects.select_related("organization").filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("contact not found")
    return contact


def organization_list(
    *,
    user: User | None = None,
    q: str | None = None,
    tier: str | None = None,
    vip: bool | None = None,
) -> QuerySet[Organization]:
    """Organizations, optionally narrowed: `q` is a case-insensitive substring of the name."""
    qs = Organization.objects.all()
    if q:
        text = _query(q)
        if text:
            qs = qs.filter(name__icontains=text)
    if tier is not None:
        if tier not in Tier.values:
            raise ValidationFailed(f"must be one of {', '.join(Tier.values)}", field="tier")
        qs = qs.filter(tier=tier)
    if vip is not None:
        qs = qs.filter(vip=vip)
    return qs


def organization_get(*, user: User | None, organization_id: int) -> Organization:
    if not valid_pk(organization_id):
        raise NotFound("organization not found")
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        raise NotFound("organization not found")
    return organization


def organization_taking(*, name: str = "", domains: list[str] | tuple[str, ...] = ()) -> Organization | None:
    """The organization that has this name (case-insensitively) or one of these domains: the one
    a refused new organization collides with."""
    if name.strip():
        found = Organization.objects.filter(name__iexact=name.strip()).order_by("id").first()
        if found is not None:
            return found
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if not domain:
            continue
        for org in Organization.objects.filter(domains__icontains=domain).order_by("id"):
            if domain in (org.domains or []):
                return org
    return None


def contact_taking(*, email: str = "", phone: str = "") -> Contact | None:
    """The contact that has this e-mail address (or was merged from one that had it), else the
    contact without an address that has this phone: the one a refused new contact collides with."""
    if email.strip():
        address = email.strip().lower()
        found = Contact.objects.filter(email__iexact=address).first()
        if found is None:
            merged = MergedContact.objects.filter(email=address).values_list("target_id", flat=True).first()
            found = Contact.objects.filter(pk=merged).first() if merged is not None else None
        return found
    if phone.strip():
        return Contact.objects.filter(email="", phone=" ".join(phone.split())).order_by("id").first()
    return None


def organization_for_reference(*, organization_id: int, field: str = "organization_id") -> Organization:
    """The organization a request body refers to; an unknown id is a 422 on `field`."""
    try:
        return organization_get(user=None, organization_id=organization_id)
    except NotFound:
        raise ValidationFailed(f"no organization with id {organization_id}", field=field) from None


def contact_merged_into(*, contact_id: int) -> int | None:
    """The contact that `contact_id` was merged into, or None (one query)."""
    if not valid_pk(contact_id):
        return None
    return MergedContact.objects.filter(source_id=contact_id).values_list("target_id", flat=True).first()


@dataclass(frozen=True, slots=True)
class MoveLine:
    key: str  # the foreign key, `app_label.Model.field`
    count: int
    text: str  # "3 tickets", in the reader's language


@dataclass(frozen=True, slots=True)
class ContactMergePreview:
    """What merging `source` into `target` would do: the rows it would move, per foreign key, and
    the target's empty fields the source would fill (field → value; the organization's id)."""

    source: Contact
    target: Contact
    moves: list[MoveLine]
    filled: dict[str, Any]

    @property
    def tickets(self) -> int:
        return next((line.count for line in self.moves if line.key == "tickets.Ticket.requester"), 0)


def contact_merge_preview(*, user: User | None, source_id: int, target_id: int) -> ContactMergePreview:
    """What `contacts.services.contact_merge` would do now (it may differ by the time it runs: the
    merge counts again). Unknown contacts raise NotFound; the same contact twice ValidationFailed."""
    if source_id == target_id:
        raise ValidationFailed("a contact cannot be merged into itself", field="target_id", code="merge_self")
    source = contact_get(user=user, contact_id=source_id)
    target = contact_get(user=user, contact_id=target_id)
    moves = []
    for ref in merging.references():
        n = ref.count(source.pk)
        moves.append(MoveLine(key=ref.key, count=n, text=ref.describe(n)))
    return ContactMergePreview(
        source=source, target=target, moves=moves, filled=merging.fields_to_fill(source, target)
    )


# Addresses at these domains say nothing about who someone works for.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "alice.it",
        "yandex.ru",
        "mail.ru",
        "orange.fr",
        "free.fr",
        "wanadoo.fr",
        "laposte.net",
        "t-online.de",
        "qq.com",
        "163.com",
        "hey.com",
    }
)
DUPLICATES_MAX = 5


def contact_duplicates(*, contact: Contact, limit: int = DUPLICATES_MAX) -> list[Contact]:
    """Other contacts that are likely the same person or company (one query, at most `limit`):
    the same name (case-insensitively), the same phone, or an address at the same domain (unless
    a public mail provider's)."""
    match = Q()
    if contact.name.strip():
        match |= Q(name__iexact=contact.name.strip())
    if contact.phone:
        match |= Q(phone=contact.phone)
    domain = contact.email.rsplit("@", 1)[-1] if "@" in contact.email else ""
    if domain and domain not in PUBLIC_MAIL_DOMAINS:
        match |= Q(email__iendswith=f"@{domain}")
    if not match:
        return []
    return list(
        Contact.objects.select_related("organization")
        .filter(match)
        .exclude(pk=contact.pk)
        .order_by("id")[:limit]
    )
