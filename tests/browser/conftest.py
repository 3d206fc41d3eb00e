"""Browser journeys: Playwright drives Debian's Chromium against a live server on the test
database. Each test signs in as a person would and clicks through a journey.

Fixtures:
- `desk`, `open_ticket`, `layouts`, `attachment_store` (from tests/conftest.py) on a
  transactional database, so the server thread sees them on both databases;
- `now`: the real clock's instant when the test starts (the live server reads the real clock),
  so `open_ticket` opens tickets now;
- `page`: a fresh Chromium page at 1440 by 900 (`phone_page`: 390 by 844); `another_page()`: one
  more, in a context of its own (another person signed in at the same time), closed after the test;
- `sign_in(page, user)`: signs in through the login form and waits for the queue;
- `url(path)`: the live server's address for a path;
- `assert_accessible(page)` (tests/browser/axe.py): zero axe-core violations.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

CHROMIUM = os.environ.get("SPORTELLO_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # One worker runs the browser journeys: two Chromiums on two cores would starve each other.
    if not items or not items[0].config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="module")
def _chromium() -> Iterator[Any]:
    """One Chromium per test module. Playwright's sync API keeps an event loop running in this
    thread while it is open, which Django's ORM takes for async code: the guard is lifted for as
    long as the browser is open, and only then (the test's database calls are synchronous)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: Any
) -> None:
    """On SQLite the journeys' test database is a file, not memory: the live server's threads
    then have connections of their own (an in-memory database shares one connection between the
    test and the server's threads, which SQLite does not allow at once: the pages poll). `make
    test` runs the journeys in a process of their own, so this applies to them."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("browser-db") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _browser_db(transactional_db: Any) -> Iterator[None]:
    """The live server runs in another thread: data must be committed for it to see. A
    transactional test's flush empties every table Django knows, the rows the migrations seed too
    (the statuses): they are seeded again before each journey. The knowledge base's full-text
    rows (tables of its own) are emptied after each journey, before that flush."""
    import importlib

    from django.apps import apps

    from sportello.kb import search

    importlib.import_module("sportello.tickets.migrations.0002_default_statuses").create_defaults(apps, None)
    yield
    search.forget(orphans_only=False)


@pytest.fixture
def now() -> datetime:
    """The live server reads the real clock: what a journey sets up happens now."""
    from sportello.core import clock

    return clock.now()


@pytest.fixture
def url(live_server: Any) -> Callable[[str], str]:
    return lambda path: f"{live_server.url}{path}"


def _new_page(browser: Any, *, width: int, height: int) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


@pytest.fixture
def page(_chromium: Any) -> Iterator[Any]:
    context, page = _new_page(_chromium, width=1440, height=900)
    yield page
    context.close()


@pytest.fixture
def phone_page(_chromium: Any) -> Iterator[Any]:
    context, page = _new_page(_chromium, width=390, height=844)
    yield page
    context.close()


@pytest.fixture
def another_page(_chromium: Any) -> Iterator[Callable[[], Any]]:
    contexts: list[Any] = []

    def make() -> Any:
        context, page = _new_page(_chromium, width=1440, height=900)
        contexts.append(context)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in(url: Callable[[str], str]) -> Callable[[Any, Any], Any]:
    """Signs `user` in through the login form (their password is set to PASSWORD first)."""

    def go(page: Any, user: Any) -> Any:
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        page.goto(url("/login/"))
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda u: "/login/" not in u)
        return page

    return go
