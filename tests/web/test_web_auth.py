from typing import Any

from django.test import Client


def test_login_with_email_and_password_lands_on_the_queue(desk: Any) -> None:
    # given the admin's credentials, with the e-mail typed in another case
    client = Client()
    # when they sign in
    r = client.post("/login/", {"username": "ADMIN@desk.test", "password": "pw-admin-123"})
    # then they are sent to the queue and are signed in
    assert r.status_code == 302
    assert r["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_with_an_inline_error(desk: Any) -> None:
    client = Client()
    r = client.post("/login/", {"username": "admin@desk.test", "password": "wrong"})
    assert r.status_code == 200
    assert "That email and password do not match an active account." in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_need_a_signed_in_agent(desk: Any, open_ticket: Any) -> None:
    ticket = open_ticket("Where is my order?")
    client = Client()
    assert client.get("/")["Location"] == "/login/?next=/"
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 302
    r = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "x"})
    assert r.status_code == 302


def test_htmx_request_from_an_expired_session_redirects_the_whole_page(desk: Any) -> None:
    r = Client().get("/?tag=x", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/"})
    assert r.status_code == 200
    assert r["HX-Redirect"] == "/login/?next=/"


def test_logout_is_a_post_and_ends_the_session(desk: Any, browser: Any) -> None:
    client = browser(desk.agent)
    r = client.post("/logout/")
    assert r.status_code == 302
    assert r["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_forms_carry_csrf_protection(desk: Any) -> None:
    # given a browser that enforces CSRF checks, like a real one
    client = Client(enforce_csrf_checks=True)
    # when the login form is posted without the token, it is refused
    r = client.post("/login/", {"username": "admin@desk.test", "password": "pw-admin-123"})
    assert r.status_code == 403
    # and the login page embeds the token for HTMX requests and for the form
    page = client.get("/login/").content.decode()
    assert "X-CSRFToken" in page
    assert 'name="csrfmiddlewaretoken"' in page
