"""A new contact's language, when whoever creates them says none: the desk's default language
(`LANGUAGE_CODE`), whether through the API, the Console's contact form, a contacts import or the
portal's request form; a language given (an import's column, the portal page's language) wins."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.contacts.models import Contact
from sportello.contacts.transfer import ImportRow, contact_import_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def italian_desk(settings: Any) -> None:
    settings.LANGUAGE_CODE = "it"


def test_the_api_creates_a_contact_in_the_desks_default_language(
    desk: Any, api: Any, italian_desk: None
) -> None:
    created = api(desk.agent).post("/contacts", {"email": "nuovo@posta.test", "name": "Nuovo"})
    assert created.status_code == 201
    assert created.json()["language"] == "it"
    declared = api(desk.agent).post("/contacts", {"email": "nueva@correo.test", "language": "es"})
    assert declared.json()["language"] == "es"


def test_the_consoles_contact_form_creates_a_contact_in_the_desks_default_language(
    desk: Any, browser: Any, italian_desk: None
) -> None:
    response = browser(desk.admin).post(
        "/console/people/contacts/new/", {"name": "Nuova", "email": "nuova@posta.test", "phone": ""}
    )
    assert response.status_code == 302
    assert Contact.objects.get(email="nuova@posta.test").language == "it"


def test_an_import_row_without_a_language_gets_the_desks_default(desk: Any, italian_desk: None) -> None:
    contact_import_row(
        row=ImportRow(line=2, email="riga@posta.test", name="Riga"), actor=desk.admin, organizations={}
    )
    contact_import_row(
        row=ImportRow(line=3, email="fila@correo.test", name="Fila", language="es"),
        actor=desk.admin,
        organizations={},
    )
    assert Contact.objects.get(email="riga@posta.test").language == "it"
    assert Contact.objects.get(email="fila@correo.test").language == "es"


def test_the_portal_creates_a_new_customer_in_the_pages_language(desk: Any, italian_desk: None) -> None:
    Client(headers={"accept-language": "es"}).post(
        "/portal/requests/new/",
        {
            "department": desk.books.pk,
            "name": "Lucía",
            "email": "lucia@correo.test",
            "subject": "Libro roto",
            "description": "La portada está rota.",
        },
    )
    assert Contact.objects.get(email="lucia@correo.test").language == "es"
