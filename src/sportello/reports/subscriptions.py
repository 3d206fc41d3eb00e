"""Scheduled reports: the overview e-mailed to the agents who subscribed to it.

A subscription (`ReportSubscription`) belongs to an agent who reads reports (`reports.access`):
they manage their own, admins anyone's. It is daily — the day before — or weekly — the week
before, Monday to Sunday — sent at `hour` on the subscriber's own clock (`User.time_zone`), on
`weekday` for a weekly one. An hour that a daylight-saving change skips is sent an hour later
(03:00 for 02:00 when the clocks go forward); an hour that happens twice is sent the first time.

Sending (`reports_send_due`, a periodic job every 15 minutes): each active subscription's
latest due period is looked up; the one that has no `ReportDelivery` yet gets one, in the
transaction that queues its mail in the outbox: the delivery is unique per subscription and
period, so however many workers run at once a period is sent once. A worker down for a while
sends only the latest period when it comes back. The mail is the overview for the subscriber's
scope at that moment, in their language and time zone: HTML (inline styles, tables only) with a
plain-text part, a link to the dashboard with the same filters and a one-click unsubscribe link
(signed). A subscriber who no longer reads reports (no longer a supervisor, deactivated) gets
nothing: the subscription is paused with that reason, shown on the list. A mail that fails is
the outbox's (its delivery state is shown on the list); a report that cannot be prepared is
recorded on the subscription (`last_error`).

Every change is recorded as a `SubscriptionEvent`: who, when, what, and the subscription as it
became.
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, OperationalError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from sportello.accounts.models import Role, User
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.outbox import services as outbox
from sportello.outbox.models import OutboxMessage

from .access import may_read_reports, report_scope
from .dashboard import GROUPS, Filters
from .forms import ReportFilterForm
from .models import (
    Frequency,
    PauseReason,
    ReportDelivery,
    ReportSubscription,
    SubscriptionAction,
    SubscriptionEvent,
)
from .overview import filters_params, report_context

logger = logging.getLogger(__name__)

FILTER_KEYS = ("department", "team", "agent", "channel", "priority")
UNSUBSCRIBE_SALT = "sportello.reports.unsubscribe"
ERROR_MAX_CHARS = 2000


# -- when ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """A report's period (local dates of the reports, both included) and the instant it is due."""

    start: date
    end: date
    due: datetime


def time_zone_of(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def latest_period(*, frequency: str, weekday: int, hour: int, time_zone: str, now: datetime) -> Period:
    """The latest period due at `now`: the day before (daily) or the Monday-to-Sunday week
    before (weekly) the latest send day whose `hour` o'clock, in `time_zone`, is not after
    `now`."""
    tz = time_zone_of(time_zone)
    today = now.astimezone(tz).date()
    for back in range(8):
        day = today - timedelta(days=back)
        if frequency == Frequency.WEEKLY and day.weekday() != weekday:
            continue
        # fold=0: a skipped hour reads with the offset before the change (an hour later on the
        # clock), a repeated hour is its first occurrence.
        due = datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)
        if due <= now:
            break
    if frequency == Frequency.WEEKLY:
        start = day - timedelta(days=day.weekday() + 7)
        return Period(start=start, end=start + timedelta(days=6), due=due)
    return Period(start=day - timedelta(days=1), end=day - timedelta(days=1), due=due)


def due_period(subscription: ReportSubscription, *, now: datetime) -> Period | None:
    """The period `subscription` is due to send at `now` (not yet sent: that is the caller's
    check), None when its latest send time came before it was created."""
    period = latest_period(
        frequency=subscription.frequency,
        weekday=subscription.weekday,
        hour=subscription.hour,
        time_zone=subscription.user.time_zone,
        now=now,
    )
    return period if period.due >= subscription.created_at else None


# -- reading -------------------------------------------------------------------------------------


def subscription_get_for_user(*, user: User, subscription_id: int) -> ReportSubscription:
    """A subscription `user` manages (their own; an admin's: anyone's). NotFound otherwise."""
    qs = ReportSubscription.objects.select_related("user").filter(pk=subscription_id)
    if not (user.is_active and user.role == Role.ADMIN):
        qs = qs.filter(user=user)
    found = qs.first()
    if found is None:
        raise NotFound("report subscription not found")
    return found


@dataclass(frozen=True, slots=True)
class Listed:
    subscription: ReportSubscription
    delivery: ReportDelivery | None  # the latest
    delivery_status: str  # the outbox's: pending, sent, failed, parked; "" when none
    delivery_error: str


