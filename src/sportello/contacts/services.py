"""Writes for contacts and organizations.

Admins and agents create and change customers; light agents only read them. `actor=None` is
the system itself (mail intake, imports, demo data), which may do anything.

A contact has an e-mail address, a phone number or both (a caller known only by their phone
has no address, and is never e-mailed). E-mail addresses are stored lower-case and are unique
case-insensitively when present; the phone of a contact without an address is unique too (it is
all that tells them apart). Organization names are unique case-insensitively, and an e-mail
domain belongs to at most one organization so that a new contact's organization can be inferred
from its address.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import QuerySet

from sportello.accounts.models import Role, User
from sportello.core.actors import Via
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.core.text import clean_text

from . import merging
from .language import desk_default_language
from .models import Contact, MergedContact, Organization, Tier

DOMAINS_MAX = 100
NOTES_MAX = 10_000


class Unset(enum.Enum):
    """Marks an argument that was not given (where `None` is a meaningful value)."""

    UNSET = "unset"


UNSET = Unset.UNSET


def require_writer(actor: User | None) -> None:
    """Admins and agents write customers; light agents read only."""
    if actor is None:
        return
    if not actor.is_active or actor.role not in (Role.ADMIN, Role.AGENT):
        raise PermissionDenied("light agents can read customers but not change them")


def normalise_email(raw: str, *, field: str = "email") -> str:
    email = clean_text(raw or "", field=field, max_length=254, single_line=True).strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("must be a valid e-mail address", field=field) from None
    return email


def normalise_domains(raw: list[str]) -> list[str]:
    if len(raw) > DOMAINS_MAX:
        raise ValidationFailed(f"at most {DOMAINS_MAX} domains", field="domains")
    out: list[str] = []
    for d in raw:
        if not isinstance(d, str):
            raise ValidationFailed("domains must be strings", field="domains")
        domain = clean_text(d, field="domains", max_length=253).strip().lower().lstrip("@")
        if not domain or "." not in domain or any(c.isspace() or c in "@/\\,\"'" for c in domain):
            raise ValidationFailed(f"{d[:60]!r} is not an e-mail domain", field="domains")
        if domain not in out:
            out.append(domain)
    return out


def _check_domains_free(domains: list[str], *, exclude_pk: int | None = None) -> None:
    for domain in domains:
        owner = _organization_with_domain(domain, exclude_pk=exclude_pk)
        if owner is not None:
            raise Conflict(f"the domain {domain} belongs to the organization {owner.name}", field="domains")


def _organization_with_domain(domain: str, *, exclude_pk: int | None = None) -> Organization | None:
    # The JSON substring filter narrows the candidates on both databases; the exact list
    # membership is checked in Python.
    qs = Organization.objects.filter(domains__icontains=domain).order_by("id")
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    for org in qs:
        if domain in (org.domains or []):
            return org
    return None


def organization_for_email(email: str) -> Organization | None:
    return _organization_with_domain(email.rsplit("@", 1)[-1].lower())


def _tier(raw: str) -> str:
    if raw not in Tier.values:
        raise ValidationFailed(f"must be one of {', '.join(Tier.values)}", field="tier")
    return raw


def _org_name(raw: str) -> str:
    return clean_text(raw, field="name", max_length=200, single_line=True, required=True)


def organization_create(
    *,
    name: str,
    domains: list[str] | None = None,
    tier: str = Tier.STANDARD,
    vip: bool = False,
    notes: str = "",
    actor: User | None = None,
) -> Organization:
    require_writer(actor)
    name = _org_name(name)
    tier = _tier(tier)
    notes = clean_text(notes, field="notes", max_length=NOTES_MAX)
    clean_domains = normalise_domains(domains or [])
    if Organization.objects.filter(name__iexact=name).exists():
        raise Conflict(f"an organization named {name!r} exists", field="name")
    _check_domains_free(clean_domains)
    try:
        with transaction.atomic():
            return Organization.objects.create(
                name=name, domains=clean_domains, tier=tier, vip=vip, notes=notes
            )
    except IntegrityError:  # created concurrently
        raise Conflict(f"an organization named {name!r} exists", field="name") from None


def organization_update(
    *,
    organization: Organization,
    actor: User | None,
    name: str | None = None,
    domains: list[str] | None = None,
    tier: str | None = None,
    vip: bool | None = None,
    notes: str | None = None,
    expected: str | None = None,
) -> Organization:
    """Change an organization; `None` leaves an attribute as it is. `domains` replaces the list;
    contacts already in the organization stay in it. `expected`: the `organization_fingerprint`
    the caller saw; when the organization changed since, nothing is saved (`Conflict`, field
    `expected`, code `stale`)."""
    require_writer(actor)
    if expected is not None:
        with transaction.atomic():
            _lock_organization(organization, expected)
            return organization_update(
                organization=organization,
                actor=actor,
                name=name,
                domains=domains,
                tier=tier,
                vip=vip,
                notes=notes,
            )
    changed: list[str] = []
    if name is not None:
        name = _org_name(name)
        if Organization.objects.filter(name__iexact=name).exclude(pk=organization.pk).exists():
            raise Conflict(f"an organization named {name!r} exists", field="name")
        organization.name = name
        changed.append("name")
    if domains is not None:
        clean_domains = normalise_domains(domains)
        _check_domains_free(clean_domains, exclude_pk=organization.pk)
        organization.domains = clean_domains
        changed.append("domains")
    if tier is not None:
        organization.tier = _tier(tier)
        changed.append("tier")
    if vip is not None:
        organization.vip = vip
        changed.append("vip")
    if notes is not None:
        organization.notes = clean_text(notes, field="notes", max_length=NOTES_MAX)
        changed.append("notes")
    if changed:
        try:
            with transaction.atomic():
                organization.save(update_fields=changed)
        except IntegrityError:
            raise Conflict(f"an organization named {organization.name!r} exists", field="name") from None
    return organization


def organization_fingerprint(organization: Organization) -> str:
    """A short digest of what an organization's edit form shows and saves: a form carries the
    one it was drawn from, so a save over a change made meanwhile is refused
    (`organization_update(expected=...)`)."""
    shape = [organization.name, list(organization.domains or []), organization.tier, organization.vip]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def _lock_organization(organization: Organization, expected: str) -> None:
    """Lock the organization's row, refresh `organization` from it, and refuse when it no longer
    matches the fingerprint the caller saw."""
    current = Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if current is None:
        raise NotFound("organization not found")
    if organization_fingerprint(current) != expected:
        raise Conflict(
            f"organization {organization.pk} was changed meanwhile", field="expected", code="stale"
        )
    for attr in ("name", "domains", "tier", "vip", "notes"):
        setattr(organization, attr, getattr(current, attr))


def _language(raw: str) -> str:
    value = clean_text(raw, field="language", max_length=10, single_line=True, required=True)
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
        raise ValidationFailed("must be a language tag such as en or pt-BR", field="language")
    return value


def _time_zone(raw: str) -> str:
    value = clean_text(raw, field="time_zone", max_length=64, single_line=True, required=True)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {value[:64]!r}", field="time_zone") from None
    return value


NEEDS_EMAIL_OR_PHONE = "a contact needs an e-mail address or a phone number"


def _phone(raw: str) -> str:
    return " ".join(clean_text(raw, field="phone", max_length=40, single_line=True).split())


def _check_reachable(email: str, phone: str) -> None:
    if not email and not phone:
        raise ValidationFailed(NEEDS_EMAIL_OR_PHONE, field="email")


def _check_free(email: str, phone: str, *, exclude_pk: int | None = None) -> None:
    """Conflict when the address, or the phone of a contact without one, is someone else's
    (an address of a contact merged into another stays that other's)."""
    others = Contact.objects.exclude(pk=exclude_pk) if exclude_pk is not None else Contact.objects.all()
    if email and others.filter(email__iexact=email).exists():
        raise Conflict(f"a contact with e-mail {email} exists", field="email")
    merged = MergedContact.objects.filter(email=email.lower())
    if exclude_pk is not None:
        merged = merged.exclude(target_id=exclude_pk)
    merged_from = merged.values_list("source_id", flat=True).first() if email else None
    if merged_from is not None and merged_from == exclude_pk:  # the contact itself was merged
        raise _gone(exclude_pk)
    if merged_from is not None:
        raise Conflict(f"a contact with e-mail {email} exists", field="email")
    if not email and phone and others.filter(email="", phone=phone).exists():
        raise Conflict(f"a contact with phone {phone} and no e-mail address exists", field="phone")


def _taken(email: str, phone: str) -> Conflict:
    """The conflict a unique constraint raised (a contact created or changed concurrently)."""
    if email:
        return Conflict(f"a contact with e-mail {email} exists", field="email")
    return Conflict(f"a contact with phone {phone} and no e-mail address exists", field="phone")


def contact_create(
    *,
    email: str = "",
    name: str = "",
    phone: str = "",
    language: str | None = None,
    time_zone: str = "UTC",
    vip: bool = False,
    organization: Organization | None = None,
    actor: User | None = None,
) -> Contact:
    """Create a contact, with an e-mail address, a phone number or both. Without an
    organization, the one owning the e-mail's domain is used; without a language, the desk's
    default language (`language.desk_default_language`)."""
    require_writer(actor)
    email = normalise_email(email) if (email or "").strip() else ""
    name = clean_text(name, field="name", max_length=200, single_line=True)
    phone = _phone(phone)
    language = _language(language if language is not None else desk_default_language())
    time_zone = _time_zone(time_zone)
    _check_reachable(email, phone)
    _check_free(email, phone)
    if organization is None and email:
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
        raise _taken(email, phone) from None


def contact_update(
    *,
    contact: Contact,
    actor: User | None,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    time_zone: str | None = None,
    vip: bool | None = None,
    organization: Organization | Unset | None = UNSET,
    expected: str | None = None,
) -> Contact:
    """Change a contact; `None` leaves an attribute as it is, except `organization`, where
    `None` removes the contact from its organization and `UNSET` leaves it. An empty `email` or
    `phone` removes it, as long as the contact keeps the other. A changed e-mail does not move
    the contact to another organization. `expected`: the `contact_fingerprint` the caller saw;
    when the contact changed since, nothing is saved (`Conflict`, field `expected`, code
    `stale`)."""
    require_writer(actor)
    if expected is not None:
        with transaction.atomic():
            _lock_contact(contact, expected)
            return contact_update(
                contact=contact,
                actor=actor,
                email=email,
                name=name,
                phone=phone,
                language=language,
                time_zone=time_zone,
                vip=vip,
                organization=organization,
            )
    changed: list[str] = []
    new_email = contact.email if email is None else normalise_email(email) if email.strip() else ""
    new_phone = contact.phone if phone is None else _phone(phone)
    if email is not None or phone is not None:
        if not new_email and not new_phone:
            raise ValidationFailed(NEEDS_EMAIL_OR_PHONE, field="email" if email is not None else "phone")
        _check_free(new_email, new_phone, exclude_pk=contact.pk)
    if email is not None:
        contact.email = new_email
        changed.append("email")
    if name is not None:
        contact.name = clean_text(name, field="name", max_length=200, single_line=True)
        changed.append("name")
    if phone is not None:
        contact.phone = new_phone
        changed.append("phone")
    if language is not None:
        contact.language = _language(language)
        changed.append("language")
    if time_zone is not None:
        contact.time_zone = _time_zone(time_zone)
        changed.append("time_zone")
    if vip is not None:
        contact.vip = vip
        changed.append("vip")
    if not isinstance(organization, Unset):
        contact.organization = organization
        changed.append("organization")
    if changed:
        try:
            with transaction.atomic():
                contact.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:
            raise _taken(contact.email, contact.phone) from None
        except DatabaseError:  # no row to update: merged into another (or deleted) meanwhile
            if Contact.objects.filter(pk=contact.pk).exists():
                raise
            raise _gone(contact.pk) from None
    return contact


def contact_fingerprint(contact: Contact) -> str:
    """A short digest of what a contact's edit form shows and saves: a form carries the one it
    was drawn from, so a save over a change made meanwhile is refused
    (`contact_update(expected=...)`)."""
    shape = [
        contact.name, contact.email, contact.phone, contact.organization_id, contact.vip, contact.language
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def _lock_contact(contact: Contact, expected: str) -> None:
    """Lock the contact's row, refresh `contact` from it, and refuse when it no longer matches
    the fingerprint the caller saw (or is gone: merged into another)."""
    current = Contact.objects.select_for_update().filter(pk=contact.pk).first()
    if current is None:
        raise _gone(contact.pk)
    if contact_fingerprint(current) != expected:
        raise Conflict(f"contact {contact.pk} was changed meanwhile", field="expected", code="stale")
    for f in Contact._meta.concrete_fields:
        if not f.primary_key:
            setattr(contact, f.attname, getattr(current, f.attname))


def _gone(contact_id: int) -> Conflict | NotFound:
    """The error for a contact that is not there: merged into another, or unknown."""
    merged = MergedContact.objects.filter(source_id=contact_id).first()
    if merged is not None:
        return Conflict(
            f"contact {contact_id} was merged into contact {merged.target_id}",
            field="contact",
            code="contact_merged",
        )
    return NotFound("contact not found")


def contact_by_email(email: str) -> Contact | None:
    """The contact with this address, case-insensitively, or the one a contact with this address
    was merged into: one statement, on the unique indexes of the lower-cased addresses and of the
    merged ones (whose conditions, a non-empty address, it repeats); an address belongs to a
    contact or to a merged one, never both (`_check_free`). Written out: every mail message asks,
    and the ORM's query costs more to build than to run."""
    quote = connection.ops.quote_name
    table, merged = quote(Contact._meta.db_table), quote(MergedContact._meta.db_table)
    sql = (
        f"SELECT c.* FROM {table} c WHERE LOWER(c.email) = %s AND NOT (c.email = '') "  # noqa: S608  (its tables)
        f"UNION ALL SELECT c.* FROM {table} c INNER JOIN {merged} m ON m.target_id = c.id "
        "WHERE m.email = %s AND NOT (m.email = '') LIMIT 1"
    )
    address = email.lower()
    return next(iter(Contact.objects.raw(sql, [address, address])), None)


def contact_get_or_create(
    *, email: str, name: str = "", language: str | Callable[[], str] | None = None
) -> Contact:
    """The contact with this address, or a new one (`name`, `language` only for a new one; its
    organization the one owning the address's domain). `language` may be a function, called only
    for a new contact (telling a message's language is not free); None: the desk's default. A
    known address costs one statement. A new contact is inserted with `ON CONFLICT DO NOTHING`
    — no savepoint: the unique address decides — and when another transaction created the same
    address meanwhile, theirs is read."""
    email = normalise_email(email, field="requester_email")
    existing = contact_by_email(email)
    if existing is not None:
        return existing
    try:
        contact = Contact(
            email=email,
            name=clean_text(name, field="name", max_length=200, single_line=True),
            language=_language(
                language()
                if callable(language)
                else language
                if language is not None
                else desk_default_language()
            ),
            time_zone="UTC",
            organization=organization_for_email(email),
        )
    except ValidationFailed as exc:
        exc.field = f"requester_{exc.field}" if exc.field in ("email", "name", "language") else exc.field
        raise
    if _insert_new(contact):
        return contact
    found = contact_by_email(email)  # created concurrently: the other transaction committed it
    if found is None:
        raise Conflict(f"a contact with e-mail {email} exists", field="requester_email")
    return found


def _insert_new(contact: Contact) -> bool:
    """Insert `contact` unless its address (or phone) is taken: `INSERT … ON CONFLICT DO NOTHING
    RETURNING id` (PostgreSQL; SQLite 3.35+). True, with its id set, when it was inserted."""
    fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(contact, add=True), connection) for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    sql = (
        f"INSERT INTO {quote(Contact._meta.db_table)} ({columns}) "  # noqa: S608  (the model's own names)
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    contact.pk = row[0]
    contact._state.adding = False
    contact._state.db = connection.alias
    return True


def require_admin(actor: User | None) -> None:
    """Only admins merge contacts (a merge deletes one); `None` is the system."""
    if actor is None:
        return
    if not actor.is_active or actor.role != Role.ADMIN:
        raise PermissionDenied("only admins merge contacts")


@dataclass(frozen=True, slots=True)
class ContactMergeOutcome:
    """A merge done: the target as it is now, what moved (`moved`: reference key → rows) and the
    fields the source filled (`filled`: field → value)."""

    target: Contact
    source_id: int
    moved: dict[str, int]
    filled: dict[str, Any]


def _locked(contact_id: int) -> Contact:
    # FOR NO KEY UPDATE where there is one: a change inserting a row that refers to the contact
    # (a message by them, a ticket of theirs) does not wait for the merge's lock, only its delete.
    no_key = bool(connection.features.has_select_for_no_key_update)
    found = (
        Contact.objects.select_for_update(no_key=no_key).filter(pk=contact_id).first()
        if contact_id > 0
        else None
    )
    if found is None:
        raise _gone(contact_id)
    return found


def contact_merge(
    *, actor: User | None, source_id: int, target_id: int, now: datetime, via: Via = Via.WEB
) -> ContactMergeOutcome:
    """Merge the contact `source_id` into `target_id`, in one transaction: everything pointing at
    the source (every foreign key to `Contact`, moved by the app that owns it, `merging`) points at
    the target, the target's empty fields take the source's values (`merging.fields_to_fill`), the
    source is recorded as a `MergedContact` (its address stays the target's: mail from it maps to
    the target) and deleted. Both rows are locked in id order, so merges of the same contacts in
    either direction never deadlock; whichever runs second finds the source gone (409
    `contact_merged`, naming where it went). Refused: a contact into itself (422), a merged or
    unknown contact on either side (409 / 404), and anyone but an admin (403)."""
    require_admin(actor)
    if source_id == target_id:
        raise ValidationFailed("a contact cannot be merged into itself", field="target_id", code="merge_self")
    missing = merging.unhandled()
    if missing:  # a programming error: a foreign key to Contact nobody moves
        raise RuntimeError(f"no contact merge mover registered for {', '.join(missing)}")
    with transaction.atomic():
        locked = {pk: _locked(pk) for pk in sorted((source_id, target_id))}
        source, target = locked[source_id], locked[target_id]
        filled = merging.fields_to_fill(source, target)
        move = merging.Move(source=source, target=target, actor=actor, via=via, now=now)
        moved = {ref.key: ref.move(move) for ref in merging.references()}
        MergedContact.objects.create(
            source_id=source.pk,
            email="" if "email" in filled else source.email.lower(),
            phone=source.phone,
            name=source.name,
            target=target,
            merged_at=now,
            merged_by_id=actor.pk if actor is not None else None,
        )
        Contact.objects.filter(pk=source.pk).delete()
        if filled:
            for name, value in filled.items():
                setattr(target, "organization_id" if name == "organization" else name, value)
            target.save(update_fields=[*filled, "updated_at"])
    return ContactMergeOutcome(target=target, source_id=source.pk, moved=moved, filled=filled)


def _move_merged_records(move: merging.Move) -> int:
    """The contacts merged into the source earlier now name the target."""
    return MergedContact.objects.filter(target_id=move.source.pk).update(target_id=move.target.pk)


def _merged_records(contact_id: int) -> QuerySet[MergedContact]:
    return MergedContact.objects.filter(target_id=contact_id)


def register_own_references() -> None:
    """This app's own foreign key to `Contact` (called from `ContactsConfig.ready`)."""
    from django.utils.translation import ngettext

    merging.register_reference(
        merging.ContactReference(
            model=MergedContact,
            field="target",
            count=lambda pk: _merged_records(pk).count(),
            move=_move_merged_records,
            describe=lambda n: (
                ngettext("%(n)s contact merged into it earlier", "%(n)s contacts merged into it earlier", n)
                % {"n": n}
            ),
        )
    )
