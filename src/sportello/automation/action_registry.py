"""Rule actions that other apps carry out (e.g. `escalate_tier`, by the SLA's tier paths).

An app's extension (`core.extensions`) names the actions it carries out with a `rule_actions()`
method: `{action type: handler}`. A handler is called while the rule's actions are applied, with
the change context, the action, the rule as author and the placeholders' context, and returns
the effect to run after the cycle (for the rules that fired). Event rules, time-rule steps, SLA
escalation levels and blueprint transitions find the handler here instead of importing the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sportello.core import extensions

if TYPE_CHECKING:
    from sportello.tickets.change import Author
    from sportello.tickets.context import Context

ActionHandler = Callable[["Context", Any, "Author", dict[str, Any]], Callable[[], None]]


def handlers() -> dict[type, ActionHandler]:
    """Every registered action type with its handler (the extensions' order: a later one wins)."""
    found: dict[type, ActionHandler] = {}
    for provide in extensions.hooks("rule_actions"):
        found.update(provide())
    return found


def handler_for(action: object) -> ActionHandler | None:
    """The handler of the action's type, or None when no app carries it out."""
    return handlers().get(type(action))