def subscriptions_for(user: User) -> list[Listed]:
    """The subscriptions `user` manages, each with its latest delivery and that mail's state.
    Three statements whatever their number."""
    qs = ReportSubscription.objects.select_related("user").order_by("user__name", "user__email", "id")
    if not (user.is_active and user.role == Role.ADMIN):
        qs = qs.filter(user=user)
    subs = list(qs)
    latest: dict[int, ReportDelivery] = {}
    for delivery in ReportDelivery.objects.filter(subscription__in=subs).order_by(
        "subscription_id", "period_start"
    ):
        latest[delivery.subscription_id] = delivery
    outbox_ids = [d.outbox_id for d in latest.values() if d.outbox_id is not None]
    states = {
        pk: (status, error)
        for pk, status, error in OutboxMessage.objects.filter(pk__in=outbox_ids).values_list(
            "pk", "status", "last_error"
        )
    }
    out = []
    for s in subs:
        d = latest.get(s.pk)
        status, error = states.get(d.outbox_id, ("", "")) if d is not None and d.outbox_id else ("", "")
        out.append(Listed(subscription=s, delivery=d, delivery_status=str(status), delivery_error=str(error)))
    return out


def unsubscribe_token(subscription: ReportSubscription) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object([subscription.pk, subscription.user_id])


def subscription_for_token(token: str) -> ReportSubscription:
    """The subscription an unsubscribe link names; NotFound for a forged link or one whose
    subscription is gone."""
    try:
        pk, user_id = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        raise NotFound("this link is not valid") from None
    found = ReportSubscription.objects.select_related("user").filter(pk=pk, user_id=user_id).first()
    if found is None:
        raise NotFound("this subscription no longer exists")
    return found


# -- writing -------------------------------------------------------------------------------------


def _state(s: ReportSubscription) -> dict[str, Any]:
    return {
        "frequency": s.frequency,
        "weekday": s.weekday,
        "hour": s.hour,
        "filters": s.filters,
        "group": s.group,
        "active": s.active,
        "paused_reason": s.paused_reason,
    }


def _record(s: ReportSubscription, *, action: SubscriptionAction, actor: User | None, now: datetime) -> None:
    SubscriptionEvent.objects.create(
        subscription_id=s.pk, user_id=s.user_id, actor=actor, action=action, state=_state(s), at=now
    )


def _may_manage(actor: User, subscriber: User) -> None:
    if actor.pk != subscriber.pk and not (actor.is_active and actor.role == Role.ADMIN):
        raise PermissionDenied("you manage only your own scheduled reports")


def _schedule(frequency: str, weekday: int, hour: int) -> tuple[str, int, int]:
    if frequency not in Frequency.values:
        raise ValidationFailed(f"must be one of {', '.join(Frequency.values)}", field="frequency")
    if not 0 <= hour <= 23:
        raise ValidationFailed("must be an hour from 0 to 23", field="hour")
    if not 0 <= weekday <= 6:
        raise ValidationFailed("must be a weekday from 0 (Monday) to 6 (Sunday)", field="weekday")
    return frequency, (weekday if frequency == Frequency.WEEKLY else 0), hour


def clean_filters(subscriber: User, raw: dict[str, Any], group: str) -> tuple[dict[str, Any], str]:
    """The dimensions and group of a subscription, each one the subscriber's scope offers
    (ValidationFailed naming the first that is not)."""
    scope = report_scope(subscriber)
    form = ReportFilterForm({k: raw.get(k) or "" for k in FILTER_KEYS} | {"group": group}, scope=scope)
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        raise ValidationFailed(str(errors[0]), field=name)
    data = form.cleaned_data
    filters = {k: data[k] for k in FILTER_KEYS if data.get(k) not in (None, "")}
    chosen = data.get("group") or "department"
    if chosen not in GROUPS:
        raise ValidationFailed(f"must be one of {', '.join(GROUPS)}", field="group")
    return filters, chosen


@transaction.atomic
def subscription_create(
    *,
    actor: User,
    subscriber: User,
    frequency: str,
    weekday: int,
    hour: int,
    filters: dict[str, Any],
    group: str,
    now: datetime,
) -> ReportSubscription:
    """Subscribe `subscriber` (who must read reports) to the overview with `filters`."""
    _may_manage(actor, subscriber)
    if not may_read_reports(subscriber):
        raise PermissionDenied("only admins and supervisors read reports")
    frequency, weekday, hour = _schedule(frequency, weekday, hour)
    clean, group = clean_filters(subscriber, filters, group)
    s = ReportSubscription.objects.create(
        user=subscriber,
        frequency=frequency,
        weekday=weekday,
        hour=hour,
        filters=clean,
        group=group,
        created_at=now,
        updated_at=now,
    )
    _record(s, action=SubscriptionAction.CREATED, actor=actor, now=now)
    return s


