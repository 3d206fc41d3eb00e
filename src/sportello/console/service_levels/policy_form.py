"""The SLA policy editor's form: what a policy applies to (every ticket, VIP customers, or a
condition in the rules' format, as YAML), its targets per metric and priority, whether they count
business hours of a calendar or calendar time, the statuses that pause the clocks, and its
warnings and escalation ladder (YAML, in the API's schema). Read into the policy kind's
definition with errors by field in the viewer's language; what was typed is kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

METRICS = ("first_response", "next_response", "periodic_update", "resolution")
PRIORITIES = ("low", "normal", "high", "urgent")
PAUSABLE = ("pending", "on_hold")
METRIC_LABELS = {
    "first_response": gettext_lazy("First response"),
    "next_response": gettext_lazy("Next response"),
    "periodic_update": gettext_lazy("Periodic update"),
    "resolution": gettext_lazy("Resolution"),
}
PRIORITY_LABELS = {
    "low": gettext_lazy("Low"),
    "normal": gettext_lazy("Normal"),
    "high": gettext_lazy("High"),
    "urgent": gettext_lazy("Urgent"),
}
PAUSE_LABELS = {"pending": gettext_lazy("Pending"), "on_hold": gettext_lazy("On hold")}
VIP_ORGANIZATION = {"field": "organization.vip", "op": "is", "value": True}
VIP_REQUESTER = {"field": "requester.vip", "op": "is", "value": True}
WHEN_CHOICES = (
    ("all", gettext_lazy("Every ticket")),
    ("vip", gettext_lazy("Tickets of VIP customers (the requester or their organization is VIP)")),
    ("custom", gettext_lazy("Tickets matching a condition (YAML, as in rules)")),
)
VIP_CONDITION = {"any": [VIP_REQUESTER, VIP_ORGANIZATION]}
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_DURATION = re.compile(r"(\d+[dhms])+")


@dataclass
class PolicyForm:
    key: str = ""
    name: str = ""
    position: str = "0"
    when_mode: str = "all"
    when_yaml: str = ""
    calendar: str = ""  # "": calendar time
    targets: dict[str, str] = field(default_factory=dict)  # "metric.priority" -> "1h"
    pause_in: list[str] = field(default_factory=lambda: list(PAUSABLE))
    pause_first_response: bool = False
    warnings_yaml: str = ""
    escalations_yaml: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def target_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "metric": m,
                "label": METRIC_LABELS[m],
                "error": self.errors.get(f"t-{m}", ""),
                "cells": [
                    {
                        "name": f"t-{m}-{p}",
                        "priority": PRIORITY_LABELS[p],
                        "value": self.targets.get(f"{m}.{p}", ""),
                    }
                    for p in PRIORITIES
                ],
            }
            for m in METRICS
        ]


def _dump(data: Any) -> str:
    if not data:
        return ""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)


def form_from_definition(definition: dict[str, Any] | None) -> PolicyForm:
    """The form showing a saved policy (or a new one's: first response in 4 h, resolution in 2 d)."""
    if definition is None:
        return PolicyForm(targets={"first_response.normal": "4h", "resolution.normal": "2d"})
    when = definition.get("when")
    if not when or when == {"all": []}:
        mode, when_yaml = "all", ""
    elif when == VIP_CONDITION:
        mode, when_yaml = "vip", ""
    else:
        mode, when_yaml = "custom", _dump(when)
    targets = {
        f"{m}.{p}": t["within"]
        for m, per in (definition.get("targets") or {}).items()
        for p, t in per.items()
    }
    business = any(
        t.get("business") for per in (definition.get("targets") or {}).values() for t in per.values()
    )
    return PolicyForm(
        key=definition["key"],
        name=definition.get("name", ""),
        position=str(definition.get("position", 0)),
        when_mode=mode,
        when_yaml=when_yaml,
        calendar=(definition.get("calendar") or "") if business else "",
        targets=targets,
        pause_in=list(definition.get("pause_in", PAUSABLE)),
        pause_first_response=bool(definition.get("pause_first_response")),
        warnings_yaml=_dump(definition.get("warnings")),
        escalations_yaml=_dump(definition.get("escalations")),
    )


def _yaml(form: PolicyForm, name: str, text: str, *, mapping: bool) -> Any:
    if not text.strip():
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" (line %(line)d)") % {"line": mark.line + 1} if mark is not None else ""
        form.error(name, _("This is not valid YAML%(where)s.") % {"where": where})
        return None
    if mapping and not isinstance(data, dict):
        form.error(name, _("Write a condition, for example: {field: ticket.priority, op: is, value: urgent}"))
        return None
    if not mapping and not isinstance(data, list):
        form.error(name, _("Write a list: each item starts with “- ”."))
        return None
    return data


