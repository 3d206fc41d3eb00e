"""Signing in with a password, throttled per account and per client address.

Every way in that checks a secret a person typed (the web sign-in today; a password reset or a
magic link tomorrow) goes through `signin_authenticate`, or calls `signin_check` before checking
and `signin_failed` / `signin_succeeded` after. Failures are counted in the database
(`SignInThrottle`), so every web process sees the same counts:

- under the account's address (lower case, whether or not such an account exists: the answer
  must not tell) and under the client's network address;
- past `SIGNIN_FREE_FAILURES_ACCOUNT` (or `_ADDRESS`) failures in a row, each further failure
  blocks the key for `SIGNIN_BLOCK_BASE` seconds, doubled at each failure, at most
  `SIGNIN_BLOCK_MAX`; a count is forgotten `SIGNIN_FORGET_AFTER` seconds after its last failure;
- while a key is blocked, attempts are refused *before* the password is checked (so a right
  password guessed during the block does not sign in) and do not extend the block;
- a successful sign-in clears the account's count (not the address's: one person signing in
  from a shared address does not clear an attack from it).

Each failure, block, refusal and success is an audit row (`SignInEvent`) and a log line.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction

from sportello.core.errors import DomainError

from .models import SignInEvent, SignInOutcome, SignInThrottle, User

logger = logging.getLogger("sportello.signin")

EMAIL_MAX_LENGTH = 254


class SignInThrottled(DomainError):
    """Too many failed sign-ins for this account or from this address: try again later."""

    code = "rate_limited"
    status = 429

    def __init__(self, *, until: datetime, now: datetime) -> None:
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        super().__init__(f"too many failed sign-ins; try again in {self.retry_after} seconds")


def _normalised(email: str) -> str:
    return email.strip().lower()[:EMAIL_MAX_LENGTH]


def _keys(email: str, address: str) -> dict[str, int]:
    """The throttle keys of an attempt, each with its number of free failures."""
    keys = {f"account:{email}": int(settings.SPORTELLO["SIGNIN_FREE_FAILURES_ACCOUNT"])}
    if address:
        keys[f"address:{address}"] = int(settings.SPORTELLO["SIGNIN_FREE_FAILURES_ADDRESS"])
    return keys


def _record(
    *, outcome: SignInOutcome, email: str, address: str, now: datetime, user: User | None = None,
    blocked_until: datetime | None = None,
) -> None:  # fmt: skip
    SignInEvent.objects.create(
        at=now, outcome=outcome, email=email, user=user, address=address[:45], blocked_until=blocked_until
    )
    level = logging.INFO if outcome == SignInOutcome.SUCCEEDED else logging.WARNING
    logger.log(level, "sign-in %s for %r from %s%s", outcome, email, address or "?",
               f" (blocked until {blocked_until.isoformat()})" if blocked_until else "")  # fmt: skip


def signin_check(*, email: str, address: str, now: datetime) -> None:
    """Raise SignInThrottled (and record the refusal) while the account or the address is blocked."""
    email = _normalised(email)
    blocked = SignInThrottle.objects.filter(key__in=list(_keys(email, address)), blocked_until__gt=now)
    until = max((b for b in blocked.values_list("blocked_until", flat=True) if b is not None), default=None)
    if until is not None:
        _record(outcome=SignInOutcome.REFUSED, email=email, address=address, now=now, blocked_until=until)
        raise SignInThrottled(until=until, now=now)


@transaction.atomic
def signin_failed(*, email: str, address: str, now: datetime) -> datetime | None:
    """Count a failed attempt under the account and the address; returns when the attempt's
    keys are blocked until, if this failure blocked one."""
    email = _normalised(email)
    base, cap = float(settings.SPORTELLO["SIGNIN_BLOCK_BASE"]), float(settings.SPORTELLO["SIGNIN_BLOCK_MAX"])
    forget = timedelta(seconds=float(settings.SPORTELLO["SIGNIN_FORGET_AFTER"]))
    until: datetime | None = None
    for key, free in sorted(_keys(email, address).items()):  # a fixed order: no lock cycles
        row, _ = SignInThrottle.objects.select_for_update().get_or_create(
            key=key, defaults={"failures": 0, "last_failure_at": now}
        )
        failures = 1 if now - row.last_failure_at > forget else row.failures + 1
        values: dict[str, Any] = {"failures": failures, "last_failure_at": now}
        if failures > free:
            blocked = now + timedelta(seconds=min(cap, base * 2 ** min(failures - free - 1, 40)))
            values["blocked_until"] = blocked
            until = blocked if until is None else max(until, blocked)
        SignInThrottle.objects.filter(pk=row.pk).update(**values)
    outcome = SignInOutcome.FAILED if until is None else SignInOutcome.LOCKED
    _record(outcome=outcome, email=email, address=address, now=now, blocked_until=until)
    return until


def signin_succeeded(*, user: User, email: str, address: str, now: datetime) -> None:
    """Clear the account's failures and record the sign-in."""
    email = _normalised(email)
    SignInThrottle.objects.filter(key=f"account:{email}").delete()
    _record(outcome=SignInOutcome.SUCCEEDED, email=email, address=address, now=now, user=user)


def signin_authenticate(
    *, request: Any, email: str, password: str, address: str, now: datetime
) -> User | None:
    """The agent these credentials sign in, or None. Raises SignInThrottled, before the password
    is checked, while the account or the address is blocked, and when this failure blocks one."""
    signin_check(email=email, address=address, now=now)
    user = authenticate(request, username=email, password=password)
    if not isinstance(user, User):
        until = signin_failed(email=email, address=address, now=now)
        if until is not None:
            raise SignInThrottled(until=until, now=now)
        return None
    signin_succeeded(user=user, email=email, address=address, now=now)
    return user
