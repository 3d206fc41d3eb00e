"""Mailboxes: the addresses the desk receives mail at, and the IMAP accounts they are read from.

Admins only, for reading as for writing: a mailbox holds a server password (which nothing here
ever returns). `data` is a mapping of the fields to set (an API body as given: absent keys keep
their value on update); unknown keys are refused. These are configuration writes: each is logged
(`sportello.channels.mailboxes`) with the admin who made it and the fields it changed, never
the password's value.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from sportello.accounts.models import Department, User
from sportello.accounts.services import require_admin
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.snapshots import recording, snapshot_record
from sportello.core.text import clean_text

from .models import ImapSecurity, Mailbox

MAILBOXES = "mailboxes"  # the configuration kind of their history (`channels.history`)

logger = logging.getLogger(__name__)

FIELDS = frozenset(
    {
        "address",
        "department_id",
        "active",
        "imap_host",
        "imap_port",
        "imap_security",
        "imap_username",
        "imap_password",
        "imap_folder",
        "imap_take_read",
    }
)
# Changing any of these points the mailbox at another folder: its UID cursor starts over.
ACCOUNT_FIELDS = ("imap_host", "imap_username", "imap_folder")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def host_is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1): where a password may
    travel in clear text without leaving the machine."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Selectors


def mailbox_list(*, principal: User | None) -> QuerySet[Mailbox]:
    require_admin(principal)
    return Mailbox.objects.select_related("department")


def mailbox_get(*, principal: User | None, mailbox_id: int) -> Mailbox:
    require_admin(principal)
    mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
    if mailbox is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    return mailbox


def mailbox_fingerprint(mailbox: Mailbox) -> str:
    """A short digest of a mailbox's settings (its password's digest among them, never the
    password): a form carries the one it was drawn from, so a save over a change someone made
    meanwhile is refused (`mailbox_update(expected=...)`). What the poller writes as it reads
    (its cursor, lease, last poll and error) is not part of it."""
    shape = [
        mailbox.address,
        mailbox.department_id,
        mailbox.active,
        mailbox.imap_host,
        mailbox.imap_port,
        mailbox.imap_security,
        mailbox.imap_username,
        hashlib.sha256(mailbox.imap_password.encode()).hexdigest(),
        mailbox.imap_folder,
        mailbox.imap_take_read,
    ]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Validation


def _string(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValidationFailed("must be a string", field=key)
    return value


def _address(data: Mapping[str, Any]) -> str:
    address = clean_text(_string(data, "address"), field="address", max_length=254, single_line=True)
    address = address.strip().lower()
    if not address:
        raise ValidationFailed("is required", field="address")
    try:
        validate_email(address)
    except DjangoValidationError:
        raise ValidationFailed("must be a valid e-mail address", field="address") from None
    return address


def _department(data: Mapping[str, Any]) -> Department:
    value = data["department_id"]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed("must be a department's id", field="department_id")
    department = Department.objects.filter(pk=value).first()
    if department is None:
        raise ValidationFailed(f"no department with id {value}", field="department_id")
    if not department.is_active:
        raise ValidationFailed(f"department {department.name!r} is inactive", field="department_id")
    return department


def _host(data: Mapping[str, Any]) -> str:
    """A host name or an IP address: no scheme, port, path or user."""
    host = clean_text(_string(data, "imap_host"), field="imap_host", max_length=255).strip()
    if not host:
        return ""
    if "://" in host:
        raise ValidationFailed(
            "give the host name alone, without a scheme (like imap.example.com)", field="imap_host"
        )
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        raise ValidationFailed(
            "must be a host name or an IP address, without port, path or user", field="imap_host"
        )
    return name


def _port(data: Mapping[str, Any]) -> int:
    value = data["imap_port"]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise ValidationFailed("must be a port number between 1 and 65535", field="imap_port")
    return value


def _security(data: Mapping[str, Any]) -> str:
    value = data["imap_security"]
    if value not in ImapSecurity.values:
        raise ValidationFailed(f"must be one of {', '.join(ImapSecurity.values)}", field="imap_security")
    return str(value)


def _boolean(data: Mapping[str, Any], name: str) -> bool:
    value = data[name]
    if not isinstance(value, bool):
        raise ValidationFailed("must be true or false", field=name)
    return value


def _apply(mailbox: Mailbox, data: Mapping[str, Any]) -> list[str]:
    """Validate and set the given fields on `mailbox`; the names of those whose value changed."""
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValidationFailed("unknown field", field=unknown[0])
    values: dict[str, Any] = {}
    if "address" in data:
        values["address"] = _address(data)
    if "department_id" in data:
        values["department_id"] = _department(data).pk
    if "active" in data:
        values["active"] = _boolean(data, "active")
    if "imap_take_read" in data:
        values["imap_take_read"] = _boolean(data, "imap_take_read")
    if "imap_host" in data:
        values["imap_host"] = _host(data)
    if "imap_port" in data:
        values["imap_port"] = _port(data)
    if "imap_security" in data:
        values["imap_security"] = _security(data)
    if "imap_username" in data:
        values["imap_username"] = clean_text(
            _string(data, "imap_username"), field="imap_username", max_length=255
        ).strip()
    if "imap_password" in data:
        values["imap_password"] = clean_text(
            _string(data, "imap_password"), field="imap_password", max_length=500
        )
    if "imap_folder" in data:
        folder = clean_text(_string(data, "imap_folder"), field="imap_folder", max_length=200, required=True)
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in folder):
            raise ValidationFailed("must not contain control characters", field="imap_folder")
        values["imap_folder"] = folder
    changed = [name for name, value in values.items() if getattr(mailbox, name) != value]
    for name in changed:
        setattr(mailbox, name, values[name])
    if mailbox.imap_host:
        if mailbox.imap_security == ImapSecurity.NONE and not host_is_loopback(mailbox.imap_host):
            raise ValidationFailed(
                "without TLS the password would travel in clear text: only a loopback host "
                "(127.0.0.1, ::1, localhost) may use security none",
                field="imap_security",
            )
        if not mailbox.imap_username:
            raise ValidationFailed("is required to read the mailbox over IMAP", field="imap_username")
        if not mailbox.imap_password:
            raise ValidationFailed("is required to read the mailbox over IMAP", field="imap_password")
    return changed


def _save(mailbox: Mailbox, fields: list[str] | None) -> None:
    try:
        with transaction.atomic():
            mailbox.save(update_fields=fields)
    except IntegrityError:  # the same address saved concurrently
        raise Conflict(f"a mailbox for {mailbox.address} exists", field="address") from None


def _check_unique(mailbox: Mailbox) -> None:
    if Mailbox.objects.filter(address=mailbox.address).exclude(pk=mailbox.pk).exists():
        raise Conflict(f"a mailbox for {mailbox.address} exists", field="address")


def _log(verb: str, mailbox: Mailbox, actor: User | None, changed: list[str]) -> None:
    logger.info(
        "mailbox %s (%s) %s by %s: %s",
        mailbox.pk,
        mailbox.address,
        verb,
        f"agent {actor.pk}" if actor is not None else "the system",
        ", ".join(sorted(changed)) or "nothing changed",
    )


# --------------------------------------------------------------------------------------------
# Services


def mailbox_create(*, actor: User | None, data: Mapping[str, Any], now: datetime) -> Mailbox:
    """A new mailbox. `address` and `department_id` are required; reading it over IMAP needs
    `imap_host`, `imap_username` and `imap_password` (the rest have defaults: port 993, TLS,
    INBOX)."""
    require_admin(actor)
    for required in ("address", "department_id"):
        if required not in data:
            raise ValidationFailed("is required", field=required)
    mailbox = Mailbox(created_at=now)
    changed = _apply(mailbox, data)
    _check_unique(mailbox)
    with transaction.atomic():
        _save(mailbox, None)
        snapshot_record(MAILBOXES, str(mailbox.pk), actor=actor, now=now)  # its history (channels.history)
    _log("created", mailbox, actor, changed)
    return mailbox


def mailbox_update(
    *,
    actor: User | None,
    mailbox_id: int,
    data: Mapping[str, Any],
    now: datetime,
    expected: str | None = None,
) -> Mailbox:
    """Change the given fields. Pointing it at another account or folder (host, user,
    folder) starts its UID cursor over: ingestion's de-duplication keeps messages already
    received from being applied twice. An empty password is refused while it is read over
    IMAP; a password left out is kept. `expected`: the `mailbox_fingerprint` the caller saw;
    when the mailbox changed since, nothing is saved (`Conflict`, field `expected`)."""
    require_admin(actor)
    # Its history (channels.history) records what it was and what it becomes, under its lock.
    with transaction.atomic(), recording(MAILBOXES, str(mailbox_id), actor=actor, now=now):
        mailbox = Mailbox.objects.select_for_update().filter(pk=mailbox_id).first()
        if mailbox is None:
            raise NotFound(f"no mailbox with id {mailbox_id}")
        if expected is not None and mailbox_fingerprint(mailbox) != expected:
            raise Conflict(f"mailbox {mailbox.address} was changed meanwhile", field="expected")
        changed = _apply(mailbox, data)
        if not changed:
            return mailbox
        if "address" in changed:
            _check_unique(mailbox)
        fields = list(changed)
        if any(name in changed for name in ACCOUNT_FIELDS):
            mailbox.uidvalidity, mailbox.last_uid = None, 0
            fields += ["uidvalidity", "last_uid"]
        _save(mailbox, fields)
    _log("updated", mailbox, actor, changed)
    return mailbox


def mailbox_deactivate(*, actor: User | None, mailbox_id: int, now: datetime) -> Mailbox:
    """Stop receiving at this mailbox (it is no longer polled); what it received stays."""
    return mailbox_update(actor=actor, mailbox_id=mailbox_id, data={"active": False}, now=now)


def mailbox_reactivate(*, actor: User | None, mailbox_id: int, now: datetime) -> Mailbox:
    """Receive at this mailbox again (polled again if it has an IMAP host); one already active
    stays as it is."""
    return mailbox_update(actor=actor, mailbox_id=mailbox_id, data={"active": True}, now=now)


def mailbox_draft(*, actor: User | None, data: Mapping[str, Any], mailbox_id: int | None = None) -> Mailbox:
    """The mailbox `data` describes, validated as a save would, never saved: a new one, or
    the stored one with `data` applied (a password left out keeps the stored one). What "test
    connection" tries before anything is saved."""
    require_admin(actor)
    mailbox = Mailbox() if mailbox_id is None else mailbox_get(principal=actor, mailbox_id=mailbox_id)
    _apply(mailbox, data)
    if not mailbox.imap_host:
        raise ValidationFailed("is required to test the connection", field="imap_host")
    return mailbox
