"""Webhook secrets: the shared keys that sign webhook deliveries, named by rules (`secret_ref`).

Admins create, rotate and delete them (API `/api/v1/webhook-secrets`, `sportello secrets`).
A value is shown once, in the answer that creates or rotates it, and never again: not in
lists, exports, logs or errors.

Storage: values are encrypted with a key derived from `SECRET_KEY` (HMAC-SHA256 with a fixed
label): a keystream of HMAC-SHA256 blocks over a random 16-byte nonce and a counter, then an
HMAC-SHA256 tag over the nonce and ciphertext (encrypt-then-MAC), stored as `v1:<base64>`.
Reading tries `SECRET_KEY` then each of `SECRET_KEY_FALLBACKS`; a value no key opens fails its
deliveries with "cannot decrypt" until the secret is rotated or created again.

Rotation keeps the previous value for `SPORTELLO["WEBHOOK_SECRET_GRACE"]` seconds (a day by
default): deliveries in that time carry a signature with each value.

A rule, macro, SLA policy, blueprint or rules document that names a secret which does not
exist is refused when saved (`check_secret_refs`), and a secret still named by one of them
cannot be deleted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets as random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from sportello.accounts.models import User
from sportello.accounts.permissions import require_admin
from sportello.core.errors import Conflict, NotFound, ValidationFailed

from .models import WebhookSecret

logger = logging.getLogger("sportello.channels.secrets")  # the name operators filter on (docs/rules.md)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
VALUE_MIN, VALUE_MAX = 16, 256
GRACE = 24 * 3600.0
_PREFIX = "v1:"
_NONCE = 16


class Undecryptable(Exception):
    """A stored value that no configured key opens (SECRET_KEY changed without a fallback)."""


# -- storage -------------------------------------------------------------------------------


def _keys(secret_key: str) -> tuple[bytes, bytes]:
    root = hmac.new(secret_key.encode(), b"sportello.webhook-secret.v1", hashlib.sha256).digest()
    return (
        hmac.new(root, b"encrypt", hashlib.sha256).digest(),
        hmac.new(root, b"authenticate", hashlib.sha256).digest(),
    )


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (
        hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(length // 32 + 1)
    )
    return b"".join(blocks)[:length]


def seal(value: str, *, secret_key: str | None = None) -> str:
    """`value` encrypted and authenticated with a key derived from SECRET_KEY."""
    enc, mac = _keys(secret_key if secret_key is not None else settings.SECRET_KEY)
    nonce = random.token_bytes(_NONCE)
    plain = value.encode()
    cipher = bytes(a ^ b for a, b in zip(plain, _stream(enc, nonce, len(plain)), strict=True))
    tag = hmac.new(mac, nonce + cipher, hashlib.sha256).digest()
    return _PREFIX + base64.urlsafe_b64encode(nonce + cipher + tag).decode()


def unseal(stored: str, *, secret_keys: list[str] | None = None) -> str:
    """The value `seal` stored; Undecryptable when no key (SECRET_KEY, then its fallbacks)
    authenticates it."""
    if not stored.startswith(_PREFIX):
        raise Undecryptable("not an encrypted value")
    try:
        raw = base64.urlsafe_b64decode(stored.removeprefix(_PREFIX).encode())
    except ValueError:
        raise Undecryptable("not an encrypted value") from None
    if len(raw) < _NONCE + 32:
        raise Undecryptable("not an encrypted value")
    nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-32], raw[-32:]
    if secret_keys is None:
        secret_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    for secret_key in secret_keys:
        enc, mac = _keys(secret_key)
        if hmac.compare_digest(hmac.new(mac, nonce + cipher, hashlib.sha256).digest(), tag):
            plain = bytes(a ^ b for a, b in zip(cipher, _stream(enc, nonce, len(cipher)), strict=True))
            return plain.decode()
    raise Undecryptable("no configured SECRET_KEY opens it")


# -- service -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signing:
    """The values that sign a delivery: the current one and, during a rotation's grace, the
    previous one."""

    current: str
    previous: str | None


def _grace() -> timedelta:
    return timedelta(seconds=float(settings.SPORTELLO.get("WEBHOOK_SECRET_GRACE", GRACE)))


def _valid_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationFailed(
            "must be 1 to 64 characters: a-z, 0-9, _ . - (starting with a letter or digit)", field="name"
        )
    return name


def _valid_value(value: Any) -> str:
    if value is None:
        return random.token_urlsafe(32)
    if not isinstance(value, str):
        raise ValidationFailed("must be a string", field="value")
    if not VALUE_MIN <= len(value) <= VALUE_MAX or not value.isprintable() or not value.isascii():
        raise ValidationFailed(
            f"must be {VALUE_MIN} to {VALUE_MAX} printable ASCII characters", field="value"
        )
    if value != value.strip():
        raise ValidationFailed("must not start or end with a space", field="value")
    return value


def secret_list(*, actor: User | None) -> list[WebhookSecret]:
    require_admin(actor)
    return list(WebhookSecret.objects.select_related("created_by", "rotated_by").order_by("name"))


def secret_create(
    *, actor: User | None, name: Any, value: Any = None, now: datetime
) -> tuple[WebhookSecret, str]:
    """A new secret; `value` given or generated (32 random bytes, URL-safe base64). Returns the
    row and the value, which is never shown again. 409 when the name is taken."""
    require_admin(actor)
    name = _valid_name(name)
    plain = _valid_value(value)
    row = WebhookSecret(name=name, secret=seal(plain), created_at=now, created_by=actor)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise Conflict(f"a webhook secret named {name!r} already exists", field="name") from None
    logger.info("webhook secret %r created by %s", name, _who(actor))
    return row, plain


def secret_rotate(
    *, actor: User | None, name: str, value: Any = None, now: datetime
) -> tuple[WebhookSecret, str]:
    """A new value for the secret (given or generated), returned once. The value it replaces
    keeps signing, next to the new one, for the grace period (WEBHOOK_SECRET_GRACE)."""
    require_admin(actor)
    plain = _valid_value(value)
    with transaction.atomic():
        row = WebhookSecret.objects.select_for_update().filter(name=name).first()
        if row is None:
            raise NotFound(f"no webhook secret {name[:100]!r}")
        row.previous = row.secret
        row.previous_until = now + _grace()
        row.secret = seal(plain)
        row.rotated_at = now
        row.rotated_by = actor
        row.version += 1
        row.save(
            update_fields=["previous", "previous_until", "secret", "rotated_at", "rotated_by", "version"]
        )
    logger.info("webhook secret %r rotated by %s", name, _who(actor))
    return row, plain


def secret_delete(*, actor: User | None, name: str, now: datetime) -> None:
    """Delete the secret; 409 naming what still uses it (current versions of rules, macros,
    SLA policies and blueprints)."""
    require_admin(actor)
    with transaction.atomic():
        row = WebhookSecret.objects.select_for_update().filter(name=name).first()
        if row is None:
            raise NotFound(f"no webhook secret {name[:100]!r}")
        users = secret_users(name)
        if users:
            raise Conflict(f"webhook secret {name!r} is used by {', '.join(users)}", field="name")
        row.delete()
    logger.info("webhook secret %r deleted by %s", name, _who(actor))


def signing_values(name: str, *, now: datetime) -> Signing | None:
    """The values that sign a delivery with the secret `name` (None when there is no such
    secret); records that the secret was used. Undecryptable when no key opens it."""
    row = WebhookSecret.objects.filter(name=name).first()
    if row is None:
        return None
    previous = None
    if row.previous and row.previous_until is not None and now < row.previous_until:
        previous = unseal(row.previous)
    signing = Signing(current=unseal(row.secret), previous=previous)
    WebhookSecret.objects.filter(pk=row.pk).update(last_used_at=now)
    return signing


def _who(actor: User | None) -> str:
    return actor.email if actor is not None else "the system"


# -- references ----------------------------------------------------------------------------


def secret_refs(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path of the value, secret name) of every `webhook` action's `secret_ref` in `data` (a
    rule, macro, policy, blueprint or rules document, as saved)."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "webhook" and isinstance(value, dict) and isinstance(value.get("secret_ref"), str):
                yield f"{where}.secret_ref", value["secret_ref"]
            else:
                yield from secret_refs(value, where)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from secret_refs(value, f"{path}[{i}]")


def check_secret_refs(data: Any, *, prefix: str = "") -> None:
    """ValidationFailed at the path of the first `secret_ref` naming no webhook secret. The
    named secrets are locked until the caller's transaction ends, so a concurrent delete cannot
    slip between this check and the save."""
    refs = list(secret_refs(data))
    if not refs:
        return
    names = {name for _, name in refs}
    with transaction.atomic():
        known = set(
            WebhookSecret.objects.select_for_update().filter(name__in=names).values_list("name", flat=True)
        )
    for path, name in refs:
        if name not in known:
            where = f"{prefix}.{path}" if prefix and path else prefix or path
            raise ValidationFailed(f"no webhook secret {name[:100]!r}", field=where or None)


def secret_users(name: str) -> list[str]:
    """What names the secret in its current version: `rule 'key'`, `macro 'key'`, ..."""
    from django.db.models import F

    from sportello.automation.models import MacroVersion, RuleVersion
    from sportello.blueprints.models import BlueprintVersion
    from sportello.sla.models import SlaPolicyVersion

    sources: list[tuple[str, Any, str]] = [
        ("rule", RuleVersion.objects.filter(version=F("rule__version")), "rule__key"),
        ("macro", MacroVersion.objects.filter(version=F("macro__version")), "macro__key"),
        ("SLA policy", SlaPolicyVersion.objects.filter(version=F("policy__version")), "policy__key"),
        ("blueprint", BlueprintVersion.objects.filter(version=F("blueprint__version")), "blueprint__key"),
    ]
    users: list[str] = []
    for label, qs, key in sources:
        for owner, definition in qs.values_list(key, "definition").iterator():
            if any(ref == name for _, ref in secret_refs(definition)):
                users.append(f"{label} {owner!r}")
    return sorted(users)
