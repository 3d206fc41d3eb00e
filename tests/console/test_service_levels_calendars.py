"""The Console's business calendars: admins only; the list (fixed statements); the editor reads
the weekly grid and holidays (whole or partial) into the calendar kind's definition, shows each
mistake next to its field with what was typed kept, and refuses a stale form without writing;
public holidays of a country (and region) previewed from the `holidays` package and the chosen
ones added."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.sla.calendars import calendar_definition, calendar_departments, calendar_save
from sportello.sla.models import BusinessCalendar

ROME = {
    "key": "rome",
    "name": "Rome office",
    "time_zone": "Europe/Rome",
    "weekly": {d: [["09:00", "13:00"], ["14:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": [{"date": "2026-12-24", "name": "Vigilia", "closed": [["13:00", "24:00"]]}],
}


def grid(**days: list[tuple[str, str]]) -> dict[str, str]:
    """The weekly grid's fields: every day empty unless given."""
    out = {"slots": "3"}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        for i, (start, end) in enumerate(days.get(day, [])):
            out[f"w-{day}-{i}-start"], out[f"w-{day}-{i}-end"] = start, end
    return out


def holidays(*rows: tuple[str, str, str]) -> dict[str, str]:
    out = {"h-count": str(len(rows))}
    for i, (day, name, closed) in enumerate(rows):
        out |= {f"h-{i}-date": day, f"h-{i}-name": name, f"h-{i}-closed": closed}
    return out


@pytest.fixture
def rome(desk: Any, now: Any) -> BusinessCalendar:
    return calendar_save(definition=ROME, actor=desk.admin, now=now, create=True)[0]


PAGES = [
    "/console/calendars/",
    "/console/calendars/new/",
    "/console/calendars/rome/",
    "/console/calendars/rome/holidays/?country=IT&years=2026",
]


@pytest.mark.parametrize("path", PAGES)
def test_an_admin_opens_each_calendar_page(rome: Any, desk: Any, browser: Any, path: str) -> None:
    r = browser(desk.admin).get(path)
    assert r.status_code == 200
    assert 'href="/console/calendars/"' in r.content.decode()


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["agent", "light"])
def test_agents_get_the_403_page(
    rome: Any, desk: Any, browser: Any, settings: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    assert browser(getattr(desk, role)).get(path).status_code == 403
    assert browser(getattr(desk, role)).post(path, {"name": "x"}).status_code == 403
    assert BusinessCalendar.objects.get(key="rome").version == 1


@pytest.mark.parametrize("path", PAGES)
def test_the_signed_out_go_to_the_login_page(rome: Any, path: str) -> None:
    r = Client().get(path)
    assert r.status_code == 302
    assert r["Location"].startswith("/login/?next=")


def test_the_list_shows_each_calendar_with_its_zone_departments_and_holidays(
    rome: Any, desk: Any, browser: Any, now: Any
) -> None:
    calendar_save(
        definition={**ROME, "key": "madrid", "name": "Madrid", "time_zone": "Europe/Madrid", "holidays": []},
        departments=[desk.books.pk],
        is_default=True,
        actor=desk.admin,
        now=now,
        create=True,
    )
    html = browser(desk.admin).get("/console/calendars/").content.decode()
    assert html.index("Madrid") < html.index("Rome office")
    madrid = html[html.index('id="calendar-madrid"') :]
    assert "Europe/Madrid" in madrid[:800]
    assert "Books" in madrid[:800]
    assert "Default" in madrid[:800]


def test_the_list_costs_the_same_statements_whatever_the_number_of_calendars(
    desk: Any, browser: Any, now: Any, django_assert_num_queries: Any
) -> None:
    client = browser(desk.admin)
    client.get("/console/calendars/")  # the session is warm

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/console/calendars/").status_code == 200
        return len(ctx.captured_queries)

    calendar_save(definition=ROME, departments=[desk.books.pk], actor=desk.admin, now=now, create=True)
    one = count()
    for i in range(4):
        calendar_save(
            definition={**ROME, "key": f"c{i}"},
            departments=[desk.electronics.pk] if i else [],
            actor=desk.admin,
            now=now,
            create=True,
        )
    with django_assert_num_queries(one):
        assert client.get("/console/calendars/").status_code == 200


def test_a_calendar_made_in_the_editor_is_saved_through_the_calendar_kind(desk: Any, browser: Any) -> None:
    data = {
        "key": "rome",
        "name": "Rome office",
        "time_zone": "Europe/Rome",
        "departments": [desk.books.pk],
        "is_default": "1",
        **grid(mon=[("09:00", "13:00"), ("14:00", "18:00")], sat=[("10:00", "00:00")]),
        **holidays(("2026-12-08", "Immacolata", ""), ("2026-12-24", "Vigilia", "13:00-24:00"), ("", "", "")),
    }
    r = browser(desk.admin).post("/console/calendars/new/", data)
    assert r.status_code == 302
    assert r["Location"] == "/console/calendars/rome/"
    saved = BusinessCalendar.objects.get(key="rome")
    assert saved.is_default
    assert calendar_departments(saved) == [desk.books.pk]
    assert calendar_definition(saved) == {
        "key": "rome",
        "name": "Rome office",
        "time_zone": "Europe/Rome",
        "weekly": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["10:00", "24:00"]]},
        "holidays": [
            {"date": "2026-12-08", "name": "Immacolata"},
            {"date": "2026-12-24", "name": "Vigilia", "closed": [["13:00", "24:00"]]},
        ],
    }


