"""The Console's "Export and import" page: admins download the whole configuration as YAML, and
import one in two steps — a preview (the dry run's every change; nothing kept), then the import
of exactly what was previewed. A desk changed between the two is previewed again instead of
imported; a refused document says why, where, and keeps what was typed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sportello.accounts.models import Department, Team
from sportello.accounts.services import department_create
from sportello.console import desk_config

PAGE = "/console/config/"
NEW_DESK = f"""schema: {desk_config.SCHEMA}
departments:
- slug: games
  name: Games
  description: Video games
- slug: books
  name: Books and comics
teams:
- slug: consoles
  name: Consoles
  department: games
"""


def fingerprint(html: str) -> str:
    found = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', html)
    assert found, "no import form"
    return found.group(1)


def test_an_admin_downloads_the_whole_configuration(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).get("/console/config/export.yaml")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/yaml; charset=utf-8"
    assert r["Content-Disposition"].startswith('attachment; filename="sportello-config-')
    assert r["Cache-Control"] == "no-store"
    data = desk_config.load_config_text(r.content.decode())
    assert data == desk_config.config_export()
    assert [d["slug"] for d in data["departments"]] == ["books", "electronics"]


def test_the_page_shows_what_the_desk_has(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).get(PAGE)
    assert r.status_code == 200
    assert dict((str(label), n) for label, n in r.context["sections"])["Departments"] == 2
    html = r.content.decode()
    assert 'href="/console/config/export.yaml"' in html
    assert '<a href="/console/config/" aria-current="page">Export and import</a>' in html


def test_a_pasted_document_is_previewed_then_imported_as_previewed(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    # when the admin pastes a document and asks for the preview
    r = client.post(PAGE, {"step": "preview", "document": NEW_DESK})
    # then every change is listed, and nothing is kept yet
    assert r.status_code == 200
    rows = [(str(p["section"]), p["key"], p["outcome"]) for p in r.context["preview"]]
    assert rows == [
        ("Departments", "books", "changed"),
        ("Departments", "games", "created"),
        ("Teams", "consoles", "created"),
    ]
    html = r.content.decode()
    assert "Books</del>" in html
    assert "Books and comics</ins>" in html
    assert r.context["counts"] == {"created": 2, "changed": 1, "unchanged": 0}
    assert not Department.objects.filter(slug="games").exists()
    assert Department.objects.get(slug="books").name == "Books"
    # when they import it
    r = client.post(PAGE, {"step": "import", "document": NEW_DESK, "fingerprint": fingerprint(html)})
    # then it is done, and said so
    assert r.status_code == 302
    assert r["Location"] == PAGE
    assert Department.objects.get(slug="games").description == "Video games"
    assert Department.objects.get(slug="books").name == "Books and comics"
    assert Team.objects.get(slug="consoles").department.slug == "games"
    page = client.get(PAGE).content.decode()
    assert "Configuration imported: 2 items created, 1 changed, 0 unchanged." in page
    # and previewing it again shows there is nothing left to import
    r = client.post(PAGE, {"step": "preview", "document": NEW_DESK})
    assert r.context["preview"] == []
    assert "Nothing to import: the desk already has this configuration." in r.content.decode()
    assert 'name="fingerprint"' not in r.content.decode()


def test_an_uploaded_file_is_previewed(desk: Any, browser: Any) -> None:
    upload = SimpleUploadedFile("desk.yaml", NEW_DESK.encode(), content_type="application/yaml")
    r = browser(desk.admin).post(PAGE, {"step": "preview", "file": upload})
    assert r.status_code == 200
    assert len(r.context["preview"]) == 3
    # the document travels with the import form
    assert "slug: consoles" in r.content.decode()


def test_a_desk_changed_since_the_preview_is_previewed_again(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post(PAGE, {"step": "preview", "document": NEW_DESK})
    seen = fingerprint(r.content.decode())
    # another admin creates the Games department meanwhile
    department_create(name="Games", slug="games", description="Made elsewhere")
    r = client.post(PAGE, {"step": "import", "document": NEW_DESK, "fingerprint": seen})
    # nothing imported; the preview shows what the import would do now
    assert r.status_code == 200
    assert r.context["stale"] is True
    assert "changed since your preview" in r.content.decode()
    assert Department.objects.get(slug="books").name == "Books"
    rows = {(p["key"], p["outcome"]) for p in r.context["preview"]}
    assert ("games", "changed") in rows
    assert fingerprint(r.content.decode()) != seen


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("schema: [", "invalid YAML at line 1"),
        ("departments: []", "schema: the document must start with `schema: sportello/config/v1`"),
        (
            f"schema: {desk_config.SCHEMA}\nteams:\n- slug: x\n  name: X\n  department: nope\n",
            "teams[0].department",
        ),
    ],
)
def test_a_refused_document_says_why_and_keeps_the_text(
    desk: Any, browser: Any, document: str, error: str
) -> None:
    r = browser(desk.admin).post(PAGE, {"step": "preview", "document": document})
    assert r.status_code == 422
    html = r.content.decode()
    assert "Nothing was imported." in html
    assert error.replace("`", "&#x60;") in html or error in html
    assert r.context["form"]["document"].value() == document
    assert not Team.objects.filter(slug="x").exists()


def test_an_empty_form_is_refused(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(PAGE, {"step": "preview", "document": "  "})
    assert r.status_code == 422
    assert "Choose a file, or paste a document." in r.content.decode()
    upload = SimpleUploadedFile("desk.yaml", b"\xff\xfe\x00bad", content_type="application/yaml")
    r = browser(desk.admin).post(PAGE, {"step": "preview", "file": upload})
    assert r.status_code == 422
    assert "The file is not UTF-8 text." in r.content.decode()


@pytest.mark.parametrize("role", ["agent", "light"])
def test_only_admins_use_the_page(desk: Any, browser: Any, role: str) -> None:
    client = browser(getattr(desk, role))
    assert client.get(PAGE).status_code == 403
    assert client.get("/console/config/export.yaml").status_code == 403
    r = client.post(PAGE, {"step": "import", "document": NEW_DESK, "fingerprint": "x"})
    assert r.status_code == 403
    assert not Department.objects.filter(slug="games").exists()
    assert Client().get(PAGE)["Location"] == f"/login/?next={PAGE}"


def _count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len([q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))])


def test_the_page_costs_a_fixed_number_of_statements(desk: Any, browser: Any, layouts: Any, now: Any) -> None:
    from workflow_setup import sla_policy

    client = browser(desk.admin)
    few = _count(lambda: client.get(PAGE))
    for i in range(6):
        department_create(name=f"Extra {i}")
    sla_policy(desk, now)
    many = _count(lambda: client.get(PAGE))
    assert few == many == CONFIG_PAGE


# session, user; the export (19): departments, statuses, agents + their departments, teams + their
# members, fields, layouts, calendars (heads, versions, departments), SLA policies, tier paths,
# rules, macros, assignment policies, blueprints, the records rules and blueprints name
# (departments, teams, agents), templates, canned responses
CONFIG_PAGE = 21
