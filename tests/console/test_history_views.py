"""History everywhere in the Console, for every configuration kind: a thing's versions newest
first with who saved each, the difference between any two (changes by path, both definitions as
YAML side by side), restoring an earlier version through a confirmation (a new version equal to
it; nothing written when it applies already; a save made meanwhile asks again), and the admin
audit log of every change across kinds, filtered by kind and by agent, a page at a time. Admins
only."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from core.test_versioning import KINDS, Kind, save
from sportello.console.history import side_by_side
from sportello.console.kinds import kind_choices, kind_label, kind_plural
from sportello.core.versioning import config_kind, config_kinds, version_list
from testing import NOW, hand_clock

IDS = [k.name for k in KINDS]


def key_of(kind: Kind) -> str:
    """The thing's key as the history pages take it (a template's is `key/language`)."""
    parts = kind.path.split("/")
    return "/".join(parts[2:])


def url(kind: Kind, suffix: str = "") -> str:
    return f"/console/history/{kind.name}/{key_of(kind)}/{suffix}"


@pytest.fixture
def admin_api(desk: Any, api: Any, monkeypatch: Any) -> Any:
    hand_clock(monkeypatch, NOW)
    return api(desk.admin)


def three_versions(admin_api: Any, kind: Kind, desk: Any) -> None:
    save(admin_api, kind, desk, 1, create=True)
    save(admin_api, kind, desk, 2)
    save(admin_api, kind, desk, 3)


def test_every_registered_kind_has_a_label_singular_and_plural() -> None:
    import sportello.urls  # noqa: F401  (the kinds register as their apps' modules load, as a request does)

    with translation.override("en"):
        assert set(config_kinds()) == set(IDS)
        for name in config_kinds():
            assert kind_label(name)
            assert kind_plural(name) != kind_label(name)
            assert "_" not in kind_label(name) + kind_plural(name)
        assert kind_label("sla_policies") == "SLA policy"
        assert kind_plural("notification_templates") == "Notification templates"
        assert [c[1] for c in kind_choices()] == sorted(c[1] for c in kind_choices())
    with translation.override("it"):
        assert (kind_label("calendars"), kind_plural("rules")) == ("Calendario lavorativo", "Regole")


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_history_lists_every_version_newest_first_with_who_and_the_current_one(
    desk: Any, admin_api: Any, browser: Any, kind: Kind
) -> None:
    three_versions(admin_api, kind, desk)
    r = browser(desk.admin).get(url(kind))
    assert r.status_code == 200
    history = r.context["history"]
    assert [v.version for v in history.versions] == [3, 2, 1]
    assert history.current == 3
    assert {v.author_name for v in history.versions} == {desk.admin.name}
    html = r.content.decode()
    assert kind_label(kind.name) in html
    assert re.findall(r'id="version-(\d+)"', html) == ["3", "2", "1"]
    assert 'id="version-3" class="history-current"' in html
    # restore is offered on the old versions only
    assert f'href="{url(kind, "restore/2/")}"' in html
    assert f'href="{url(kind, "restore/1/")}"' in html
    assert f'href="{url(kind, "restore/3/")}"' not in html
    # the two newest are picked to compare
    assert (r.context["pick_a"], r.context["pick_b"]) == (2, 3)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_diff_lists_the_changes_and_both_definitions(
    desk: Any, admin_api: Any, browser: Any, kind: Kind
) -> None:
    three_versions(admin_api, kind, desk)
    r = browser(desk.admin).get(url(kind, "diff/") + "?a=1&b=3")
    assert r.status_code == 200
    changes = r.context["changes"]
    assert {"path": kind.field, "change": "changed", "label": "Changed", "old": kind.value(1),
            "new": kind.value(3)} in changes  # fmt: skip
    html = r.content.decode()
    assert "From version 1 to version 3" in html
    lines = r.context["lines"]
    assert any(line.change == "changed" and str(kind.value(3)) in line.new for line in lines)
    assert 'class="history-line-changed"' in html


def test_the_diff_tells_added_removed_and_changed_apart_in_words_and_signs() -> None:
    rows = side_by_side({"a": 1, "b": [1, 2], "c": "x"}, {"a": 2, "b": [1], "d": "y"})
    assert [(r.old_no, r.old, r.new_no, r.new, r.change) for r in rows] == [
        (1, "a: 1", 1, "a: 2", "changed"),
        (2, "b:", 2, "b:", "same"),
        (3, "- 1", 3, "- 1", "same"),
        (4, "- 2", 4, "d: y", "changed"),
        (5, "c: x", None, "", "removed"),
    ]
    added = side_by_side({}, {"k": "v"})
    assert [(r.old_no, r.new, r.change) for r in added] == [(1, "k: v", "changed")]
    assert [(r.old, r.new_no, r.change) for r in side_by_side({"a": 1}, {"a": 1, "b": 2})] == [
        ("a: 1", 1, "same"),
        ("", 2, "added"),
    ]


def test_the_diff_page_shows_added_and_removed_paths(desk: Any, browser: Any, now: Any) -> None:
    from sportello.automation.services import RuleKind, rule_save

    base = {"key": "vip", "name": "VIP",
            "when": {"field": "ticket.subject", "op": "contains", "value": "vip"},
            "actions": [{"add_tags": ["vip"]}]}  # fmt: skip
    rule_save(kind=RuleKind.EVENT, definition=base, created_by=desk.admin, now=now, create=True)
    more = {**base, "actions": [{"add_tags": ["vip"]}, {"add_tags": ["important"]}]}
    rule_save(kind=RuleKind.EVENT, definition=more, created_by=desk.agent, now=now)
    html = browser(desk.admin).get("/console/history/rules/vip/diff/?a=1&b=2").content.decode()
    assert "<code>actions[1]</code>" in html
    assert re.search(r"history-mark-added\">.*?Added", html)
    r = browser(desk.admin).get("/console/history/rules/vip/diff/?a=2&b=1")
    assert {(c["path"], c["change"]) for c in r.context["changes"]} >= {("actions[1]", "removed")}
    assert "Removed" in r.content.decode()
    # who saved each is named
    assert desk.agent.name in r.content.decode()


@pytest.mark.parametrize("query", ["", "?a=1", "?a=x&b=2", "?a=2&b=2"])
def test_two_versions_not_picked_show_the_history_with_an_error(
    desk: Any, admin_api: Any, browser: Any, query: str
) -> None:
    three_versions(admin_api, KINDS[0], desk)
    r = browser(desk.admin).get(url(KINDS[0], "diff/") + query)
    assert r.status_code == 400
    html = r.content.decode()
    assert "Pick two different versions to compare." in html
    assert 'role="alert"' in html
    if query == "?a=2&b=2":  # what was picked is kept
        assert (r.context["pick_a"], r.context["pick_b"]) == (2, 2)


@pytest.mark.parametrize(
    "path",
    [
        "/console/history/nothing/k/",
        "/console/history/rules/missing/",
        "/console/history/rules/k/diff/?a=1&b=9",
        "/console/history/rules/k/diff/?a=1&b=99999999999999999999",
        "/console/history/rules/k/restore/9/",
        "/console/history/notification_templates/ticket_received/it/",
    ],
)
def test_unknown_kinds_things_and_versions_are_404(
    desk: Any, admin_api: Any, browser: Any, path: str
) -> None:
    three_versions(admin_api, KINDS[0], desk)
    assert browser(desk.admin).get(path).status_code == 404


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_restoring_a_version_saves_it_again_as_a_new_one(
    desk: Any, admin_api: Any, browser: Any, kind: Kind
) -> None:
    three_versions(admin_api, kind, desk)
    client = browser(desk.admin)
    # the confirmation shows what restoring version 1 changes from the current one
    page = client.get(url(kind, "restore/1/"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Restore version 1 of" in html
    assert 'name="current" value="3"' in html
    assert {(c["path"], c["old"], c["new"]) for c in page.context["changes"]} >= {
        (kind.field, kind.value(3), kind.value(1))
    }
    # confirmed: version 4 equal to version 1, saved by the admin
    r = client.post(url(kind, "restore/1/"), {"current": "3"})
    assert r.status_code == 302
    assert r["Location"] == url(kind)
    versions = version_list(config_kind(kind.name), key=key_of(kind))
    assert [v.version for v in versions] == [4, 3, 2, 1]
    assert versions[0].definition == versions[-1].definition
    assert versions[0].created_by_id == desk.admin.pk
    listed = client.get(r["Location"]).content.decode()
    assert "Version 1 restored: it is now version 4." in listed
    # restoring it again writes nothing, and says so
    again = client.post(url(kind, "restore/1/"), {"current": "4"})
    assert again.status_code == 302
    assert len(version_list(config_kind(kind.name), key=key_of(kind))) == 4
    assert "Version 1 is already what applies: nothing was saved." in client.get(url(kind)).content.decode()


def test_the_current_version_has_nothing_to_restore(desk: Any, admin_api: Any, browser: Any) -> None:
    three_versions(admin_api, KINDS[0], desk)
    html = browser(desk.admin).get(url(KINDS[0], "restore/3/")).content.decode()
    assert "Version 3 is the current version" in html
    assert "<form" not in html.split('class="console-main"')[1]


def test_a_version_saved_meanwhile_asks_to_confirm_again(desk: Any, admin_api: Any, browser: Any) -> None:
    kind = KINDS[0]
    three_versions(admin_api, kind, desk)
    client = browser(desk.admin)
    # the admin was shown version 3 as current; someone saves version 4 meanwhile
    save(admin_api, kind, desk, 4)
    r = client.post(url(kind, "restore/1/"), {"current": "3"})
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone saved version 4 while you were looking" in html
    assert 'name="current" value="4"' in html
    assert len(version_list(config_kind(kind.name), key=key_of(kind))) == 4
    # confirming again restores it
    assert client.post(url(kind, "restore/1/"), {"current": "4"}).status_code == 302
    assert version_list(config_kind(kind.name), key=key_of(kind))[0].version == 5


def test_a_version_saved_meanwhile_equal_to_the_restored_one_is_no_conflict(
    desk: Any, admin_api: Any, browser: Any
) -> None:
    kind = KINDS[0]
    three_versions(admin_api, kind, desk)
    client = browser(desk.admin)
    assert client.post(url(kind, "restore/1/"), {"current": "3"}).status_code == 302
    # a second confirmation of the same page, sent after the first one wrote version 4
    r = client.post(url(kind, "restore/1/"), {"current": "3"})
    assert r.status_code == 302
    assert len(version_list(config_kind(kind.name), key=key_of(kind))) == 4


def test_a_version_that_can_no_longer_be_saved_is_refused_with_the_reason(
    desk: Any, admin_api: Any, browser: Any, monkeypatch: Any
) -> None:
    from sportello.core import history
    from sportello.core.errors import ValidationFailed

    three_versions(admin_api, KINDS[0], desk)

    def refused(*args: Any, **kwargs: Any) -> Any:  # the kind's own save finds it invalid now
        raise ValidationFailed("no team with id 7", field="actions[0].team")

    monkeypatch.setattr(history, "version_revert", refused)
    r = browser(desk.admin).post(url(KINDS[0], "restore/1/"), {"current": "3"})
    assert r.status_code == 422
    html = r.content.decode()
    assert "It can no longer be saved as it was: no team with id 7" in html
    assert 'name="current" value="3"' in html  # the confirmation again, to go back from
    assert len(version_list("rules", key="k")) == 3


# -- the audit log ---------------------------------------------------------------------------------


def test_the_audit_log_lists_every_change_across_kinds_newest_first(
    desk: Any, browser: Any, api: Any, monkeypatch: Any
) -> None:
    clock = hand_clock(monkeypatch, NOW)
    client = api(desk.admin)
    for i, kind in enumerate(KINDS):
        clock.at = NOW + timedelta(minutes=i)
        save(client, kind, desk, 1, create=True)
    clock.at = NOW + timedelta(minutes=30)
    save(client, KINDS[1], desk, 2)
    r = browser(desk.admin).get("/console/audit/")
    assert r.status_code == 200
    changes = r.context["changes"]
    assert [(c.kind_name, c.version) for c in changes] == [("macros", 2)] + [
        (k.name, 1) for k in reversed(KINDS)
    ]
    html = r.content.decode()
    assert "Notification template" in html
    assert "ticket_received/en" in html
    assert f'href="{url(KINDS[1], "diff/")}?a=1&amp;b=2"' in html
    assert f'href="{url(KINDS[1])}"' in html
    assert all(c.author_name == desk.admin.name for c in changes)


def test_the_audit_log_filters_by_kind_and_by_agent(desk: Any, browser: Any, now: Any) -> None:
    from sportello.automation.macros import macro_create
    from sportello.automation.services import RuleKind, rule_save

    rule = {"key": "r", "name": "R", "when": {"field": "ticket.subject", "op": "contains",
            "value": "q"}, "actions": [{"add_tags": ["q"]}]}  # fmt: skip
    rule_save(kind=RuleKind.EVENT, definition=rule, created_by=desk.admin, now=now, create=True)
    macro = {"key": "m", "name": "Mine", "visibility": {"scope": "personal", "ids": [desk.agent.pk]},
             "actions": [{"note": {"body": "x"}}]}  # fmt: skip
    macro_create(definition=macro, actor=desk.agent, now=now)
    client = browser(desk.admin)
    by_kind = client.get("/console/audit/?kind=macros").context["changes"]
    assert [(c.kind_name, c.key) for c in by_kind] == [("macros", "m")]
    by_agent = client.get(f"/console/audit/?agent={desk.admin.pk}").context["changes"]
    assert [(c.kind_name, c.key) for c in by_agent] == [("rules", "r")]
    nothing = client.get(f"/console/audit/?kind=rules&agent={desk.agent.pk}")
    assert nothing.context["changes"] == []
    assert "No changes match these filters." in nothing.content.decode()
    # an unknown kind is no filter
    assert len(client.get("/console/audit/?kind=bogus&agent=x").context["changes"]) == 2


def test_an_empty_audit_log_says_what_will_appear(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/audit/").content.decode()
    assert "No configuration has been saved yet." in html


def test_the_audit_log_pages_with_a_cursor(desk: Any, browser: Any, now: Any, monkeypatch: Any) -> None:
    from sportello.automation.services import RuleKind, rule_save
    from sportello.console import history

    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    for i in range(5):
        rule = {"key": f"r{i}", "name": f"R{i}", "when": {"field": "ticket.subject",
                "op": "contains", "value": "q"}, "actions": [{"add_tags": ["q"]}]}  # fmt: skip
        # two rules saved at the same instant: the order still holds across pages
        at = now + timedelta(minutes=i // 2)
        rule_save(kind=RuleKind.EVENT, definition=rule, created_by=desk.admin, now=at, create=True)
    client = browser(desk.admin)
    seen: list[str] = []
    page = client.get("/console/audit/")
    while True:
        seen += [c.key for c in page.context["changes"]]
        if not page.context["next_url"]:
            break
        page = client.get(page.context["next_url"])
    assert seen == ["r4", "r3", "r2", "r1", "r0"]
    assert client.get("/console/audit/?cursor=nonsense").status_code == 400


# -- who may --------------------------------------------------------------------------------------


PAGES = ["/console/audit/", "/console/history/rules/k/", "/console/history/rules/k/diff/?a=1&b=2",
         "/console/history/rules/k/restore/1/"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["agent", "light"])
def test_agents_get_the_403_page(
    desk: Any, admin_api: Any, browser: Any, settings: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    three_versions(admin_api, KINDS[0], desk)
    assert browser(getattr(desk, role)).get(path).status_code == 403


@pytest.mark.parametrize("role", ["agent", "light"])
def test_an_agent_cannot_restore(desk: Any, admin_api: Any, browser: Any, role: str) -> None:
    three_versions(admin_api, KINDS[0], desk)
    assert browser(getattr(desk, role)).post(url(KINDS[0], "restore/1/")).status_code == 403
    assert len(version_list("rules", key="k")) == 3


@pytest.mark.parametrize("path", PAGES)
def test_the_signed_out_go_to_the_login_page(db: Any, path: str) -> None:
    r = Client().get(path)
    assert r.status_code == 302
    assert r["Location"].startswith("/login/?next=")


def test_the_history_link_include(desk: Any) -> None:
    from django.template.loader import render_to_string

    with translation.override("en"):
        html = render_to_string(
            "console/_history_link.html", {"kind": "notification_templates", "key": "ticket_received/it"}
        )
    assert 'href="/console/history/notification_templates/ticket_received/it/"' in html
    assert ">History<" in html


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("es", ["Historial de «Version 3»", "Regla", "Comparar las versiones elegidas", "Guardado por"]),
        ("it", ["Cronologia di «Version 3»", "Regola", "Confronta le versioni scelte", "Salvato da"]),
    ],
)
def test_the_history_speaks_the_viewers_language(
    desk: Any, admin_api: Any, browser: Any, language: str, texts: list[str]
) -> None:
    from sportello.automation.services import RuleKind, rule_save

    for n in (1, 2, 3):
        definition = {"key": "lang", "name": f"Version {n}", "when": {"field": "ticket.subject",
                      "op": "contains", "value": "q"}, "actions": [{"add_tags": [f"t{n}"]}]}  # fmt: skip
        rule_save(kind=RuleKind.EVENT, definition=definition, created_by=desk.admin, now=NOW, create=n == 1)
    client = browser(desk.admin)
    client.cookies["django_language"] = language
    try:
        html = client.get("/console/history/rules/lang/").content.decode()
        diff = client.get("/console/history/rules/lang/diff/?a=1&b=3").content.decode()
    finally:
        translation.deactivate()  # the request's language stays active in this thread otherwise
    for text in texts:
        assert text in html
    assert {"es": "Modificado", "it": "Modificato"}[language] in diff


def test_a_template_back_to_its_default_keeps_its_history_and_can_be_restored(
    desk: Any, admin_api: Any, browser: Any
) -> None:
    from sportello.notifications.services import template_reset

    kind = KINDS[-1]
    assert kind.name == "notification_templates"
    save(admin_api, kind, desk, 1)
    save(admin_api, kind, desk, 2)
    template_reset(key="ticket_received", language="en", actor=desk.admin)
    client = browser(desk.admin)
    page = client.get(url(kind))
    assert page.status_code == 200
    assert page.context["history"].current is None
    assert "None of these versions (the shipped default applies)" in page.content.decode()
    # both versions may be restored; the confirmation shows the version's whole text as added
    confirm = client.get(url(kind, "restore/2/"))
    assert confirm.status_code == 200
    assert 'name="current" value=""' in confirm.content.decode()
    assert {line.change for line in confirm.context["lines"]} <= {"changed", "added"}
    r = client.post(url(kind, "restore/2/"), {"current": ""})
    assert r.status_code == 302
    versions = version_list("notification_templates", key=key_of(kind))
    assert [v.version for v in versions] == [3, 2, 1]
    assert versions[0].definition["subject"] == kind.value(2)
