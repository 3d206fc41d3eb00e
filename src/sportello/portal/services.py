"""The customer portal's writes: signing in (a mailed link, or a password), a customer's own
requests (opening one, replying, closing and reopening it), their language, the portal's
settings and an organization's designated contacts.

Every ticket change goes through the one pipeline (`tickets.pipeline`) with the contact as its
actor and `Via.PORTAL`, so the audit trail, the rules and the notifications see it like any other.

Sign-in links: a token signed with SECRET_KEY names its contact and a random nonce; only its
hash is stored (`SignInLink`). It works once (`used_at`, set under the row's lock, so of two
uses at once one signs in), until `PORTAL_LINK_MINUTES` after it was sent, for the contact it
names. A request for a link always answers the same; an unknown address gets no mail.
Failed password sign-ins are counted per address and per client network address
(`core.ratelimit`); past the limit, attempts are refused before the password is checked.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from sportello.contacts.language import desk_default_language
from sportello.contacts.models import Contact, Organization
from sportello.contacts.services import (
    contact_by_email,
    contact_get_or_create,
    contact_update,
    normalise_email,
)
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from sportello.core.models import RateWindow
from sportello.core.ratelimit import rate_count
from sportello.core.snapshots import recording
from sportello.core.text import clean_text
from sportello.engine.text import sanitize_filename
from sportello.outbox import services as outbox
from sportello.tickets import attachments as files
from sportello.tickets import pipeline
from sportello.tickets.change import Author
from sportello.tickets.configuration import configuration
from sportello.tickets.models import StatusCategory, Ticket

from . import selectors
from .links import portal_root
from .models import CustomerPassword, DesignatedContact, HiddenDepartment, PortalSettings, SignInLink

LANGUAGES = ("en", "es", "it")
_SALT = "sportello.portal.signin"
LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP"}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
AA_CONTRAST = 4.5
THROTTLE_WINDOW = 15 * 60.0  # seconds
FAILURES_PER_ADDRESS = 5  # an e-mail address, per window
FAILURES_PER_CLIENT = 20  # a client's network address, per window
LINKS_PER_ADDRESS = 5  # sign-in links mailed to one address per window


def link_minutes() -> int:
    return int(settings.SPORTELLO.get("PORTAL_LINK_MINUTES", 15))


class PortalThrottled(DomainError):
    """Too many failed sign-ins for this address or from this network: try again later."""

    code = "rate_limited"
    status = 429


# --------------------------------------------------------------------------------------------
# Sign-in links


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _address(address: str) -> str:
    return (address or "")[:45]


def signin_link_request(*, email: str, address: str, now: datetime) -> SignInLink | None:
    """Mail a sign-in link to the contact with this address, if there is one (and this address
    was not sent too many links lately). Returns the link row, None when nothing was sent; the
    caller answers the same either way."""
    try:
        email = normalise_email(email)
    except ValidationFailed:
        return None
    contact = contact_by_email(email)
    if contact is None or not contact.email:
        return None
    count, _ends = rate_count(key=f"portal-link:{email}", now=now, window=THROTTLE_WINDOW)
    if count > LINKS_PER_ADDRESS:
        return None
    with transaction.atomic():
        return _link_create(contact=contact, address=address, now=now)


def _link_create(*, contact: Contact, address: str, now: datetime) -> SignInLink:
    nonce = secrets.token_urlsafe(24)
    token = signing.Signer(salt=_SALT).sign_object([contact.pk, nonce])
    link = SignInLink.objects.create(
        contact=contact,
        token_hash=_hash(token),
        created_at=now,
        expires_at=now + timedelta(minutes=link_minutes()),
        address=_address(address),
    )
    url = f"{portal_root(fallback=True)}/sign-in/{token}/"
    brand = PortalSettings.objects.filter(pk=1).values_list("name", flat=True).first() or "Sportello"
    with translation.override(contact.language if contact.language in LANGUAGES else "en"):
        subject = _("Your sign-in link for %(desk)s") % {"desk": brand}
        body = _(
            "Hello %(name)s,\n\n"
            "Use this link to sign in to %(desk)s:\n%(link)s\n\n"
            "It works once, for %(minutes)s minutes. If you did not ask for it, ignore this message.\n"
        ) % {"name": contact.name or contact.email, "desk": brand, "link": url, "minutes": link_minutes()}
    outbox.outbox_add(
        kind="email",
        ticket=None,
        change_id=None,
        dedupe_key=f"portal-signin:{link.pk}",
        payload={
            "to": [contact.email],
            "subject": subject,
            "body": body,
            "language": contact.language,
            "automatic": False,  # asked for by the person themself
        },
        now=now,
    )
    link.token = token  # type: ignore[attr-defined]  # for the caller (tests); never stored
    return link


def signin_link_check(*, token: str, now: datetime) -> SignInLink:
    """The unused, unexpired link a token names (NotFound for a forged, used, expired or
    unknown one: all read the same). Reads only; `signin_link_use` consumes it."""
    return _link_for(token=token, now=now, lock=False)


def _link_for(*, token: str, now: datetime, lock: bool) -> SignInLink:
    try:
        contact_id, _nonce = signing.Signer(salt=_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        raise NotFound("this sign-in link is not valid") from None
    qs = SignInLink.objects.select_related("contact")
    if lock:
        qs = qs.select_for_update(of=("self",))
    link = qs.filter(token_hash=_hash(token)).first()
    if link is None or link.contact_id != contact_id or link.used_at is not None or link.expires_at <= now:
        raise NotFound("this sign-in link is not valid")
    return link


@transaction.atomic
def signin_link_use(*, token: str, now: datetime) -> Contact:
    """Consume a link: the contact it signs in. Of two uses at once, the second waits for the
    first's lock and finds the link used (NotFound)."""
    link = _link_for(token=token, now=now, lock=True)
    SignInLink.objects.filter(pk=link.pk).update(used_at=now)
    return link.contact


