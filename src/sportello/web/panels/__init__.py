"""The ticket page's panels. Each module gives `context(request, ticket, *, now, shared)` (the
names its template `web/ticket/_<panel>.html` needs; `shared` holds `ticket`, `now`, `may_edit`,
`reads` (`reads.PageReads`: what several panels show, read once) and what earlier panels gave)
and holds the views for its own writes."""

from __future__ import annotations

from types import ModuleType

from . import composer, conversation, customer, history, live, properties, workflow

PANELS: tuple[ModuleType, ...] = (properties, workflow, conversation, composer, customer, history, live)