def _locked(*, actor: User, subscription_id: int) -> ReportSubscription:
    subscription_get_for_user(user=actor, subscription_id=subscription_id)  # NotFound first
    return ReportSubscription.objects.select_for_update().select_related("user").get(pk=subscription_id)


@transaction.atomic
def subscription_update(
    *, actor: User, subscription_id: int, frequency: str, weekday: int, hour: int, now: datetime
) -> ReportSubscription:
    """Change when a subscription is sent."""
    s = _locked(actor=actor, subscription_id=subscription_id)
    frequency, weekday, hour = _schedule(frequency, weekday, hour)
    if (s.frequency, s.weekday, s.hour) != (frequency, weekday, hour):
        s.frequency, s.weekday, s.hour, s.updated_at = frequency, weekday, hour, now
        s.save(update_fields=["frequency", "weekday", "hour", "updated_at"])
        _record(s, action=SubscriptionAction.CHANGED, actor=actor, now=now)
    return s


@transaction.atomic
def subscription_set_active(
    *, actor: User, subscription_id: int, active: bool, now: datetime
) -> ReportSubscription:
    """Pause or resume a subscription. Resuming needs a subscriber who reads reports; it sends
    from the next send time on (not the periods missed while paused)."""
    s = _locked(actor=actor, subscription_id=subscription_id)
    if s.active == active:
        return s
    if active and not may_read_reports(s.user):
        raise Conflict("the subscriber no longer reads reports", field="active")
    s.active = active
    s.paused_reason = "" if active else PauseReason.BY_HAND
    s.updated_at = now
    fields = ["active", "paused_reason", "updated_at"]
    if active:
        s.created_at = max(s.created_at, now)  # what was missed while paused is not caught up
        fields.append("created_at")
    s.save(update_fields=fields)
    _record(
        s, action=SubscriptionAction.RESUMED if active else SubscriptionAction.PAUSED, actor=actor, now=now
    )
    return s


@transaction.atomic
def subscription_delete(*, actor: User, subscription_id: int, now: datetime) -> None:
    s = _locked(actor=actor, subscription_id=subscription_id)
    _record(s, action=SubscriptionAction.DELETED, actor=actor, now=now)
    s.delete()


@transaction.atomic
def subscription_unsubscribe(*, token: str, now: datetime) -> ReportSubscription:
    """The one-click unsubscribe of a mail's link: the subscription is deleted, recorded as the
    subscriber's doing. NotFound for a forged link or a subscription already gone."""
    found = subscription_for_token(token)
    s = ReportSubscription.objects.select_for_update().select_related("user").filter(pk=found.pk).first()
    if s is None:
        raise NotFound("this subscription no longer exists")
    _record(s, action=SubscriptionAction.UNSUBSCRIBED, actor=s.user, now=now)
    s.delete()
    return s


# -- the mail ------------------------------------------------------------------------------------


def _language(code: str) -> str:
    return code if code in {c for c, _ in settings.LANGUAGES} else "en"


def public_url() -> str:
    return str(settings.SPORTELLO["PUBLIC_URL"]).rstrip("/")


def report_mail(
    subscription: ReportSubscription, period: Period, *, reader: User, preview: bool = False
) -> dict[str, Any]:
    """The outbox payload of `subscription`'s report of `period`, for `reader` (the subscriber;
    the person asking for a preview), in the reader's language and time zone, figures within
    the subscriber's scope as it is now."""
    scope = report_scope(subscription.user)
    known = {k: v for k, v in subscription.filters.items() if k in FILTER_KEYS}
    f = Filters(start=period.start, end=period.end, **known)
    language = _language(reader.language)
    base = public_url()
    with translation.override(language), timezone.override(time_zone_of(reader.time_zone)):
        context = report_context(scope, f, subscription.group)
        query = urlencode({**filters_params(f), "group": subscription.group})
        start, end = date_format(f.start, "DATE_FORMAT"), date_format(f.end, "DATE_FORMAT")
        if subscription.frequency == Frequency.WEEKLY:
            subject = _("Weekly support overview, %(start)s – %(end)s") % {  # noqa: RUF001
                "start": start,
                "end": end,
            }
        else:
            subject = _("Daily support overview, %(day)s") % {"day": start}
        if preview:
            subject = _("Preview: %(subject)s") % {"subject": subject}
        context |= {
            "subject": subject,
            "subscription": subscription,
            "language": language,
            "base": base,
            "start": start,
            "end": end,
            "previous_start": date_format(context["previous"].start, "DATE_FORMAT"),
            "previous_end": date_format(context["previous"].end, "DATE_FORMAT"),
            "dashboard_url": f"{base}{reverse('reports:dashboard')}?{query}",
            "manage_url": f"{base}{reverse('reports:subscriptions')}",
            "unsubscribe_url": base + reverse("reports:unsubscribe", args=[unsubscribe_token(subscription)]),
            "preview": preview,
        }
        html = render_to_string("reports/mail/report.html", context)
        text = render_to_string("reports/mail/report.txt", context)
    return {
        "to": [reader.email],
        "subject": subject,
        "body": text,
        "html": html,
        "language": language,
        "automatic": False,  # asked for by the person themself
    }


