"""`contacts.services.contact_get_or_create`: the contact of an address, found case-insensitively
in one statement, or created once however many transactions ask for it at the same time."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.contacts import services
from sportello.contacts.models import Contact
from sportello.core.errors import ValidationFailed


def test_a_known_address_in_another_case_is_its_contact_in_one_statement(desk: Any) -> None:
    with CaptureQueriesContext(connection) as ctx:
        found = services.contact_get_or_create(email="ALICE@acme.TEST", name="Someone Else")
    assert (found.pk, found.name) == (desk.alice.pk, "Alice Acme")
    assert len(ctx.captured_queries) == 1


def test_a_new_address_becomes_a_contact_of_its_domains_organization_without_a_savepoint(desk: Any) -> None:
    with CaptureQueriesContext(connection) as ctx:
        made = services.contact_get_or_create(email="Bob@Acme.test", name="Bob", language="it")
    # the look-up, the organization by domain, the insert
    assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["SELECT", "SELECT", "INSERT"]
    stored = Contact.objects.get(pk=made.pk)
    assert (stored.email, stored.name, stored.language, stored.organization_id, stored.time_zone) == (
        "bob@acme.test",
        "Bob",
        "it",
        desk.acme.pk,
        "UTC",
    )
    assert stored.created_at is not None
    assert made.created_at == stored.created_at


def test_an_address_created_meanwhile_by_another_transaction_is_theirs(
    desk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another transaction committed the address between our look-up and our insert
    real = services.contact_by_email
    looked: list[str] = []

    def raced(email: str) -> Contact | None:
        looked.append(email)
        return None if len(looked) == 1 else real(email)

    monkeypatch.setattr(services, "contact_by_email", raced)
    # When we ask for it: the insert does nothing, and theirs is read
    found = services.contact_get_or_create(email="alice@acme.test", name="Other")
    # Then there is still one contact, theirs
    assert found.pk == desk.alice.pk
    assert Contact.objects.filter(email__iexact="alice@acme.test").count() == 1
    assert looked == ["alice@acme.test", "alice@acme.test"]


def test_an_unusable_address_or_name_is_refused_with_the_requester_field(desk: Any) -> None:
    with pytest.raises(ValidationFailed) as bad_email:
        services.contact_get_or_create(email="not an address")
    assert bad_email.value.field == "requester_email"
    with pytest.raises(ValidationFailed) as bad_name:
        services.contact_get_or_create(email="new@x.test", name="x" * 201)
    assert bad_name.value.field == "requester_name"
    assert not Contact.objects.filter(email="new@x.test").exists()
