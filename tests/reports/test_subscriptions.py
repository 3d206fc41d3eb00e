"""Scheduled reports: when a subscription is due (time zones, daylight-saving changes), sent
exactly once however many workers run, the mail (in the subscriber's language, their scope, the
figures beside the previous period, the links), unsubscribing by the mail's link, pausing when
the subscriber no longer reads reports, and who manages which subscription."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from report_helpers import HOUR, open_ticket, reply
from sportello.accounts.services import agent_profile_update, agent_update
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.services import outbox_deliver
from sportello.reports.models import (
    PauseReason,
    ReportDelivery,
    ReportSubscription,
    SubscriptionAction,
    SubscriptionEvent,
)
from sportello.reports.subscriptions import (
    latest_period,
    reports_send_due,
    subscription_create,
    subscription_delete,
    subscription_get_for_user,
    subscription_send_preview,
    subscription_set_active,
    subscription_update,
)
from testing import NOW

pytestmark = pytest.mark.django_db

# NOW is Monday 2 November 2026, 09:30 UTC; the reports' days are UTC days.
NEXT_MORNING = datetime(2026, 11, 3, 7, 0, tzinfo=UTC)  # 08:00 in Rome (CET)


def _supervisor(desk: Any, *, language: str = "en", time_zone: str = "Europe/Rome") -> Any:
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    return agent_profile_update(agent=desk.agent, actor=desk.agent, language=language, time_zone=time_zone)


def _subscribe(user: Any, *, at: datetime = NOW, **kw: Any) -> ReportSubscription:
    values: dict[str, Any] = {
        "frequency": "daily",
        "weekday": 0,
        "hour": 8,
        "filters": {},
        "group": "department",
    }
    values.update(kw)
    return subscription_create(actor=user, subscriber=user, now=at, **values)


# -- when ------------------------------------------------------------------------------------------


def _period(
    frequency: str, hour: int, tz: str, now: datetime, weekday: int = 0
) -> tuple[date, date, datetime]:
    p = latest_period(frequency=frequency, weekday=weekday, hour=hour, time_zone=tz, now=now)
    return p.start, p.end, p.due


def test_daily_period_is_the_day_before_on_the_subscribers_clock() -> None:
    at = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)
    # Rome (UTC+1): 08:00 was 07:00 UTC, already past: yesterday's report is due
    assert _period("daily", 8, "Europe/Rome", at) == (
        date(2026, 3, 9),
        date(2026, 3, 9),
        datetime(2026, 3, 10, 7, 0, tzinfo=UTC),
    )
    # New York (UTC-4 since 8 March): 08:00 is 12:00 UTC, still to come: the one sent the day before
    assert _period("daily", 8, "America/New_York", at) == (
        date(2026, 3, 8),
        date(2026, 3, 8),
        datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
    )
    # Tokyo (UTC+9): 08:00 on the 10th was 23:00 UTC on the 9th
    assert _period("daily", 8, "Asia/Tokyo", at)[2] == datetime(2026, 3, 9, 23, 0, tzinfo=UTC)


def test_weekly_period_is_the_week_before_monday_to_sunday() -> None:
    wednesday = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    assert _period("weekly", 8, "Europe/Rome", wednesday, weekday=0) == (
        date(2026, 3, 2),
        date(2026, 3, 8),
        datetime(2026, 3, 9, 7, 0, tzinfo=UTC),
    )
    # a Friday subscription on a Wednesday: last Friday's, the week before that Friday
    assert _period("weekly", 8, "Europe/Rome", wednesday, weekday=4)[:2] == (
        date(2026, 2, 23),
        date(2026, 3, 1),
    )


def test_an_hour_skipped_by_daylight_saving_is_sent_an_hour_later() -> None:
    # 29 March 2026 in Rome: 02:00 CET jumps to 03:00 CEST (01:00 UTC)
    assert _period("daily", 2, "Europe/Rome", datetime(2026, 3, 29, 0, 59, tzinfo=UTC))[0] == date(
        2026, 3, 27
    )
    start, _end, due = _period("daily", 2, "Europe/Rome", datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    assert (start, due) == (date(2026, 3, 28), datetime(2026, 3, 29, 1, 0, tzinfo=UTC))


def test_an_hour_repeated_by_daylight_saving_is_sent_once(desk: Any) -> None:
    # 25 October 2026 in Rome: 02:00 to 03:00 happens twice (00:00 UTC in CEST, 01:00 UTC in CET)
    user = _supervisor(desk, time_zone="Europe/Rome")
    _subscribe(user, at=datetime(2026, 10, 20, tzinfo=UTC), hour=2)
    assert reports_send_due(now=datetime(2026, 10, 24, 23, 59, tzinfo=UTC)) == 1  # the 23rd's
    assert reports_send_due(now=datetime(2026, 10, 25, 0, 0, tzinfo=UTC)) == 1  # the 24th's, first 02:00
    assert reports_send_due(now=datetime(2026, 10, 25, 1, 0, tzinfo=UTC)) == 0  # second 02:00
    assert reports_send_due(now=datetime(2026, 10, 25, 1, 15, tzinfo=UTC)) == 0
    starts = list(ReportDelivery.objects.values_list("period_start", flat=True))
    assert starts == [date(2026, 10, 23), date(2026, 10, 24)]


def test_nothing_is_sent_for_a_time_before_the_subscription(desk: Any) -> None:
    user = _supervisor(desk, time_zone="Europe/Rome")
    _subscribe(user, at=NOW, hour=8)  # 09:30 UTC = 10:30 in Rome: today's 08:00 has passed
    assert reports_send_due(now=NOW + HOUR) == 0
    assert reports_send_due(now=NEXT_MORNING - timedelta(minutes=1)) == 0
    assert reports_send_due(now=NEXT_MORNING) == 1


# -- exactly once ----------------------------------------------------------------------------------


def test_a_period_is_sent_once_however_often_the_job_runs(desk: Any) -> None:
    user = _supervisor(desk, time_zone="Europe/Rome")
    s = _subscribe(user)
    assert reports_send_due(now=NEXT_MORNING) == 1
    assert reports_send_due(now=NEXT_MORNING + timedelta(minutes=15)) == 0
    assert reports_send_due(now=NEXT_MORNING + timedelta(hours=20)) == 0
    delivery = ReportDelivery.objects.get()
    assert (delivery.subscription_id, delivery.period_start, delivery.period_end) == (
        s.pk,
        date(2026, 11, 2),
        date(2026, 11, 2),
    )
    item = OutboxMessage.objects.get(dedupe_key__startswith="report:")
    assert delivery.outbox_id == item.pk
    assert item.dedupe_key == f"report:{s.pk}:2026-11-02"
    s.refresh_from_db()
    assert s.last_sent_at == NEXT_MORNING
    # the next day's period on the next day
    assert reports_send_due(now=NEXT_MORNING + timedelta(days=1)) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_send_a_period_once(desk: Any) -> None:
    # given a subscription due now
    user = _supervisor(desk, time_zone="Europe/Rome")
    _subscribe(user)
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=30)
            results.append(reports_send_due(now=NEXT_MORNING))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    # when two workers run the job at the same moment, each with its own connection
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then exactly one mail was queued and one period recorded
    assert errors == []
    assert sorted(results) == [0, 1]
    assert ReportDelivery.objects.count() == 1
    assert OutboxMessage.objects.filter(dedupe_key__startswith="report:").count() == 1


# -- the mail --------------------------------------------------------------------------------------


@pytest.fixture
def history(desk: Any) -> None:
    """On 2 November: three Books tickets (one solved after 2 h) and one Electronics ticket; on
    26 October (the period before a weekly report): one Books ticket."""
    a = open_ticket(desk, NOW)
    reply(desk.agent, a.pk, NOW + 2 * HOUR, status="solved")
    open_ticket(desk, NOW + HOUR)
    open_ticket(desk, NOW + 2 * HOUR)
    open_ticket(desk, NOW, department=desk.electronics)
    open_ticket(desk, NOW - timedelta(days=7))


def _delivered(sink: Any, at: datetime) -> Any:
    """The one report mail queued, delivered to the SMTP sink and read back."""
    [item] = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, dedupe_key__startswith="report")
    assert outbox_deliver(outbox_id=item.pk, now=at) == OutboxStatus.SENT
    [received] = sink.received
    return received.parsed()


def _parts(msg: Any) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_the_mail_in_italian_with_the_supervisors_figures(desk: Any, history: None, sink: Any) -> None:
    # given an Italian supervisor of Books in Rome, subscribed to the daily report
    user = _supervisor(desk, language="it", time_zone="Europe/Rome")
    s = _subscribe(user)
    # when the job runs at 08:00 in Rome the next morning and the outbox delivers
    assert reports_send_due(now=NEXT_MORNING) == 1
    msg = _delivered(sink, NEXT_MORNING)
    text, html = _parts(msg)
    # then an Italian mail to the supervisor, with Books' figures only (3 created, 1 solved)
    assert msg["To"] == "bruno@desk.test"
    assert msg["Subject"] == "Panoramica giornaliera dell'assistenza, 02 Novembre 2026"
    assert msg["Content-Language"] == "it"
    assert "- Creato: 3 (prima: 0)" in text
    assert "- Risolto: 1 (prima: 0)" in text
    assert "Solo i tuoi reparti." in text
    assert "Books: 3 creati, 1 risolti" in text
    assert "Electronics" not in text
    assert '<html lang="it">' in html
    assert "<svg" not in html
    assert "<script" not in html
    assert "Rispetto degli SLA" in html
    # the dashboard with the same filters and period, at the desk's public address
    assert (
        "http://127.0.0.1:8000/reports/?period=custom&start=2026-11-02&end=2026-11-02&group=department"
        in text
    )
    assert "http://127.0.0.1:8000/reports/unsubscribe/" in text
    sent = OutboxMessage.objects.get(dedupe_key__startswith="report:")
    assert ReportDelivery.objects.get().outbox_id == sent.pk
    assert s.pk


def test_a_weekly_mail_compares_with_the_week_before(desk: Any, history: None, sink: Any) -> None:
    # given an admin subscribed to the weekly report on Mondays, Electronics only
    subscription_create(
        actor=desk.admin,
        subscriber=desk.admin,
        frequency="weekly",
        weekday=0,
        hour=8,
        filters={"department": str(desk.books.pk)},
        group="department",
        now=NOW,
    )
    # when it is sent on Monday 9 November
    assert reports_send_due(now=datetime(2026, 11, 9, 8, 0, tzinfo=UTC)) == 1
    text, _html = _parts(_delivered(sink, datetime(2026, 11, 9, 8, 0, tzinfo=UTC)))
    # then the week of 2 to 8 November beside 26 October to 1 November, Books only
    assert "Nov. 2, 2026" in text
    assert "Nov. 8, 2026" in text
    assert "- Created: 3 (before: 1, +200%)" in text
    assert f"department={desk.books.pk}" in text


def test_unsubscribe_link_asks_then_unsubscribes(desk: Any, sink: Any) -> None:
    user = _supervisor(desk)
    s = _subscribe(user)
    reports_send_due(now=NEXT_MORNING)
    text, _html = _parts(_delivered(sink, NEXT_MORNING))
    link = re.search(r"http://127\.0\.0\.1:8000(/reports/unsubscribe/\S+/)", text)
    assert link is not None
    anonymous = Client()
    # a GET (a mail scanner following links) changes nothing
    page = anonymous.get(link.group(1))
    assert page.status_code == 200
    assert b"Stop e-mailing this report" in page.content
    assert ReportSubscription.objects.filter(pk=s.pk).exists()
    # the POST of the confirm page unsubscribes, without signing in
    done = anonymous.post(link.group(1))
    assert done.status_code == 200
    assert not ReportSubscription.objects.filter(pk=s.pk).exists()
    event = SubscriptionEvent.objects.filter(subscription_id=s.pk).latest("id")
    assert (event.action, event.actor_id) == (SubscriptionAction.UNSUBSCRIBED, user.pk)
    # the link again, or a forged one: nothing to unsubscribe
    assert anonymous.post(link.group(1)).status_code == 404
    assert anonymous.get(f"/reports/unsubscribe/{s.pk}:forged/").status_code == 404


def test_a_subscriber_who_no_longer_reads_reports_is_paused(desk: Any) -> None:
    # given a supervisor's subscription
    user = _supervisor(desk)
    s = _subscribe(user)
    # when they are no longer a supervisor and the report falls due
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=False)
    assert reports_send_due(now=NEXT_MORNING) == 0
    # then nothing was queued; the subscription is paused with the reason, shown to an admin
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="report").exists()
    assert not ReportDelivery.objects.exists()
    s.refresh_from_db()
    assert (s.active, s.paused_reason) == (False, PauseReason.NO_ACCESS)
    event = SubscriptionEvent.objects.filter(subscription_id=s.pk).latest("id")
    assert (event.action, event.actor_id) == (SubscriptionAction.PAUSED, None)
    client = Client()
    client.force_login(desk.admin)
    page = client.get("/reports/scheduled/")
    assert "Paused: the subscriber no longer reads reports" in page.content.decode()
    # and it cannot be resumed while that lasts
    with pytest.raises(Exception, match="no longer reads reports"):
        subscription_set_active(actor=desk.admin, subscription_id=s.pk, active=True, now=NEXT_MORNING)


def test_a_deactivated_subscriber_gets_nothing(desk: Any) -> None:
    s = _subscribe(desk.admin)
    desk.admin.is_active = False  # as deactivation leaves them; the service needs another admin
    desk.admin.save(update_fields=["is_active"])
    assert reports_send_due(now=NEXT_MORNING + 2 * HOUR) == 0  # 08:00 UTC, the admin's clock
    s.refresh_from_db()
    assert s.paused_reason == PauseReason.NO_ACCESS


# -- managing --------------------------------------------------------------------------------------


def test_only_readers_subscribe_and_only_within_their_scope(desk: Any) -> None:
    with pytest.raises(PermissionDenied):
        _subscribe(desk.outsider)  # not a supervisor
    user = _supervisor(desk)
    with pytest.raises(ValidationFailed) as raised:
        _subscribe(user, filters={"department": str(desk.electronics.pk)})
    assert raised.value.field == "department"
    with pytest.raises(ValidationFailed):
        _subscribe(user, hour=24)
    s = _subscribe(user, filters={"department": str(desk.books.pk), "channel": "email"})
    assert s.filters == {"department": desk.books.pk, "channel": "email"}


def test_a_subscriber_manages_their_own_and_admins_anyones(desk: Any) -> None:
    user = _supervisor(desk)
    s = _subscribe(user)
    agent_update(agent=desk.outsider, actor=desk.admin, supervisor=True)
    with pytest.raises(NotFound):
        subscription_get_for_user(user=desk.outsider, subscription_id=s.pk)
    with pytest.raises(NotFound):
        subscription_update(
            actor=desk.outsider, subscription_id=s.pk, frequency="weekly", weekday=2, hour=7, now=NOW
        )
    subscription_update(
        actor=desk.admin, subscription_id=s.pk, frequency="weekly", weekday=2, hour=7, now=NOW
    )
    subscription_set_active(actor=user, subscription_id=s.pk, active=False, now=NOW)
    subscription_delete(actor=user, subscription_id=s.pk, now=NOW)
    events = list(
        SubscriptionEvent.objects.filter(subscription_id=s.pk).values_list("action", "actor_id", "at")
    )
    assert events == [
        ("created", user.pk, NOW),
        ("changed", desk.admin.pk, NOW),
        ("paused", user.pk, NOW),
        ("deleted", user.pk, NOW),
    ]
    changed = SubscriptionEvent.objects.get(subscription_id=s.pk, action="changed")
    assert (changed.state["frequency"], changed.state["weekday"], changed.state["hour"]) == ("weekly", 2, 7)


def test_send_now_mails_a_preview_to_the_one_who_asks(desk: Any, history: None, sink: Any) -> None:
    user = _supervisor(desk, language="es")
    s = _subscribe(user)
    subscription_send_preview(actor=desk.admin, subscription_id=s.pk, now=NEXT_MORNING)
    msg = _delivered(sink, NEXT_MORNING)
    assert msg["To"] == "admin@desk.test"
    assert msg["Subject"].startswith("Preview: Daily support overview")  # the admin reads English
    assert not ReportDelivery.objects.exists()  # the real one is still due
    assert reports_send_due(now=NEXT_MORNING) == 1


# -- the screens -----------------------------------------------------------------------------------


def test_e_mail_me_this_report_from_the_dashboard(desk: Any) -> None:
    user = _supervisor(desk)
    client = Client()
    client.force_login(user)
    page = client.get("/reports/", {"department": desk.books.pk, "group": "channel"})
    html = page.content.decode()
    assert "E-mail me this report" in html
    assert f'name="department" value="{desk.books.pk}"' in html
    saved = client.post(
        "/reports/scheduled/new/",
        {"department": desk.books.pk, "group": "channel", "frequency": "weekly", "weekday": "4", "hour": "7"},
    )
    assert saved.status_code == 302
    s = ReportSubscription.objects.get()
    assert (s.user_id, s.frequency, s.weekday, s.hour, s.group) == (user.pk, "weekly", 4, 7, "channel")
    assert s.filters == {"department": desk.books.pk}
    listing = client.get("/reports/scheduled/").content.decode()
    assert "Weekly, Friday at 07:00" in listing
    assert "Department: Books" in listing
    # another department's filter is refused inline
    refused = client.post(
        "/reports/scheduled/new/", {"department": desk.electronics.pk, "frequency": "daily", "hour": "8"}
    )
    assert refused.status_code == 422
    assert ReportSubscription.objects.count() == 1


def test_the_list_edit_pause_and_delete(desk: Any) -> None:
    user = _supervisor(desk)
    s = _subscribe(user)
    client = Client()
    client.force_login(user)
    assert client.get(f"/reports/scheduled/{s.pk}/").status_code == 200
    assert client.post(f"/reports/scheduled/{s.pk}/", {"frequency": "daily", "hour": "6"}).status_code == 302
    assert client.post(f"/reports/scheduled/{s.pk}/pause/", {"active": "0"}).status_code == 302
    s.refresh_from_db()
    assert (s.hour, s.active, s.paused_reason) == (6, False, PauseReason.BY_HAND)
    assert "Paused by hand" in client.get("/reports/scheduled/").content.decode()
    assert client.get(f"/reports/scheduled/{s.pk}/delete/").status_code == 200
    assert ReportSubscription.objects.filter(pk=s.pk).exists()
    assert client.post(f"/reports/scheduled/{s.pk}/delete/").status_code == 302
    assert not ReportSubscription.objects.exists()


def test_another_supervisor_cannot_see_or_touch_a_subscription(desk: Any) -> None:
    s = _subscribe(_supervisor(desk))
    agent_update(agent=desk.outsider, actor=desk.admin, supervisor=True)
    client = Client()
    client.force_login(desk.outsider)
    assert "Bruno" not in client.get("/reports/scheduled/").content.decode()
    assert client.get(f"/reports/scheduled/{s.pk}/").status_code == 404
    assert client.post(f"/reports/scheduled/{s.pk}/delete/").status_code == 404
    assert client.post(f"/reports/scheduled/{s.pk}/send/").status_code == 404
    assert ReportSubscription.objects.filter(pk=s.pk, active=True).exists()
    admin = Client()
    admin.force_login(desk.admin)
    assert "bruno@desk.test" in admin.get("/reports/scheduled/").content.decode()


def test_a_failed_delivery_shows_on_the_list(desk: Any, sink: Any) -> None:
    user = _supervisor(desk)
    _subscribe(user)
    reports_send_due(now=NEXT_MORNING)
    sink.refuse(code=550)
    item = OutboxMessage.objects.get(dedupe_key__startswith="report:")
    assert outbox_deliver(outbox_id=item.pk, now=NEXT_MORNING) == OutboxStatus.FAILED
    client = Client()
    client.force_login(user)
    html = client.get("/reports/scheduled/").content.decode()
    assert "Could not be delivered" in html
    assert "No such user here" in html


def test_a_report_that_cannot_be_prepared_shows_on_the_subscription(desk: Any, monkeypatch: Any) -> None:
    # given a subscription whose report fails to build
    user = _supervisor(desk)
    s = _subscribe(user)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the roll-ups are being rebuilt")

    monkeypatch.setattr("sportello.reports.subscriptions.report_context", broken)
    # when it falls due
    assert reports_send_due(now=NEXT_MORNING) == 0
    # then nothing was queued or recorded as sent, and the error is on the subscription
    assert not ReportDelivery.objects.exists()
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="report").exists()
    s.refresh_from_db()
    assert s.last_error == "RuntimeError: the roll-ups are being rebuilt"
    failed = SubscriptionEvent.objects.filter(subscription_id=s.pk, action=SubscriptionAction.FAILED)
    assert failed.count() == 1
    client = Client()
    client.force_login(user)
    assert "the roll-ups are being rebuilt" in client.get("/reports/scheduled/").content.decode()
    # and the next run, once it can be built, sends it
    monkeypatch.undo()
    assert reports_send_due(now=NEXT_MORNING + timedelta(minutes=15)) == 1
    s.refresh_from_db()
    assert s.last_error == ""


def test_the_list_reads_a_fixed_number_of_statements(desk: Any, django_assert_max_num_queries: Any) -> None:
    user = _supervisor(desk)
    for hour in (6, 7, 8, 9):
        _subscribe(user, hour=hour, filters={"department": str(desk.books.pk), "channel": "email"})
    client = Client()
    client.force_login(desk.admin)
    client.get("/reports/scheduled/")  # warm the session and the desk's caches
    with django_assert_max_num_queries(12) as queries:
        page = client.get("/reports/scheduled/")
    assert page.content.decode().count("Department: Books; Channel: Email") == 4
    few = len(queries)
    for hour in (10, 11, 12):
        _subscribe(user, hour=hour, filters={"department": str(desk.books.pk)})
    with django_assert_max_num_queries(few):
        client.get("/reports/scheduled/")


def test_the_job_runs_every_quarter_of_an_hour_in_the_worker() -> None:
    from sportello.core.scheduler import registered_jobs

    jobs = {j.name: j.every for j in registered_jobs()}
    assert jobs["reports_scheduled"] == timedelta(minutes=15)
