"""The portal's settings in the Console (admins; stale saves refused; colours white text cannot
be read on refused; logos checked), the brand's style sheet and logo, the language, and the
notifications' links to the portal when it is on."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sportello.core.models import ConfigSnapshot
from sportello.portal import services
from sportello.portal.links import portal_root
from sportello.portal.models import PortalSettings
from testing import NOW, portal_on

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def _form(**changes: Any) -> dict[str, Any]:
    row = services.portal_settings_get()
    data = {
        "version": row.version,
        "enabled": "on",
        "name": "Libreria Sole",
        "colour": "#1f5f99",
        "default_language": "it",
    }
    return {**data, **changes}


def test_an_admin_saves_the_portal_and_it_is_recorded(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert client.get("/console/portal/").status_code == 200
    response = client.post("/console/portal/", _form(logo=SimpleUploadedFile("logo.png", PNG, "image/png")))
    assert response.status_code == 302
    row = PortalSettings.objects.get()
    assert (row.enabled, row.name, row.colour, row.default_language, row.logo_type) == (
        True,
        "Libreria Sole",
        "#1f5f99",
        "it",
        "image/png",
    )
    assert ConfigSnapshot.objects.filter(kind="portal", key="1").count() == 2  # before and after
    home = Client().get("/portal/")
    assert b"Libreria Sole" in home.content
    assert f"/portal/logo/{row.logo_sha256}/".encode() in home.content
    logo = Client().get(f"/portal/logo/{row.logo_sha256}/")
    assert logo.status_code == 200
    assert logo.content == PNG
    assert logo["Content-Type"] == "image/png"


def test_agents_cannot_open_the_portal_settings(desk: Any, browser: Any) -> None:
    assert browser(desk.agent).post("/console/portal/", _form()).status_code == 403
    assert not PortalSettings.objects.filter(enabled=True).exists()


def test_a_stale_save_is_refused_and_keeps_what_was_typed(desk: Any, browser: Any) -> None:
    stale = _form(name="Old tab")
    services.portal_settings_update(
        actor=desk.admin,
        version=stale["version"],
        enabled=False,
        name="Fresh",
        colour="#000000",
        default_language="en",
        now=NOW,
    )
    response = browser(desk.admin).post("/console/portal/", stale)
    assert response.status_code == 409
    assert b'value="Old tab"' in response.content
    assert PortalSettings.objects.get().name == "Fresh"


@pytest.mark.parametrize(
    ("colour", "ok"), [("#ffcc00", False), ("#777777", False), ("#1f5f99", True), ("#767676", True)]
)
def test_colours_without_aa_contrast_for_white_text_are_refused(
    desk: Any, browser: Any, colour: str, ok: bool
) -> None:
    response = browser(desk.admin).post("/console/portal/", _form(colour=colour))
    assert response.status_code == (302 if ok else 422)
    if not ok:
        assert b"it needs at least 4.5:1" in response.content
        assert PortalSettings.objects.get().colour == "#1f5f99"


def test_a_logo_that_is_not_an_image_or_too_large_is_refused(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    svg = SimpleUploadedFile("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")
    assert client.post("/console/portal/", _form(logo=svg)).status_code == 422
    big = SimpleUploadedFile("logo.png", PNG + b"\x00" * (512 * 1024), "image/png")
    response = client.post("/console/portal/", _form(logo=big))
    assert response.status_code == 422
    assert b"at most 512 KB" in response.content
    assert PortalSettings.objects.get().logo_sha256 == ""


def test_the_brand_css_carries_the_colour_with_an_etag(desk: Any, portal_on: Any) -> None:
    client = Client()
    css = client.get("/portal/brand.css")
    assert css.status_code == 200
    assert css.content == b":root { --brand: #1f5f99; }\n"
    again = client.get("/portal/brand.css", headers={"if-none-match": css["ETag"]})
    assert again.status_code == 304


def test_notifications_link_to_the_portal_only_while_it_is_on(desk: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "PORTAL_URL": "", "PUBLIC_URL": "https://help.shop.test"}
    assert portal_root() == ""
    portal_on(desk.admin, name="Shop", now=NOW)
    assert portal_root() == "https://help.shop.test/portal"
    settings.SPORTELLO = {**settings.SPORTELLO, "PORTAL_URL": "https://portal.shop.test/"}
    assert portal_root() == "https://portal.shop.test"


def test_the_ticket_notification_links_to_the_portal_ticket(
    desk: Any, open_ticket: Any, settings: Any
) -> None:
    from sportello.notifications.context import notification_context

    settings.SPORTELLO = {**settings.SPORTELLO, "PORTAL_URL": "", "PUBLIC_URL": "https://help.shop.test"}
    ticket = open_ticket("Missing pages")
    assert notification_context(ticket=ticket, language="en", now=NOW)["links"]["ticket"] == ""
    portal_on(desk.admin, name="Shop", now=NOW)
    links = notification_context(ticket=ticket, language="en", now=NOW)["links"]
    assert links["ticket"] == f"https://help.shop.test/portal/tickets/{ticket.number}/"


def test_the_language_follows_the_browser_then_the_switch_then_the_contacts_choice(
    desk: Any, customer: Any, portal_on: Any
) -> None:
    anon = Client(headers={"accept-language": "es"})
    assert 'lang="es"' in anon.get("/portal/").content.decode()
    anon.post("/portal/language/", {"language": "it", "next": "/portal/"})
    assert 'lang="it"' in anon.get("/portal/").content.decode()
    client = customer(desk.alice)
    client.post("/portal/language/", {"language": "es", "next": "/portal/tickets/"})
    desk.alice.refresh_from_db()
    assert desk.alice.language == "es"
    # the saved language wins over the browser's
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"
    client.cookies.pop("django_language", None)
    assert 'lang="es"' in client.get("/portal/tickets/").content.decode()


def test_without_any_language_asked_the_portals_default_is_used(desk: Any) -> None:
    row = services.portal_settings_get()
    services.portal_settings_update(
        actor=desk.admin,
        version=row.version,
        enabled=True,
        name="Shop",
        colour="#1f5f99",
        default_language="it",
        now=NOW,
    )
    assert 'lang="it"' in Client().get("/portal/").content.decode()


def test_an_admin_designates_an_organizations_contact(desk: Any, browser: Any) -> None:
    from sportello.portal.models import DesignatedContact

    client = browser(desk.admin)
    page = client.get(f"/console/people/organizations/{desk.acme.pk}/")
    assert b"Designated contacts" in page.content
    assert b"Alice Acme" in page.content
    response = client.post(
        f"/console/people/organizations/{desk.acme.pk}/designated/",
        {"contact": desk.alice.pk, "designated": "1"},
    )
    assert response.status_code == 302
    assert DesignatedContact.objects.filter(contact=desk.alice).exists()
    # a contact of another organization (or none) is 404
    assert (
        client.post(
            f"/console/people/organizations/{desk.acme.pk}/designated/",
            {"contact": desk.bob.pk, "designated": "1"},
        ).status_code
        == 404
    )
    assert not DesignatedContact.objects.filter(contact=desk.bob).exists()


def test_a_department_hidden_from_the_portal_is_not_offered_and_refused_when_posted(
    desk: Any, browser: Any, open_ticket: Any, customer: Any, portal_on: Any
) -> None:
    # given Alice's earlier Electronics request
    earlier = open_ticket("Broken charger", department=desk.electronics)
    # when an admin leaves Electronics unticked on the portal's page
    admin = browser(desk.admin)
    page = admin.get("/console/portal/").content.decode()
    assert f'name="departments" value="{desk.electronics.pk}"' in page
    saved = admin.post("/console/portal/", _form(departments_shown="1", departments=[str(desk.books.pk)]))
    assert saved.status_code == 302
    from sportello.portal.models import HiddenDepartment

    assert list(HiddenDepartment.objects.values_list("department_id", flat=True)) == [desk.electronics.pk]
    latest = ConfigSnapshot.objects.filter(kind="portal", key="1").order_by("-version").first()
    assert latest is not None
    assert latest.definition["hidden_departments"] == ["electronics"]
    assert latest.created_by_id == desk.admin.pk
    # then the form offers Books only (straight to its form: one department left)
    client = customer(desk.alice)
    form = client.get("/portal/requests/new/")
    assert form.status_code == 200
    assert b"To: Books" in form.content
    assert f"department={desk.electronics.pk}".encode() not in form.content
    # a request posted to Electronics anyway is refused with a clear message, nothing created
    refused = client.post(
        "/portal/requests/new/",
        {"department": desk.electronics.pk, "subject": "Another charger", "description": "Broken too"},
    )
    assert refused.status_code == 422
    assert b"This department does not take requests here. Choose another one." in refused.content
    from sportello.tickets.models import Ticket

    assert not Ticket.objects.filter(subject="Another charger").exists()
    with pytest.raises(Exception, match="does not take requests here"):
        services.request_submit(
            contact=desk.alice,
            department_id=desk.electronics.pk,
            subject="Through the service",
            description="x",
            custom_fields={},
            uploads=[],
            now=NOW,
        )
    # the earlier Electronics request stays visible to its requester
    assert client.get(f"/portal/tickets/{earlier.number}/").status_code == 200
    assert b"Broken charger" in client.get("/portal/tickets/").content
    # a save without the boxes leaves the choice as it is; restoring the first version offers it again
    assert admin.post("/console/portal/", _form()).status_code == 302
    assert HiddenDepartment.objects.count() == 1
    from sportello.core.history import version_restore

    version_restore("portal", key="1", version=1, actor=desk.admin, now=NOW)
    assert not HiddenDepartment.objects.exists()
