"""The Console's event rules and time rules: the list (fire counts, last firing; enable, disable,
reorder), and the editor (the rule as YAML beside a readable rendering and a visual builder,
`rule_builder`; check for lint warnings; a dry run on the last tickets before saving; a replay
over the recorded history of the last N days, compared with the saved version; save with
stale-edit detection).

Every write goes through `automation.services` (the rules API's own services): a save is a new
version, an order is event rules' `position`, disabling is deactivating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import BadRequest as HttpBadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.automation import refs, replay, selectors, services, simulate
from sportello.automation.models import Rule, RuleKind
from sportello.core import clock
from sportello.core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from sportello.core.versioning import version_diff
from sportello.engine.rules import EVENTS

from . import rule_builder, rule_text
from .views import admin_required, current_admin, render_console

SECTIONS = {RuleKind.EVENT: "event_rules", RuleKind.TIME: "time_rules"}

NEW_EVENT_RULE = """key: new-rule
name: New rule
category: default
when:
  all:
    - {field: ticket.channel, op: is, value: email}
actions:
  - add_tags: [triage]
"""

NEW_TIME_RULE = """key: new-time-rule
name: New time rule
anchor: last_customer_message
when:
  all:
    - {field: ticket.status_category, op: is, value: pending}
steps:
  - after: 72h
    actions:
      - add_tags: [stale]
"""


# --------------------------------------------------------------------------------------------
# The list


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: Rule
    summary: str
    fired: int
    last_fired: datetime | None
    first: bool  # first of its category (no "move up")
    last: bool  # last of its category (no "move down")


def _rows(rules: list[Rule]) -> list[RuleRow]:
    current = selectors.rule_current_definitions(rules=rules)
    keyed = _keyed({r.pk: (RuleKind(r.kind), current[r.pk].definition) for r in rules if r.pk in current})
    stats = selectors.rule_fire_stats()
    rows: list[RuleRow] = []
    for i, rule in enumerate(rules):
        prev = rules[i - 1] if i else None
        nxt = rules[i + 1] if i + 1 < len(rules) else None
        count, last = stats.get(rule.key, (0, None))
        rows.append(
            RuleRow(
                rule=rule,
                summary=rule_text.summary(RuleKind(rule.kind), keyed.get(rule.pk, {})),
                fired=count,
                last_fired=last,
                first=prev is None or (prev.kind, prev.category) != (rule.kind, rule.category),
                last=nxt is None or (nxt.kind, nxt.category) != (rule.kind, rule.category),
            )
        )
    return rows


def _by_category(rows: list[RuleRow]) -> list[tuple[str, list[RuleRow]]]:
    groups: dict[str, list[RuleRow]] = {}
    for row in rows:
        groups.setdefault(row.rule.category, []).append(row)
    return list(groups.items())


def _keyed(definitions: dict[int, tuple[RuleKind, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Saved definitions (records by id) naming records by key, as the editor shows them. The
    tables of records are each read once, whatever the rules name (a fixed cost)."""
    directory = refs.Directory()
    for ref in refs.Ref:
        directory._load(ref)
    ids = list(definitions)
    doc: dict[str, Any] = {"event_rules": [], "time_rules": []}
    for pk in ids:
        kind, definition = definitions[pk]
        doc[SECTIONS[kind]].append({**definition, "_pk": pk})
    refs.document_to_keys(doc, directory)
    return {item.pop("_pk"): item for section in doc.values() for item in section}


@admin_required
@require_http_methods(["GET"])
def rules_list(request: HttpRequest) -> HttpResponse:
    rules = list(selectors.rule_list(principal=current_admin(request)))
    rows = _rows(rules)
    context = {
        "section": "rules",
        "now": clock.now(),
        "event_groups": _by_category([r for r in rows if r.rule.kind == RuleKind.EVENT]),
        "time_rows": [r for r in rows if r.rule.kind == RuleKind.TIME],
    }
    return render_console(request, "console/rules/list.html", context)


def _rule_or_404(key: str) -> Rule:
    rule = Rule.objects.filter(key=key).first()
    if rule is None:
        raise Http404
    return rule


@admin_required
@require_http_methods(["POST"])
def rule_toggle(request: HttpRequest, key: str) -> HttpResponse:
    """Enable (`active=1`) or disable (`active=0`) a rule: a new version either way."""
    _rule_or_404(key)
    me, now = current_admin(request), clock.now()
    try:
        if request.POST.get("active") == "1":
            rule, written = services.rule_activate(key=key, created_by=me, now=now)
            text = _("Rule “%(name)s” enabled.") if written else _("Rule “%(name)s” was already enabled.")
        else:
            rule, written = services.rule_deactivate(key=key, created_by=me, now=now)
            text = _("Rule “%(name)s” disabled.") if written else _("Rule “%(name)s” was already disabled.")
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        messages.error(request, _("The rule cannot be enabled: %(error)s") % {"error": rule_text.error(exc)})
        return redirect(f"{reverse('console:rules')}#rule-{key}")
    messages.success(request, text % {"name": rule.name})
    return redirect(f"{reverse('console:rules')}#rule-{key}")