# --------------------------------------------------------------------------------------------
# Passwords


def _failures(key: str, now: datetime) -> int:
    start = math.floor(now.timestamp() / THROTTLE_WINDOW) * THROTTLE_WINDOW
    begins = datetime.fromtimestamp(start, tz=UTC)
    return (
        RateWindow.objects.filter(key=key, window_start=begins).values_list("count", flat=True).first() or 0
    )


def _throttle_keys(email: str, address: str) -> dict[str, int]:
    keys = {f"portal-pw:{email.strip().lower()[:254]}": FAILURES_PER_ADDRESS}
    if address:
        keys[f"portal-pw-ip:{address}"] = FAILURES_PER_CLIENT
    return keys


def password_signin(*, email: str, password: str, address: str, now: datetime) -> Contact | None:
    """The contact these credentials sign in, or None. Raises PortalThrottled, before the
    password is checked, while the address or the network has too many recent failures."""
    keys = _throttle_keys(email, address)
    if any(_failures(k, now) >= limit for k, limit in keys.items()):
        raise PortalThrottled("too many failed sign-ins; try again later")
    contact = None
    with suppress(ValidationFailed):
        contact = contact_by_email(normalise_email(email))
    stored = (
        CustomerPassword.objects.filter(contact_id=contact.pk).values_list("password", flat=True).first()
        if contact is not None
        else None
    )
    # Check a hash even when there is none, so the answer takes about as long either way.
    ok = check_password(password, stored or make_password(None))
    if contact is None or stored is None or not ok:
        for key in keys:
            rate_count(key=key, now=now, window=THROTTLE_WINDOW)
        return None
    return contact


@transaction.atomic
def password_set(*, contact: Contact, password: str, now: datetime) -> None:
    """Set (or change) the contact's password, checked by the desk's password validators."""
    try:
        validate_password(password, user=None)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password") from None
    CustomerPassword.objects.update_or_create(
        contact=contact, defaults={"password": make_password(password), "updated_at": now}
    )


def has_password(*, contact: Contact) -> bool:
    return CustomerPassword.objects.filter(contact_id=contact.pk).exists()


# --------------------------------------------------------------------------------------------
# Language


def contact_language_set(*, contact: Contact, language: str) -> Contact:
    """Save the language the customer chose in the portal."""
    if language not in LANGUAGES:
        raise ValidationFailed("unknown language", field="language")
    if contact.language == language:
        return contact
    return contact_update(contact=contact, actor=None, language=language)


# --------------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True, slots=True)
class Upload:
    """A file the customer sent: its stream and the name and type their browser gave."""

    stream: IO[bytes] | File
    filename: str | None
    content_type: str | None


def _actor(contact: Contact) -> Actor:
    return Actor(
        kind=ActorKind.CONTACT, id=contact.pk, label=contact.email or str(contact), principal=contact
    )


