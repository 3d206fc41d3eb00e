"""The desk's extensions, known only as a list in settings: `SPORTELLO_TICKET_EXTENSIONS`, dotted
paths of classes, in order (like `MIDDLEWARE`). Each app that reacts to what happens below it
(a ticket changed, an agent came online) ships one in `<app>/extension.py`; the code that calls
them imports none of those apps. Loaded once per process, on first use (no database statement).

`hooks(name)`: the extensions' methods called `name`, bound, in the list's order — only those
extensions that define one. The ticket pipeline's phases are described in `tickets.extensions`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

SETTING = "SPORTELLO_TICKET_EXTENSIONS"


@cache
def loaded() -> tuple[Any, ...]:
    """One instance of each listed extension, in order."""
    return tuple(import_string(path)() for path in getattr(settings, SETTING))


@cache
def hooks(name: str) -> tuple[Callable[..., Any], ...]:
    """The `name` methods of the extensions that define one, bound, in the list's order."""
    return tuple(getattr(e, name) for e in loaded() if callable(getattr(e, name, None)))


def forget() -> None:
    """Load the list again at next use (after a test changes the setting)."""
    loaded.cache_clear()
    hooks.cache_clear()
