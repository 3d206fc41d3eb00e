from typing import Any

from django.test import Client


def test_spanish_accept_language_translates_the_queue(desk: Any, open_ticket: Any, browser: Any) -> None:
    open_ticket("Libro roto", priority="urgent")
    html = browser(desk.agent, **{"Accept-Language": "es"}).get("/").content.decode()
    assert '<html lang="es">' in html
    assert "<h1>Todos los no resueltos</h1>" in html
    assert "Sin asignar" in html
    assert "Urgente" in html
    assert "Queue" not in html
    assert "All unresolved" not in html


def test_italian_cookie_translates_the_ticket_page(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Libro rovinato")
    client = browser(desk.agent)
    client.cookies["django_language"] = "it"
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<html lang="it">' in html
    assert "Conversazione" in html
    assert "Nota interna" in html
    assert "ha aperto il ticket" in html


def test_language_switcher_sets_the_language(desk: Any) -> None:
    client = Client()
    r = client.post("/i18n/setlang/", {"language": "es", "next": "/login/"})
    assert r.status_code == 302
    assert r["Location"] == "/login/"
    assert "Iniciar sesión" in client.get("/login/").content.decode()


def test_every_message_is_translated_in_spanish_and_italian() -> None:
    from pathlib import Path

    import sportello

    locale = Path(sportello.__file__).parent / "locale"
    for lang in ("es", "it"):
        po = (locale / lang / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
        entries = [e.strip() for e in po.split("\n\n")[1:] if e.strip()]
        # an entry whose last line is an empty msgstr has no translation
        assert [e for e in entries if e.splitlines()[-1] == 'msgstr ""'] == [], lang
        assert "#, fuzzy" not in po, lang
        assert (locale / lang / "LC_MESSAGES" / "django.mo").exists()


def test_language_switcher_on_a_refused_form_returns_to_the_ticket(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Libro")
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": ""})
    assert r.status_code == 422
    assert f'name="next" value="/tickets/{ticket.pk}/"' in r.content.decode()


def test_signing_in_switches_to_the_agents_own_language(desk: Any) -> None:
    # given an admin who works in Italian
    desk.admin.language = "it"
    desk.admin.save(update_fields=["language"])
    client = Client()
    # when they sign in from a browser that has not picked a language
    r = client.post("/login/", {"username": "admin@desk.test", "password": "pw-admin-123"})
    # then the interface speaks Italian from the first page
    assert r.cookies["django_language"].value == "it"
    assert 'lang="it"' in client.get("/").content.decode()


def test_a_language_picked_in_the_browser_wins_over_the_agents_setting(desk: Any) -> None:
    desk.admin.language = "it"
    desk.admin.save(update_fields=["language"])
    client = Client()
    client.cookies["django_language"] = "es"
    r = client.post("/login/", {"username": "admin@desk.test", "password": "pw-admin-123"})
    assert "django_language" not in r.cookies
    assert 'lang="es"' in client.get("/").content.decode()