def test_the_editor_shows_a_saved_calendar(rome: Any, desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/calendars/rome/").content.decode()
    assert 'name="w-mon-1-start" value="14:00"' in html
    assert 'name="w-sat-0-start" value=""' in html
    assert 'name="h-0-closed" value="13:00-24:00"' in html
    assert 'value="Europe/Rome"' in html
    assert '<option value="IT" selected>Italy</option>' in html  # the import's country, from the zone


def test_mistakes_are_shown_next_to_their_fields_and_nothing_typed_is_lost(
    rome: Any, desk: Any, browser: Any
) -> None:
    data = {
        "name": "",
        "time_zone": "Mars/Olympus",
        "version": "1",
        **grid(mon=[("18:00", "09:00")], tue=[("09:00", "13:00"), ("12:00", "15:00")], wed=[("09:00", "")]),
        **holidays(("2026-13-01", "Bad", ""), ("2026-12-25", "Natale", "afternoon")),
    }
    r = browser(desk.admin).post("/console/calendars/rome/", data)
    assert r.status_code == 422
    html = r.content.decode()
    errors = r.context["form"].errors
    assert errors == {
        "name": "Give the calendar a name.",
        "time_zone": "Choose a time zone from the list, for example Europe/Rome.",
        "w-mon": "Each interval must close after it opens.",
        "w-tue": "The intervals of a day must not overlap or touch.",
        "w-wed": "Give both the opening and the closing time.",
        "h-0-date": "Give the date, for example 2026-12-08.",
        "h-1-closed": "Write the closed hours as 14:00-18:00 (several separated by commas).",
    }
    assert 'value="Mars/Olympus"' in html
    assert 'name="w-tue-1-start" value="12:00"' in html
    assert 'value="afternoon"' in html
    assert 'value="2026-13-01"' in html
    assert BusinessCalendar.objects.get(key="rome").version == 1


def test_a_stale_form_is_refused_keeping_what_was_typed_and_saying_what_changed(
    rome: Any, desk: Any, browser: Any, now: Any
) -> None:
    # given the admin opened version 1, and someone then added a holiday (version 2)
    calendar_save(
        definition={**ROME, "holidays": [*ROME["holidays"], {"date": "2026-12-26"}]},
        actor=desk.admin,
        now=now,
        create=False,
    )
    data = {
        "name": "Rome (renamed)",
        "time_zone": "Europe/Rome",
        "version": "1",
        **grid(mon=[("08:00", "12:00")]),
        **holidays(("2026-12-24", "Vigilia", "13:00-24:00")),
    }
    r = browser(desk.admin).post("/console/calendars/rome/", data)
    # then nothing is written, the form keeps what was typed and names what changed
    assert r.status_code == 409
    assert BusinessCalendar.objects.get(key="rome").version == 2
    html = r.content.decode()
    assert "Someone saved this calendar after you opened it." in html
    assert "They changed: holidays." in html
    assert 'value="Rome (renamed)"' in html
    assert 'name="w-mon-0-start" value="08:00"' in html
    assert '<input type="hidden" name="version" value="2">' in html
    # saving again (now at version 2) replaces theirs
    r = browser(desk.admin).post("/console/calendars/rome/", {**data, "version": "2"})
    assert r.status_code == 302
    saved = BusinessCalendar.objects.get(key="rome")
    assert (saved.version, saved.name) == (3, "Rome (renamed)")


def test_a_taken_key_is_an_error_on_the_key(rome: Any, desk: Any, browser: Any) -> None:
    data = {"key": "rome", "name": "Another", "time_zone": "UTC", **grid(), **holidays()}
    r = browser(desk.admin).post("/console/calendars/new/", data)
    assert r.status_code == 409
    assert r.context["form"].errors == {"key": "A calendar with this key exists already; choose another key."}


def test_italian_holidays_are_previewed_and_the_chosen_ones_added(rome: Any, desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.get("/console/calendars/rome/holidays/?country=IT&subdivision=&years=2026")
    assert r.status_code == 200
    found = {h["date"]: h for h in r.context["found"]}
    assert found["2026-12-08"]["name"] == "Immacolata Concezione"
    assert found["2026-12-08"]["have"] is None
    assert found["2026-12-25"]["have"] is None
    # when the admin adds two of them
    r = client.post(
        "/console/calendars/rome/holidays/",
        {"country": "IT", "years": "2026", "version": "1", "date": ["2026-12-08", "2026-12-25"]},
    )
    assert r.status_code == 302
    saved = BusinessCalendar.objects.get(key="rome")
    assert saved.version == 2
    assert calendar_definition(saved)["holidays"] == [
        {"date": "2026-12-08", "name": "Immacolata Concezione"},
        {"date": "2026-12-24", "name": "Vigilia", "closed": [["13:00", "24:00"]]},
        {"date": "2026-12-25", "name": "Natale"},
    ]
    # the preview now says the calendar has them
    again = {
        h["date"]: h
        for h in client.get("/console/calendars/rome/holidays/?country=IT&years=2026").context["found"]
    }
    assert again["2026-12-08"]["have"] == "Immacolata Concezione"


def test_a_region_adds_its_own_holidays(rome: Any, desk: Any, browser: Any) -> None:
    r = browser(desk.admin).get("/console/calendars/rome/holidays/?country=IT&subdivision=RM&years=2026")
    assert r.status_code == 200
    assert "2026-06-29" in {h["date"] for h in r.context["found"]}  # Santi Pietro e Paolo, Rome
    assert '<option value="RM" selected>' in r.content.decode()


def test_a_bad_import_query_is_shown_on_its_fields(rome: Any, desk: Any, browser: Any) -> None:
    r = browser(desk.admin).get("/console/calendars/rome/holidays/?country=XX&years=abc")
    assert r.status_code == 422
    assert r.context["query"].errors == {
        "country": "Choose a country from the list.",
        "years": "Give one or more years, for example 2026, 2027.",
    }


def test_a_holiday_import_from_a_stale_list_adds_nothing(
    rome: Any, desk: Any, browser: Any, now: Any
) -> None:
    calendar_save(definition={**ROME, "name": "Renamed"}, actor=desk.admin, now=now, create=False)
    r = browser(desk.admin).post(
        "/console/calendars/rome/holidays/",
        {"country": "IT", "years": "2026", "version": "1", "date": ["2026-12-08"]},
    )
    assert r.status_code == 302
    assert r["Location"].startswith("/console/calendars/rome/holidays/?country=IT")
    assert BusinessCalendar.objects.get(key="rome").version == 2
