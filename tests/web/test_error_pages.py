"""Styled 403, 404, 500 and CSRF pages in production (DEBUG off): the Desk look, translated,
a way back; the 500 page needs no database. API paths keep their JSON errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory, override_settings
from django.urls import path

from sportello.urls import urlpatterns as real_urlpatterns


def _boom(request: Any) -> Any:
    raise RuntimeError("the server broke")


def _forbidden(request: Any) -> Any:
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied


# A URL configuration with two failing views in front of the real ones.
urlpatterns = [
    path("boom/", _boom),
    path("forbidden/", _forbidden),
    path("api/v1/boom/", _boom),
    *real_urlpatterns,
]
handler404 = "sportello.core.http.handler404"
handler500 = "sportello.core.http.handler500"

pytestmark = pytest.mark.usefixtures("_production")


@pytest.fixture
def _production(settings: Any) -> None:
    settings.DEBUG = False


def test_a_missing_page_is_the_styled_404_with_a_way_back(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).get("/no/such/page/")
    assert r.status_code == 404
    html = r.content.decode()
    assert "This page does not exist" in html
    assert '<a class="button primary" href="/">Back to the queue</a>' in html
    assert 'href="/search/"' in html
    assert "web/app.css" in html


def test_a_ticket_of_another_department_is_the_styled_404(desk: Any, open_ticket: Any, browser: Any) -> None:
    tv = open_ticket("TV", department=desk.electronics)
    r = browser(desk.agent).get(f"/tickets/{tv.pk}/")
    assert r.status_code == 404
    assert "This page does not exist" in r.content.decode()


def test_the_404_page_is_translated(desk: Any) -> None:
    client = Client()
    client.cookies["django_language"] = "it"
    r = client.get("/no/such/page/")
    assert r.status_code == 404
    html = r.content.decode()
    assert 'lang="it"' in html
    assert "Questa pagina non esiste" in html


def test_api_paths_keep_their_json_404(desk: Any) -> None:
    r = Client().get("/api/v1/no/such/endpoint")
    assert r.status_code == 404
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["error"]["code"] == "not_found"


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_is_the_styled_500_without_a_database_query(
    desk: Any, django_assert_num_queries: Any
) -> None:
    client = Client(raise_request_exception=False)
    r = client.get("/boom/")
    assert r.status_code == 500
    html = r.content.decode()
    assert "Something went wrong on our side" in html
    assert '<a class="button primary" href="/">Back to the queue</a>' in html
    # the page itself reads nothing from the database
    from sportello.core.http import handler500

    request = RequestFactory().get("/boom/")
    with django_assert_num_queries(0):
        response = handler500(request)
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@override_settings(ROOT_URLCONF=__name__)
def test_api_paths_keep_their_json_500(desk: Any) -> None:
    r = Client(raise_request_exception=False).get("/api/v1/boom/")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"


@override_settings(ROOT_URLCONF=__name__)
def test_a_forbidden_page_is_the_styled_403(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).get("/forbidden/")
    assert r.status_code == 403
    assert "You are not allowed to see this page" in r.content.decode()


def test_a_csrf_failure_is_the_styled_403_and_json_under_the_api(desk: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk.agent)
    r = client.post("/logout/")
    assert r.status_code == 403
    html = r.content.decode()
    assert "This form has expired" in html
    assert "Back to the queue" in html
    assert "CSRF" not in html  # the technical reason shows only with DEBUG on
    api = client.post("/api/v1/tickets", data="{}", content_type="application/json")
    assert api.status_code in (401, 403)
    assert api["Content-Type"].startswith("application/json")


def test_the_debug_pages_stay_with_debug_on(desk: Any, settings: Any) -> None:
    settings.DEBUG = True
    r = Client().get("/no/such/page/")
    assert r.status_code == 404
    assert "This page does not exist" not in r.content.decode()