def form_from_post(data: QueryDict, *, key: str | None) -> tuple[PolicyForm, dict[str, Any] | None]:
    """The form as sent and, without errors, the policy definition to save."""
    form = PolicyForm(
        key=key if key is not None else (data.get("key") or "").strip(),
        name=(data.get("name") or "").strip(),
        position=(data.get("position") or "0").strip(),
        when_mode=data.get("when_mode") or "all",
        when_yaml=data.get("when_yaml") or "",
        calendar=(data.get("calendar") or "").strip(),
        targets={f"{m}.{p}": (data.get(f"t-{m}-{p}") or "").strip() for m in METRICS for p in PRIORITIES},
        pause_in=[p for p in data.getlist("pause_in") if p in PAUSABLE],
        pause_first_response=data.get("pause_first_response") == "1",
        warnings_yaml=data.get("warnings_yaml") or "",
        escalations_yaml=data.get("escalations_yaml") or "",
    )
    form.targets = {k: v for k, v in form.targets.items() if v}
    if not _KEY.fullmatch(form.key):
        form.error(
            "key", _("Use 1 to 64 lowercase letters, digits, “-” or “_”, starting with a letter or digit.")
        )
    if not form.name:
        form.error("name", _("Give the policy a name."))
    elif len(form.name) > 200:
        form.error("name", _("At most 200 characters, on one line."))
    if not re.fullmatch(r"\d{1,6}", form.position):
        form.error("position", _("A whole number from 0: policies are tried from the lowest."))
    when: Any = None
    if form.when_mode == "vip":
        when = VIP_CONDITION
    elif form.when_mode == "custom":
        when = _yaml(form, "when_yaml", form.when_yaml, mapping=True)
        if when is None and "when_yaml" not in form.errors:
            form.error("when_yaml", _("Write the condition, or choose “Every ticket”."))
    elif form.when_mode != "all":
        form.error("when_mode", _("Choose which tickets the policy applies to."))
    targets: dict[str, dict[str, Any]] = {}
    for m in METRICS:
        for p in PRIORITIES:
            value = form.targets.get(f"{m}.{p}", "")
            if not value:
                continue
            if not _DURATION.fullmatch(value.replace(" ", "")) or not re.search(r"[1-9]", value):
                form.error(f"t-{m}", _("Write each target as a duration: 30m, 4h, 1h30m or 2d."))
                continue
            targets.setdefault(m, {})[p] = {"within": value.replace(" ", ""), "business": bool(form.calendar)}
    if not targets and not any(k.startswith("t-") for k in form.errors):
        form.error("targets", _("Set at least one target."))
    warnings = _yaml(form, "warnings_yaml", form.warnings_yaml, mapping=False)
    escalations = _yaml(form, "escalations_yaml", form.escalations_yaml, mapping=False)
    if form.errors:
        return form, None
    definition: dict[str, Any] = {
        "key": form.key,
        "name": form.name,
        "position": int(form.position),
        "targets": targets,
        "pause_in": form.pause_in,
        "pause_first_response": form.pause_first_response,
    }
    if when is not None:
        definition["when"] = when
    if form.calendar:
        definition["calendar"] = form.calendar
    if warnings:
        definition["warnings"] = warnings
    if escalations:
        definition["escalations"] = escalations
    return form, definition


FIELDS_OF_PATHS = (
    ("when", "when_yaml"),
    ("warnings", "warnings_yaml"),
    ("escalations", "escalations_yaml"),
    ("calendar", "calendar"),
    ("key", "key"),
    ("name", "name"),
    ("position", "position"),
    ("pause_in", "pause_in"),
)


def error_field(path: str) -> str:
    """The form's field for a service error's path (`targets.resolution.high.within`: the
    resolution row; `escalations[0].actions`: the escalations)."""
    for prefix, name in FIELDS_OF_PATHS:
        if path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")):
            return name
    m = re.match(r"targets\.(\w+)", path)
    if m and m.group(1) in METRICS:
        return f"t-{m.group(1)}"
    return "targets" if path.startswith("targets") else "form"