@admin_required
@require_http_methods(["POST"])
def rule_move(request: HttpRequest, key: str) -> HttpResponse:
    """Move an event rule one place up (`direction=up`) or down in its category's order."""
    rule = _rule_or_404(key)
    direction = request.POST.get("direction")
    if direction not in ("up", "down") or rule.kind != RuleKind.EVENT:
        raise HttpBadRequest("direction must be up or down, for an event rule")
    try:
        services.rule_move(key=key, up=direction == "up", created_by=current_admin(request), now=clock.now())
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        messages.error(request, rule_text.error(exc))
    # Back to the list with the focus on the button pressed (keyboard users go on pressing); no
    # fragment: a fragment's target would take the place of the button's autofocus.
    return redirect(f"{reverse('console:rules')}?moved={key}&dir={direction}")


# --------------------------------------------------------------------------------------------
# The editor


def _kind_of(raw: str | None) -> RuleKind:
    return RuleKind.TIME if raw == RuleKind.TIME else RuleKind.EVENT


# Keys a saved definition always carries that the editor leaves out when they hold their default
# (saving without them means the same).
DEFAULTS: dict[str, Any] = {
    "on": list(EVENTS),
    "max_fires_per_ticket": None,
    "stop_processing": False,
    "active": True,
    "business": False,
}


def _yaml_of(kind: RuleKind, definition: dict[str, Any]) -> str:
    keyed = refs.document_to_keys({SECTIONS[kind]: [dict(definition)]})[SECTIONS[kind]][0]
    keyed.pop("version", None)
    for name, default in DEFAULTS.items():
        if name in keyed and keyed[name] == default:
            del keyed[name]
    return rule_builder.dump(keyed)


@dataclass(slots=True)
class Parsed:
    """What the editor's YAML holds: the definition, or the error that stops it (its path)."""

    definition: dict[str, Any] | None = None
    error: str | None = None
    path: str | None = None


def _parse(text: str) -> Parsed:
    if not text.strip():
        return Parsed(error=_("Write the rule as YAML."))
    try:
        data = services.load_rules_text(text)
    except (ValidationFailed, BadRequest) as exc:
        return Parsed(error=rule_text.error(exc))
    if not isinstance(data, dict):
        return Parsed(error=_("A rule is a mapping: key, name, when, actions…"))
    data.pop("kind", None)
    return Parsed(definition=data)


