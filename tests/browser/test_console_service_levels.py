"""Service levels in the Console, in a real browser: an admin makes a business calendar for
the Rome office (a weekly grid with a lunch break, a partial holiday typed in), imports Italian
public holidays from the `holidays` data and keeps the ones she wants; the pages have no
accessibility violations and fit a 390 px wide phone. Then the VIP SLA on those business hours:
a ticket of a VIP customer follows it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def make_rome_calendar(page: Any, url: Any) -> None:
    """From the Console's overview: a new calendar, Rome's hours, Christmas Eve afternoon off,
    then Italy's 2026 public holidays but Epiphany."""
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Business calendars").click()
    page.wait_for_url(url("/console/calendars/"))
    page.get_by_text("No calendar yet.").wait_for()
    assert_accessible(page, context="the calendars, empty")
    page.get_by_role("link", name="New calendar").click()
    page.get_by_label("Name", exact=True).fill("Rome office")
    page.get_by_label("Key", exact=True).fill("rome")
    page.get_by_label("Time zone").fill("Europe/Rome")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        page.get_by_label(f"{day}, interval 1, closes").fill("13:00")
        page.get_by_label(f"{day}, interval 2, opens").fill("14:00")
        page.get_by_label(f"{day}, interval 2, closes").fill("18:00")
        page.get_by_label(f"{day}, interval 1, opens").fill("09:00")
    page.get_by_label("Holiday 1, date").fill("2026-12-24")
    page.get_by_label("Holiday 1, name").fill("Vigilia di Natale")
    page.get_by_label("Holiday 1, closed hours").fill("13:00-24:00")
    page.get_by_role("button", name="Create calendar").click()
    page.wait_for_url(url("/console/calendars/rome/"))
    page.get_by_text("Calendar “Rome office” created.").wait_for()
    assert page.get_by_label("Monday, interval 2, opens").input_value() == "14:00"
    assert page.get_by_label("Holiday 1, closed hours").input_value() == "13:00-24:00"
    assert_accessible(page, context="the calendar editor")
    # Italy's holidays: the country comes from the time zone
    assert page.get_by_label("Country").input_value() == "IT"
    page.get_by_label("Years").fill("2026")
    page.get_by_role("button", name="Show holidays").click()
    page.get_by_role("heading", name="Import public holidays").wait_for()
    assert_accessible(page, context="the holidays to import")
    page.get_by_label("2026-01-06").uncheck()
    page.get_by_role("button", name="Add the chosen holidays").click()
    page.wait_for_url(url("/console/calendars/rome/"))
    page.get_by_text("holidays added.").wait_for()


def test_an_admin_builds_a_business_calendar_with_italian_holidays(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.sla.calendars import calendar_definition
    from sportello.sla.models import BusinessCalendar

    sign_in(page, desk.admin)
    make_rome_calendar(page, url)
    saved = BusinessCalendar.objects.get(key="rome")
    definition = calendar_definition(saved)
    assert definition["weekly"]["fri"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    dates = {h["date"]: h for h in definition["holidays"]}
    assert dates["2026-12-08"]["name"] == "Immacolata Concezione"
    assert dates["2026-12-24"] == {
        "date": "2026-12-24",
        "name": "Vigilia di Natale",
        "closed": [["13:00", "24:00"]],
    }
    assert "2026-01-06" not in dates
    assert page.locator("#holiday-2026-12-08").count() == 1
    shot(page, "console-calendar")
    # the list shows it
    page.get_by_role("link", name="Business calendars").first.click()
    row = page.locator("#calendar-rome")
    assert "Europe/Rome" in row.inner_text()
    assert_accessible(page, context="the calendars")


def test_an_admin_makes_a_vip_sla_on_business_hours_with_an_italian_holiday(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.contacts.services import contact_update
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.sla.models import SlaPolicy, TicketSla
    from sportello.sla.services import policy_definition
    from sportello.tickets import pipeline
    from sportello.tickets.pipeline import NewMessage

    sign_in(page, desk.admin)
    make_rome_calendar(page, url)
    # the VIP SLA, from the Console's navigation
    page.locator(".console-nav").get_by_role("link", name="SLA policies").click()
    page.wait_for_url(url("/console/sla-policies/"))
    assert_accessible(page, context="the SLA policies, empty")
    page.get_by_role("link", name="New policy").click()
    page.get_by_label("Name", exact=True).fill("VIP customers")
    page.get_by_label("Key", exact=True).fill("vip")
    page.get_by_label("Order").fill("10")
    page.get_by_label("Tickets of VIP customers").check()
    page.get_by_label("First response, Normal").fill("1h")
    page.get_by_label("First response, Urgent").fill("15m")
    page.get_by_label("Resolution, Normal").fill("soon")
    page.get_by_label("Count time in").select_option("rome")
    page.get_by_role("button", name="Create policy").click()
    # a mistake is shown on its row, what was typed kept
    page.get_by_text("Write each target as a duration: 30m, 4h, 1h30m or 2d.").wait_for()
    assert page.get_by_label("First response, Urgent").input_value() == "15m"
    assert_accessible(page, context="the policy editor with an error")
    page.get_by_label("Resolution, Normal").fill("1d")
    page.get_by_label("Warnings before a breach (YAML)").fill("- {at_percent: 80}")
    page.get_by_role("button", name="Create policy").click()
    page.wait_for_url(url("/console/sla-policies/vip/"))
    page.get_by_text("SLA policy “VIP customers” created.").wait_for()
    assert_accessible(page, context="the policy editor")
    shot(page, "console-sla-policy")
    definition = policy_definition(SlaPolicy.objects.get(key="vip"))
    assert definition["calendar"] == "rome"
    assert definition["targets"]["first_response"]["normal"] == {"within": "1h", "business": True}
    page.locator(".console-nav").get_by_role("link", name="SLA policies").click()
    assert "Business hours (Rome office)" in page.locator("#policy-vip").inner_text()
    assert_accessible(page, context="the SLA policies")
    # a VIP customer's ticket, opened on the Immacolata (imported) at 10:00 in Rome, is due an
    # hour after the office opens the next morning
    contact_update(contact=desk.alice, actor=desk.admin, organization=desk.acme)  # Acme is VIP
    opened = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    ticket = pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, desk.alice.name),
        via=Via.EMAIL,
        subject="Broken",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="It broke."),
        now=opened,
    ).ticket
    sla = TicketSla.objects.get(ticket=ticket)
    assert sla.policy is not None
    assert sla.policy.key == "vip"
    assert sla.next_breach_at == datetime(2026, 12, 9, 9, 0, tzinfo=UTC)  # 10:00 in Rome


def test_the_calendar_pages_fit_a_phone(desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    from sportello.sla.calendars import calendar_save

    calendar_save(
        definition={
            "key": "rome",
            "name": "Rome office",
            "time_zone": "Europe/Rome",
            "weekly": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]]},
            "holidays": [{"date": "2026-12-24", "name": "Vigilia di Natale", "closed": [["13:00", "24:00"]]}],
        },
        departments=[desk.books.pk],
        actor=desk.admin,
        now=now,
        create=True,
    )
    sign_in(phone_page, desk.admin)
    for path in (
        "/console/calendars/",
        "/console/calendars/rome/",
        "/console/calendars/rome/holidays/?country=IT&years=2026",
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    phone_page.goto(url("/console/calendars/rome/"))
    shot(phone_page, "console-calendar-phone")
