"""Queue page and view counts: server time in-process on a seeded database, as an agent of the
largest department and as an admin.

    cd bench && ../.venv/bin/python queues.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_1m

Read only: it neither migrates nor writes. The shipped views are built in memory (the database
needs no `queues` table), and the page is rendered by the real view function (template
included) through Django's RequestFactory; the session and sign-in middleware are left out.
Each kind is measured 50 times after 10 warm-up runs; the load average is printed beside it.
- counts: the sidebar's one statement (conditional aggregation over the agent's tickets);
- page: the landing view (All unresolved, by priority then age, 50 rows) with its counts;
- page (view): each shipped view's first page, without the counts (an HTMX table swap);
- page 2: the landing view's second page (cursor, plus the listing's count).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from common import DEFAULT_URL, log, summary_ms

RUNS, WARMUP = 50, 10
HX = {"HX-Request": "true", "HX-Target": "queue"}  # an HTMX swap of the table
SETTINGS = {"runs": RUNS, "warmup": WARMUP}


def measure(label: str, fn: Callable[[], Any]) -> None:
    for _ in range(SETTINGS["warmup"]):
        fn()
    samples = []
    for _ in range(SETTINGS["runs"]):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    load = os.getloadavg()[0]
    log(f"{label:<34} {summary_ms(samples)}  load {load:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--who", choices=["agent", "admin", "both"], default="both")
    args = parser.parse_args()
    SETTINGS.update(runs=args.runs, warmup=args.warmup)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.db import connection
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    from sportello.accounts.models import Role, User
    from sportello.core import clock
    from sportello.queues import selectors, services
    from sportello.queues import views as queue_views
    from sportello.queues.columns import DEFAULT_COLUMNS
    from sportello.queues.models import SavedView
    from sportello.tickets.models import Ticket

    now = clock.now()
    shipped = [
        SavedView(
            pk=i + 1,
            key=key,
            name=name,
            condition=cond,
            extra=extra,
            sort=sort,
            columns=list(DEFAULT_COLUMNS),
            position=i,
            created_at=now,
            updated_at=now,
        )
        for i, (key, name, cond, extra, sort) in enumerate(services.DEFAULT_VIEWS)
    ]
    queue_views._views = lambda user, now: shipped
    total = Ticket.objects.count()
    biggest = (
        Ticket.objects.values("department_id")
        .order_by()
        .annotate(n=django.db.models.Count("id"))
        .order_by("-n")[0]
    )
    agent = User.objects.filter(role=Role.AGENT, is_active=True, departments=biggest["department_id"]).first()
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).first()
    log(f"{total} tickets; department {biggest['department_id']} holds {biggest['n']}; {connection.vendor}")
    factory = RequestFactory()

    def get(user: User, params: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        request = factory.get("/", params, headers=headers or {})
        request.user = user
        request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]
        request._messages = CookieStorage(request)  # type: ignore[attr-defined]
        request.LANGUAGE_CODE = "en"
        response = queue_views.home.__wrapped__(request)  # type: ignore[attr-defined]
        assert response.status_code == 200, response.status_code
        return response

    for who, user in (("agent", agent), ("admin", admin)):
        if user is None or args.who not in (who, "both"):
            continue
        ctx = selectors.view_context(user=user, now=now)
        counts = selectors.view_counts(views=shipped, ctx=ctx)
        log(f"{who}: " + ", ".join(f"{v.name}={counts[v.pk]}" for v in shipped))
        measure(f"{who} counts (8 views)", partial(selectors.view_counts, views=shipped, ctx=ctx))
        measure(f"{who} page (landing + counts)", partial(get, user, {}))
        for v in shipped:
            measure(
                f"{who} page {v.key}",
                partial(get, user, {"view": v.pk}, {"HX-Request": "true", "HX-Target": "queue"}),
            )
        # The landing view's second page, through the link the first page renders.
        content = get(user, {}).content.decode()
        marker = 'id="page-next" href="'
        if marker in content:
            href = content.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
            params = {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}
            measure(f"{who} page 2 (cursor)", partial(get, user, params, HX))


if __name__ == "__main__":
    main()