def _store(uploads: list[Upload]) -> list[pipeline.StoredFile]:
    """Write the files to the attachment storage (before the transaction: storage may be
    remote). Too large or empty: ValidationFailed on `attachments`, nothing kept."""
    stored: list[pipeline.StoredFile] = []
    storage = files.attachment_storage()
    try:
        for up in uploads:
            try:
                digest = files.digest_stream(up.stream, limit=files.max_bytes())
            except DomainError:
                raise ValidationFailed(
                    _("%(name)s is larger than %(size)s MB.")
                    % {"name": up.filename or "?", "size": files.max_bytes() // (1024 * 1024) or 1},
                    field="attachments",
                ) from None
            if digest.size == 0:
                raise ValidationFailed(
                    _("%(name)s is empty.") % {"name": up.filename or "?"}, field="attachments"
                )
            up.stream.seek(0)
            key = storage.save(
                files.storage_key_new(), up.stream if isinstance(up.stream, File) else File(up.stream)
            )
            stored.append(
                pipeline.StoredFile(
                    storage_key=key,
                    filename=sanitize_filename(up.filename),
                    content_type=files.choose_content_type(declared=up.content_type, head=digest.head),
                    size=digest.size,
                    sha256=digest.sha256,
                )
            )
    except BaseException:
        for f in stored:
            storage.delete(f.storage_key)
        raise
    return stored


def _discard(stored: list[pipeline.StoredFile]) -> None:
    storage = files.attachment_storage()
    for f in stored:
        storage.delete(f.storage_key)


@dataclass(frozen=True, slots=True)
class Submitted:
    ticket: Ticket
    contact: Contact
    # The address belonged to a contact who is not signed in: the page does not show the ticket.
    hidden: bool


def request_submit(
    *,
    contact: Contact | None,
    email: str = "",
    name: str = "",
    language: str = "en",
    department_id: int,
    subject: str,
    description: str,
    custom_fields: dict[str, Any],
    uploads: list[Upload],
    now: datetime,
) -> Submitted:
    """Open a ticket from the portal's form. Signed in: the contact is the requester. Else the
    contact with `email` (created, in `language`, when new): a known address's ticket is
    created but not shown (`hidden`). Files arrive with the description."""
    from sportello.accounts.models import Department

    if not Department.objects.filter(pk=department_id, is_active=True).exists():
        raise ValidationFailed(_("Choose a department."), field="department")
    if HiddenDepartment.objects.filter(department_id=department_id).exists():
        raise ValidationFailed(
            _("This department does not take requests here. Choose another one."), field="department"
        )
    stored = _store(uploads)
    try:
        with transaction.atomic():
            hidden = False
            if contact is None:
                known = contact_by_email(normalise_email(email)) if email.strip() else None
                hidden = known is not None
                lang = language if language in LANGUAGES else desk_default_language()
                contact = known or contact_get_or_create(email=email, name=name, language=lang)
            outcome = pipeline.ticket_create(
                actor=_actor(contact),
                via=Via.PORTAL,
                subject=clean_text(subject, field="subject", max_length=250, single_line=True, required=True),
                requester_id=contact.pk,
                department_id=department_id,
                description=pipeline.NewMessage(body=description, public=True, files=tuple(stored)),
                fields={"channel": "portal"},
                custom_fields=custom_fields,
                now=now,
            )
    except BaseException:
        _discard(stored)
        raise
    return Submitted(ticket=outcome.ticket, contact=contact, hidden=hidden)


def _own(contact: Contact, ticket: Ticket) -> None:
    """Replies, closing and reopening: the requester's tickets, and a designated contact's
    organization's (whoever else asks is told the ticket does not exist)."""
    designated = ticket.requester_id != contact.pk and selectors.is_designated(contact=contact)
    if not selectors.may_act(contact=contact, ticket=ticket, designated=designated):
        raise NotFound("ticket not found")


def request_reply(
    *, contact: Contact, ticket: Ticket, body: str, uploads: list[Upload], now: datetime
) -> pipeline.Outcome:
    """The customer's reply, appended whatever changed meanwhile (no version check); it
    reopens a waiting ticket as a customer's message does."""
    _own(contact, ticket)
    if not body.strip() and not uploads:
        raise ValidationFailed(_("Write a reply or attach a file."), field="body")
    stored = _store(uploads)
    try:
        mutation = pipeline.Mutation(
            actor=_actor(contact),
            via=Via.PORTAL,
            message=pipeline.NewMessage(body=body, public=True, files=tuple(stored)),
        )
        return pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=now)
    except BaseException:
        _discard(stored)
        raise


