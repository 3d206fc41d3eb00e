"""Shared fixtures: a small desk (departments, agents of every role, contacts) built through
the services, and API clients authenticated as each role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from hypothesis import settings as hypothesis_settings

from testing import NOW, Desk, build_desk


def _with_django(request: pytest.FixtureRequest) -> bool:
    """Whether Django is in this run: `tests/engine` and `tests/mail` also run without it
    (`pytest -p no:django tests/engine tests/mail`), as the pure packages they test do."""
    return bool(request.config.pluginmanager.hasplugin("django"))


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> None:
    """Tests create many agents with passwords; the production hasher is slow by design."""
    if _with_django(request):
        settings = request.getfixturevalue("settings")
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language(request: pytest.FixtureRequest) -> Any:
    """Each test starts in the desk's default language: a request through the test client leaves
    its language active on the thread (a web server activates each request's own)."""
    yield
    if _with_django(request):
        from django.utils import translation

        translation.deactivate()


@pytest.fixture(autouse=True)
def _no_api_rate_limit(request: pytest.FixtureRequest) -> None:
    """The API rate limit is off except in the tests of it (tests/core/test_ratelimit.py)."""
    if _with_django(request):
        settings = request.getfixturevalue("settings")
        settings.SPORTELLO = {**settings.SPORTELLO, "API_RATE_LIMIT": 0}


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def desk(db: Any) -> Desk:
    return build_desk()


@pytest.fixture
def token_for(desk: Any) -> Callable[[Any], str]:
    from sportello.accounts.services import token_create

    def make(user: Any) -> str:
        return token_create(user=user, name="test", now=NOW)[1]

    return make


class ApiClient:
    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, data: Any = None, **kw: Any) -> Any:
        fn = getattr(self.client, method)
        if data is not None and method in ("post", "patch", "put"):
            kw.setdefault("content_type", "application/json")
        return fn(f"/api/v1{path}", data=data, headers=self.headers, **kw)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(f"/api/v1{path}", data=params or {}, headers=self.headers)

    def post(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self._call("post", path, data, **kw)

    def patch(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self._call("patch", path, data, **kw)

    def put(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self._call("put", path, data, **kw)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self.headers)


@pytest.fixture
def api(token_for: Callable[[Any], str]) -> Callable[[Any], ApiClient]:
    def make(user: Any) -> ApiClient:
        return ApiClient(token_for(user) if user is not None else None)

    return make


@pytest.fixture
def as_role(desk: Any, api: Callable[[Any], ApiClient]) -> Callable[[str], ApiClient]:
    """A client for a role: the desk's admin, Books agent, Books light agent, Electronics agent
    ("outsider"), no token ("anonymous"), or the Books agent with a revoked token."""

    def make(role: str) -> ApiClient:
        if role == "anonymous":
            return api(None)
        if role == "revoked":
            client = api(desk.agent)
            token_id = client.get("/tokens").json()["items"][0]["id"]
            assert client.delete(f"/tokens/{token_id}").status_code == 204
            return client
        return api(getattr(desk, role))

    return make


@pytest.fixture(autouse=True)
def _fresh_config_cache(request: pytest.FixtureRequest) -> None:
    """Parsed configuration (rules, blueprints, policies, calendars, tier paths, templates) is
    cached per process; tests roll back and reuse ids."""
    if not _with_django(request):
        return
    from sportello.core.config import forget_all

    forget_all()


@pytest.fixture
def sink(settings: Any) -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1, with Django's default mailer pointed at it
    (tests/smtp_sink.py)."""
    from smtp_sink import mailers_for, running_sink

    with running_sink() as s:
        settings.MAILERS = mailers_for(s.port)
        yield s


@pytest.fixture(scope="session")
def corpora() -> Any:
    """The offline real-world mail corpora (tests/corpora.py, downloaded once per machine);
    families that could not be downloaded are listed as missing and the tests needing them
    skip."""
    from corpora import load_corpora

    return load_corpora()


# Property tests run on shared CI machines: time per example varies with the load, so examples
# have no deadline (the counts of examples stay as each test sets them).
hypothesis_settings.register_profile("sportello", deadline=None)
hypothesis_settings.load_profile("sportello")


# The agent UI's tests (tests/web, tests/queues, tests/browser): tickets opened through the
# service, browsers (Django's test client) signed in per role, the departments' layouts of custom
# fields, and attachment storage in the test's own directory.


@pytest.fixture
def open_ticket(desk: Any, now: datetime) -> Callable[..., Any]:
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_open

    def make(
        subject: str,
        *,
        department: Any = None,
        priority: str = "normal",
        minutes_ago: int = 0,
        by: Any = None,
        **data: Any,
    ) -> Any:
        outcome = ticket_open(
            principal=by or desk.admin,
            via=Via.WEB,
            data={
                "subject": subject,
                "description": data.pop("description", f"About: {subject}"),
                "department_id": (department or desk.books).pk,
                "requester_id": data.pop("requester", desk.alice).pk,
                "priority": priority,
                **data,
            },
            now=now - timedelta(minutes=minutes_ago),
        )
        return outcome.ticket

    return make


@pytest.fixture
def browser() -> Callable[..., Client]:
    def make(user: Any, **headers: Any) -> Client:
        client = Client(headers=headers)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def layouts(desk: Any) -> None:
    """Books and Electronics as in the demo: an order number, and a subcategory (labelled
    options, each department allowing its own) required to solve; Books also asks whether the
    order was gift wrapped, Electronics for a product code."""
    from sportello.tickets.fields_services import (
        FieldOption,
        LayoutRowSpec,
        custom_field_create,
        layout_replace,
    )

    custom_field_create(actor=None, key="order_number", label="Order number", type="text")
    custom_field_create(
        actor=None,
        key="subcategory",
        label="Subcategory",
        type="picklist",
        options=[
            FieldOption("novels", "Novels"),
            FieldOption("childrens_books", "Children's books"),
            FieldOption("phones", "Phones"),
            FieldOption("televisions", "Televisions"),
        ],
    )
    custom_field_create(actor=None, key="gift", label="Gift wrapped", type="boolean")
    custom_field_create(actor=None, key="product_code", label="Product code", type="text")
    layout_replace(
        actor=None,
        department=desk.books,
        rows=[
            LayoutRowSpec("order_number"),
            LayoutRowSpec("subcategory", required="to_solve", allowed_values=["novels", "childrens_books"]),
            LayoutRowSpec("gift"),
        ],
    )
    layout_replace(
        actor=None,
        department=desk.electronics,
        rows=[
            LayoutRowSpec("order_number"),
            LayoutRowSpec("subcategory", required="to_solve", allowed_values=["phones", "televisions"]),
            LayoutRowSpec("product_code"),
        ],
    )


@pytest.fixture
def attachment_store(settings: Any, tmp_path: Path) -> Path:
    """Attachments (and raw mail) stored in the test's own directory."""
    root = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root