# -- sending -------------------------------------------------------------------------------------


def reports_send_due(*, now: datetime) -> int:
    """Queue the mail of every subscription due at `now` and not sent for its period; the
    number queued by this call. Safe to run in several workers at once."""
    queued = 0
    for s in ReportSubscription.objects.filter(active=True).select_related("user").order_by("id"):
        period = due_period(s, now=now)
        try:
            if period is None or _delivered(s, period):
                continue
        except OperationalError as exc:  # SQLite busy with another worker's write: next run
            logger.info("reports: subscription %s not looked at now: %s", s.pk, exc)
            continue
        if _send_one(subscription_id=s.pk, period=period, now=now):
            queued += 1
    return queued


def _delivered(s: ReportSubscription, period: Period) -> bool:
    return ReportDelivery.objects.filter(subscription=s, period_start=period.start).exists()


def _send_one(*, subscription_id: int, period: Period, now: datetime) -> bool:
    try:
        with transaction.atomic():
            s = (
                ReportSubscription.objects.select_for_update()
                .select_related("user")
                .filter(pk=subscription_id, active=True)
                .first()
            )
            if s is None or _delivered(s, period):
                return False
            if not may_read_reports(s.user):
                s.active, s.paused_reason, s.updated_at = False, PauseReason.NO_ACCESS, now
                s.save(update_fields=["active", "paused_reason", "updated_at"])
                _record(s, action=SubscriptionAction.PAUSED, actor=None, now=now)
                return False
            delivery = ReportDelivery.objects.create(
                subscription=s, period_start=period.start, period_end=period.end, created_at=now
            )
            payload = report_mail(s, period, reader=s.user)
            item = outbox.outbox_add(
                kind="email",
                ticket=None,
                change_id=None,
                dedupe_key=f"report:{s.pk}:{period.start.isoformat()}",
                payload=payload,
                now=now,
            )
            delivery.outbox_id = item.pk
            delivery.save(update_fields=["outbox_id"])
            s.last_sent_at, s.last_error = now, ""
            s.save(update_fields=["last_sent_at", "last_error"])
            return True
    except IntegrityError:  # another worker recorded this period first
        return False
    except OperationalError as exc:  # SQLite: "database is locked"; the next run tries again
        logger.info("reports: subscription %s not sent now: %s", subscription_id, exc)
        return False
    except Exception as exc:  # a report that cannot be prepared: shown on the subscription
        logger.exception("reports: subscription %s could not be prepared", subscription_id)
        _failed(subscription_id=subscription_id, error=f"{type(exc).__name__}: {exc}", now=now)
        return False


@transaction.atomic
def _failed(*, subscription_id: int, error: str, now: datetime) -> None:
    s = ReportSubscription.objects.select_for_update().filter(pk=subscription_id).first()
    if s is None:
        return
    s.last_error = error[:ERROR_MAX_CHARS]
    s.save(update_fields=["last_error"])
    _record(s, action=SubscriptionAction.FAILED, actor=None, now=now)


def subscription_send_preview(*, actor: User, subscription_id: int, now: datetime) -> OutboxMessage:
    """ "Send now": the subscription's latest report mailed to `actor` alone, in their language,
    through the outbox; nothing is recorded as sent."""
    s = subscription_get_for_user(user=actor, subscription_id=subscription_id)
    if not may_read_reports(s.user):
        raise Conflict("the subscriber no longer reads reports")
    period = latest_period(
        frequency=s.frequency, weekday=s.weekday, hour=s.hour, time_zone=s.user.time_zone, now=now
    )
    with transaction.atomic():
        return outbox.outbox_add(
            kind="email",
            ticket=None,
            change_id=None,
            dedupe_key=f"report-preview:{s.pk}:{uuid.uuid4().hex}",
            payload=report_mail(s, period, reader=actor, preview=True),
            now=now,
        )