def _status_move(
    *, contact: Contact, ticket: Ticket, category: StatusCategory, version: int, cause: str, now: datetime
) -> pipeline.Outcome:
    _own(contact, ticket)
    status = configuration().default_status(category)
    author = Author(actor=_actor(contact), cause=cause)

    def move(ctx: Any) -> None:
        ctx.change(author=author, fields={"status": status.key})

    # The customer may move their own ticket to solved and back; the portal checked that it is
    # theirs, the change is theirs in the audit trail.
    mutation = pipeline.Mutation(
        actor=_actor(contact), via=Via.PORTAL, cause=cause, automation=move, expected_version=version
    )
    return pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=now)


def request_close(*, contact: Contact, ticket: Ticket, version: int, now: datetime) -> pipeline.Outcome:
    """The customer marks their request solved (Conflict `stale_version` when it changed since
    their page was drawn; Conflict when it is solved or closed already)."""
    if ticket.status_category in (StatusCategory.SOLVED, StatusCategory.CLOSED):
        raise Conflict(_("This request is already solved."), code="already_solved")
    return _status_move(
        contact=contact,
        ticket=ticket,
        category=StatusCategory.SOLVED,
        version=version,
        cause="closed by the customer",
        now=now,
    )


def request_reopen(*, contact: Contact, ticket: Ticket, version: int, now: datetime) -> pipeline.Outcome:
    """The customer reopens their solved request (a closed one cannot change: Conflict)."""
    if ticket.status_category != StatusCategory.SOLVED:
        raise Conflict(_("Only a solved request can be reopened."), code="not_solved")
    return _status_move(
        contact=contact,
        ticket=ticket,
        category=StatusCategory.OPEN,
        version=version,
        cause="reopened by the customer",
        now=now,
    )


# --------------------------------------------------------------------------------------------
# Designated contacts


DESIGNATED = "designated_contacts"  # their history (`history`), keyed by the organization's id


def designated_set(*, contact: Contact, designated: bool, actor: Any, now: datetime) -> bool:
    """Make a contact of an organization see, answer, close and reopen its tickets in the
    portal (or no longer). Agents and admins only. The organization's designated contacts are
    recorded in the configuration history (who changed them, when, and what they were)."""
    from sportello.contacts.services import require_writer

    require_writer(actor)
    if contact.organization_id is None:
        raise ValidationFailed(_("This contact belongs to no organization."), field="designated")
    with transaction.atomic(), recording(DESIGNATED, str(contact.organization_id), actor=actor, now=now):
        found = Contact.objects.filter(pk=contact.pk).values_list("organization_id", flat=True).first()
        if found != contact.organization_id:
            raise Conflict(
                _("This contact left the organization meanwhile: nothing was changed."),
                field="designated",
                code="stale",
            )
        if designated:
            DesignatedContact.objects.update_or_create(
                contact=contact, defaults={"organization_id": contact.organization_id, "created_at": now}
            )
        else:
            DesignatedContact.objects.filter(contact=contact).delete()
    return designated


def designated_definition(organization: Organization) -> dict[str, Any]:
    """An organization's designated contacts as the history records them: their e-mail
    addresses (or phones), sorted."""
    rows = DesignatedContact.objects.filter(
        organization=organization, contact__organization=organization
    ).values_list("contact__email", "contact__phone")
    return {"designated": sorted(email or phone for email, phone in rows)}


def designated_restore(
    *, organization: Organization, definition: dict[str, Any], actor: Any, now: datetime
) -> None:
    """Make the organization's designated contacts those a history version names (its contacts
    with those addresses or phones; one who left it is skipped), as one recorded change."""
    from sportello.contacts.services import require_writer

    require_writer(actor)
    wanted = {str(v) for v in definition.get("designated") or []}
    with transaction.atomic(), recording(DESIGNATED, str(organization.pk), actor=actor, now=now):
        for contact in Contact.objects.filter(organization=organization).order_by("pk"):
            if (contact.email or contact.phone) in wanted:
                DesignatedContact.objects.filter(contact=contact).exclude(organization=organization).delete()
                DesignatedContact.objects.get_or_create(
                    contact=contact, organization=organization, defaults={"created_at": now}
                )
            else:
                DesignatedContact.objects.filter(contact=contact).delete()