def _editor(
    request: HttpRequest,
    *,
    kind: RuleKind,
    rule: Rule | None,
    text: str,
    version: int,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    parsed = _parse(text)
    choices = rule_builder.load_choices() if parsed.definition else None
    context = {
        "section": "rules",
        "now": clock.now(),
        "kind": kind.value,
        "rule": rule,
        "text": text,
        "version": version,
        "rendering": rule_text.rendering(kind, parsed.definition, choices.names())
        if parsed.definition and choices
        else None,
        "last_default": simulate.DRY_RUN_DEFAULT,
        "last_max": simulate.DRY_RUN_MAX,
        "days_default": replay.REPLAY_DAYS_DEFAULT,
        "days_max": replay.REPLAY_DAYS_MAX,
        "builder": _annotated(rule_builder.draw(kind, text, choices=choices, new=rule is None), extra),
        **extra,
    }
    return render_console(request, "console/rules/edit.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def rule_new(request: HttpRequest) -> HttpResponse:
    kind = _kind_of(request.POST.get("kind") or request.GET.get("kind"))
    if request.method != "POST":
        text = NEW_TIME_RULE if kind == RuleKind.TIME else NEW_EVENT_RULE
        return _editor(request, kind=kind, rule=None, text=text, version=0)
    return _save(request, kind=kind, rule=None)


@admin_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, key: str) -> HttpResponse:
    rule = _rule_or_404(key)
    kind = RuleKind(rule.kind)
    if request.method != "POST":
        current = selectors.rule_current_definitions(rules=[rule])[rule.pk]
        return _editor(
            request, kind=kind, rule=rule, text=_yaml_of(kind, current.definition), version=rule.version
        )
    return _save(request, kind=kind, rule=rule)


def _posted_version(request: HttpRequest) -> int:
    try:
        return max(0, int(request.POST.get("version") or 0))
    except ValueError:
        return 0


def _save(request: HttpRequest, *, kind: RuleKind, rule: Rule | None) -> HttpResponse:
    """Save the YAML as the rule's next version (or a new rule); a bad rule, a key taken or a
    stale edit re-renders the editor with what was typed and the error beside it."""
    text = rule_builder.resolve(kind, request.POST)
    version = _posted_version(request)

    def again(error: str, path: str | None = None, **extra: Any) -> HttpResponse:
        return _editor(
            request,
            kind=kind,
            rule=rule,
            text=text,
            version=version,
            status=422,
            error=error,
            error_path=path,
            **extra,
        )

    parsed = _parse(text)
    if parsed.definition is None:
        return again(parsed.error or "")
    definition = parsed.definition
    if rule is not None and definition.get("key", rule.key) != rule.key:
        return again(
            _("The key of a saved rule does not change (it is “%(key)s”).") % {"key": rule.key}, "key"
        )
    if rule is not None:
        definition.setdefault("key", rule.key)
    try:
        saved, written = services.rule_save(
            kind=kind,
            definition=definition,
            created_by=current_admin(request),
            now=clock.now(),
            create=rule is None,
            expected_version=version if rule is not None else None,
        )
    except ValidationFailed as exc:
        return again(rule_text.error(exc), exc.field)
    except Conflict as exc:
        if exc.code == "stale_version" and rule is not None:
            return _stale(request, kind=kind, rule=rule, text=text, version=version)
        return again(_("A rule with this key exists already: choose another key."), "key")
    if written:
        messages.success(
            request,
            _("Rule “%(name)s” saved as version %(version)s.")
            % {"name": saved.name, "version": saved.version},
        )
    else:
        messages.success(
            request,
            _("Nothing changed: rule “%(name)s” stays at version %(version)s.")
            % {"name": saved.name, "version": saved.version},
        )
    return redirect(reverse("console:rule_edit", args=[saved.key]))


def _stale(request: HttpRequest, *, kind: RuleKind, rule: Rule, text: str, version: int) -> HttpResponse:
    """Someone saved the rule since this editor loaded it: keep what was typed, say which
    version is current, by whom, and what it changed since the editor's version."""
    rule.refresh_from_db()
    try:
        changes = version_diff(services.RULES, key=rule.key, a=version, b=rule.version) if version else []
    except NotFound:
        changes = []
    _head, versions = selectors.rule_versions(principal=current_admin(request), key=rule.key)
    latest = versions.first()
    who = (
        (latest.created_by.name or latest.created_by.email) if latest and latest.created_by else _("someone")
    )
    error = _(
        "%(who)s saved version %(current)s of this rule after you opened version %(yours)s. "
        "Your text is kept below: compare, then save again to replace their version."
    ) % {"who": who, "current": rule.version, "yours": version}
    return _editor(
        request,
        kind=kind,
        rule=rule,
        text=text,
        version=rule.version,  # saving again replaces the version now current, knowingly
        status=409,
        error=error,
        stale_changes=[rule_text.change_line(c) for c in changes],
    )


@admin_required
@require_http_methods(["POST"])
def rule_check(request: HttpRequest) -> HttpResponse:
    """HTMX: the YAML checked as a save would check it, without saving: the error with its path,
    or the lint warnings (ping-pong, a rule reading its own write, ...) and the readable rule."""
    kind = _kind_of(request.POST.get("kind"))
    text = rule_builder.resolve(kind, request.POST)
    choices = rule_builder.load_choices()
    context = _check_context(kind, text, choices)
    # The builder drawn again from the YAML (and the YAML with a builder change not yet in it).
    context.update(
        text=text,
        rewritten=text != request.POST.get("yaml", ""),
        builder=_annotated(
            rule_builder.draw(kind, text, choices=choices, new=rule_builder.is_new(request.POST)), context
        ),
    )
    return render_console(request, "console/rules/_check_response.html", context)


def _annotated(drawn: rule_builder.Drawn, context: dict[str, Any]) -> rule_builder.Drawn:
    """The builder with the check's error and warnings beside the parts they are about."""
    notes = [(w.path, f"{w.label}: {w.message}") for w in context.get("warnings", [])]
    if context.get("error") and context.get("error_path"):
        notes.append((context["error_path"], context["error"]))
    rule_builder.annotate(drawn, notes)
    return drawn


def _check_context(kind: RuleKind, text: str, choices: rule_builder.Choices) -> dict[str, Any]:
    parsed = _parse(text)
    context: dict[str, Any] = {"kind": kind.value, "checked": True}
    if parsed.definition is None:
        context["error"] = parsed.error
    else:
        try:
            warnings = services.rule_check(kind=kind, definition=parsed.definition)
        except ValidationFailed as exc:
            context.update(error=rule_text.error(exc), error_path=exc.field)
        else:
            context.update(
                warnings=[rule_text.warning(w) for w in warnings],
                rendering=rule_text.rendering(kind, parsed.definition, choices.names()),
            )
    return context


@admin_required
@require_http_methods(["POST"])
def rule_builder_edit(request: HttpRequest) -> HttpResponse:
    """HTMX: one change made in the builder (an input changed, a condition, group, action or
    step added, removed or moved; `op=from-yaml` draws it again from the YAML). Answers the
    builder, the YAML rewritten to match, and the rule checked in words (nothing is saved)."""
    kind = _kind_of(request.POST.get("kind"))
    choices = rule_builder.load_choices()
    edited = rule_builder.edit(kind, request.POST, request.POST.get("op", ""), choices)
    context: dict[str, Any] = {"kind": kind.value, "builder": edited.drawn}
    if edited.text is not None:
        context.update(_check_context(kind, edited.text, choices), text=edited.text, rewritten=True)
        _annotated(edited.drawn, context)
    return render_console(request, "console/rules/_builder_response.html", context)


@admin_required
@require_http_methods(["POST"])
def rule_dry_run(request: HttpRequest) -> HttpResponse:
    """HTMX: the YAML tried on the last N tickets (nothing kept): which it would have matched
    and what it would change on each."""
    kind = _kind_of(request.POST.get("kind"))
    parsed = _parse(rule_builder.resolve(kind, request.POST))
    context: dict[str, Any] = {"kind": kind.value}
    try:
        last = int(request.POST.get("last") or simulate.DRY_RUN_DEFAULT)
    except ValueError:
        last = 0
    if not 1 <= last <= simulate.DRY_RUN_MAX:
        context["error"] = _("Choose a number of tickets from 1 to %(max)s.") % {"max": simulate.DRY_RUN_MAX}
        context["error_path"] = "last"
    elif parsed.definition is None:
        context["error"] = parsed.error
    else:
        try:
            result = simulate.rule_dry_run(
                principal=current_admin(request),
                kind=kind,
                definition=parsed.definition,
                last=last,
                now=clock.now(),
            )
        except ValidationFailed as exc:
            context.update(error=rule_text.error(exc), error_path=exc.field)
        except Conflict:
            context["error"] = _("A rule with this key exists already: choose another key.")
        else:
            context.update(
                result=result,
                last=last,
                matched=rule_text.dry_run_rows(result.matched),
            )
    return render_console(request, "console/rules/_dry_run.html", context)


@admin_required
@require_http_methods(["POST"])
def rule_replay(request: HttpRequest) -> HttpResponse:
    """HTMX: the YAML replayed over the recorded history of the last N days (nothing is
    written): how many changes and tickets were read, firings a day, the tickets it would have
    changed and how, compared with the saved rule of the same key; and what could not be
    reconstructed exactly."""
    kind = _kind_of(request.POST.get("kind"))
    parsed = _parse(rule_builder.resolve(kind, request.POST))
    context: dict[str, Any] = {"kind": kind.value}
    try:
        days = int(request.POST.get("days") or replay.REPLAY_DAYS_DEFAULT)
    except ValueError:
        days = 0
    if not 1 <= days <= replay.REPLAY_DAYS_MAX:
        context["error"] = _("Choose a number of days from 1 to %(max)s.") % {"max": replay.REPLAY_DAYS_MAX}
    elif parsed.definition is None:
        context["error"] = parsed.error
    else:
        try:
            result = replay.rule_replay(
                principal=current_admin(request),
                kind=kind,
                definition=parsed.definition,
                days=days,
                now=clock.now(),
                time_zone=timezone.get_current_timezone_name(),
            )
        except ValidationFailed as exc:
            if exc.field == "days":
                context["error"] = _(
                    "Too many changes were recorded in the last %(days)s days to replay them at once: "
                    "choose fewer days."
                ) % {"days": days}
            else:
                context["error"] = rule_text.error(exc)
        else:
            context.update(
                result=result,
                rows=rule_text.replay_rows(result.tickets),
                chart=rule_text.day_chart(result.per_day),
                notes=[rule_text.replay_note(n) for n in result.notes],
            )
    return render_console(request, "console/rules/_replay.html", context)


urlpatterns = [
    path("rules/", rules_list, name="rules"),
    path("rules/new/", rule_new, name="rule_new"),
    path("rules/check/", rule_check, name="rule_check"),
    path("rules/dry-run/", rule_dry_run, name="rule_dry_run"),
    path("rules/replay/", rule_replay, name="rule_replay"),
    path("rules/builder/", rule_builder_edit, name="rule_builder"),
    path("rules/<slug:key>/edit/", rule_edit, name="rule_edit"),
    path("rules/<slug:key>/toggle/", rule_toggle, name="rule_toggle"),
    path("rules/<slug:key>/move/", rule_move, name="rule_move"),
]