# --------------------------------------------------------------------------------------------
# Settings


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_with_white(hex_colour: str) -> float:
    """The WCAG contrast ratio of white text on this colour."""
    return 1.05 / (_luminance(hex_colour) + 0.05)


def _sniff_logo(data: bytes) -> str:
    ctype = files.sniff_content_type(data[:16])
    if ctype not in LOGO_TYPES:
        raise ValidationFailed(_("The logo must be a PNG, JPEG or WebP image."), field="logo")
    return ctype


def portal_settings_get(*, lock: bool = False) -> PortalSettings:
    qs = PortalSettings.objects.select_for_update() if lock else PortalSettings.objects
    row = qs.filter(pk=1).first()
    if row is None:
        row, _created = PortalSettings.objects.get_or_create(pk=1)
        if lock:
            row = PortalSettings.objects.select_for_update().get(pk=1)
    return row


def portal_settings_update(
    *,
    actor: Any,
    version: int,
    enabled: bool,
    name: str,
    colour: str,
    default_language: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
    hidden_departments: list[int] | None = None,
    now: datetime,
) -> PortalSettings:
    """Save the portal's settings (admins). Refused: a stale `version` (Conflict; nothing
    written), a colour white text cannot be read on (WCAG AA, 4.5:1), a logo that is not a PNG,
    JPEG or WebP of at most 512 KB, an unknown department. `hidden_departments`: the ids of the
    departments not offered in the portal (None leaves them as they are). Recorded in the
    configuration history."""
    if actor is None or getattr(actor, "role", None) != "admin":
        raise PermissionDenied("only admins change the portal")
    name = clean_text(name, field="name", max_length=80, single_line=True, required=True)
    if not _HEX.match(colour or ""):
        raise ValidationFailed(_("Give a colour as #rrggbb."), field="colour")
    colour = colour.lower()
    ratio = contrast_with_white(colour)
    if ratio < AA_CONTRAST:
        raise ValidationFailed(
            _(
                "White text on this colour has a contrast of %(ratio).1f:1; it needs at least 4.5:1 "
                "(WCAG AA). Choose a darker colour."
            )
            % {"ratio": ratio},
            field="colour",
        )
    if default_language not in LANGUAGES:
        raise ValidationFailed(_("Choose a language."), field="default_language")
    logo_type = ""
    if logo is not None:
        if len(logo) > LOGO_MAX_BYTES:
            raise ValidationFailed(_("The logo must be at most 512 KB."), field="logo")
        logo_type = _sniff_logo(logo)
    if hidden_departments is not None:
        from sportello.accounts.models import Department

        hidden = set(hidden_departments)
        if len(hidden) != Department.objects.filter(pk__in=hidden).count():
            raise ValidationFailed(_("Choose among the desk's departments."), field="departments")
    portal_settings_get()  # the row exists before it is recorded
    with transaction.atomic(), recording("portal", "1", actor=actor, now=now):
        row = portal_settings_get(lock=True)
        if row.version != version:
            raise Conflict(
                _("Someone else saved the portal's settings meanwhile; review them and save again."),
                field="version",
                code="stale_version",
            )
        row.enabled, row.name, row.colour, row.default_language = enabled, name, colour, default_language
        if logo is not None:
            row.logo, row.logo_type, row.logo_sha256 = logo, logo_type, hashlib.sha256(logo).hexdigest()
        elif remove_logo:
            row.logo, row.logo_type, row.logo_sha256 = b"", "", ""
        if hidden_departments is not None:
            HiddenDepartment.objects.exclude(department_id__in=hidden).delete()
            HiddenDepartment.objects.bulk_create(
                [HiddenDepartment(department_id=pk) for pk in sorted(hidden)], ignore_conflicts=True
            )
        row.version += 1
        row.updated_at = now
        row.save()
    return row


def portal_settings_definition(row: PortalSettings) -> dict[str, Any]:
    """The settings as the configuration history records them (the logo by its digest)."""
    return {
        "enabled": row.enabled,
        "name": row.name,
        "colour": row.colour,
        "default_language": row.default_language,
        "logo_sha256": row.logo_sha256,
        "hidden_departments": sorted(HiddenDepartment.objects.values_list("department__slug", flat=True)),
    }
