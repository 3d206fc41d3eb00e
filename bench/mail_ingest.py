"""Mail intake throughput: raw messages through `channels.inbound.mail_ingest` (parse, classify,
thread, ticket or reply through the pipeline, attachments stored, commit), on SQLite and on
PostgreSQL.

    .venv/bin/python bench/mail_ingest.py --database sqlite --messages 2000
    .venv/bin/python bench/mail_ingest.py --database postgres --messages 2000 --workers 2

1. A fresh database (PostgreSQL: dropped and created; SQLite: a new file), migrated, the demo
   desk's set-up with its sample rules, SLA policies and blueprint off (as `api_create.py`
   prepares it); mail goes to the demo's Returns mailbox.
2. `--messages` messages are generated (seeded): 55 % new requests from 400 customers (half of
   them contacts the desk knows, half new), 35 % replies to the sender's earlier message (with
   In-Reply-To/References and the quoted history), 10 % new requests with a 120 KB PDF and an
   inline image; a third are multipart/alternative with HTML.
3. `--workers` processes ingest them, each sender's messages in order in one process (a reply
   comes after what it answers), timing each `mail_ingest` call. The run's clock starts when
   every worker has started, set up Django and connected (start-up is not ingestion).
4. Reported: messages per second over the whole run, p50/p99 per kind, and the outcome counts
   (every new request must be a ticket and every reply a reply on its ticket: checked).
5. Then, in this process, statements per message (`CaptureQueriesContext`, transaction control
   left out) for three messages of each kind — a new request from a sender the desk knows, one
   from a new sender, a reply, a new request with attachments — and the statements of the
   last of each.

Only 127.0.0.1 databases; the benchmark's database is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
SPORTELLO = str(ROOT / ".venv" / "bin" / "sportello")
PG_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_mail"
ADDRESS = "returns@shop.example"
PDF = b"%PDF-1.4\n" + bytes(random.Random(1).getrandbits(8) for _ in range(120 * 1024))
PNG = bytes.fromhex("89504e470d0a1a0a") + bytes(random.Random(2).getrandbits(8) for _ in range(4000))
STARTED = time.monotonic()


from common import percentile  # noqa: E402


def log(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:8.1f}s] {text}", flush=True)


def environment(database: str, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "SPORTELLO_DATA_DIR": str(data_dir), "LOG_LEVEL": "ERROR"}
    env.pop("DATABASE_URL", None)
    if database == "postgres":
        env["DATABASE_URL"] = PG_URL
    return env


def prepare(database: str, data_dir: Path) -> None:
    from api_create import prepare as prepare_pg

    if database == "postgres":
        prepare_pg(PG_URL, fresh=True)
        return
    env = environment(database, data_dir)
    subprocess.run([SPORTELLO, "migrate", "-v0"], env=env, check=True)
    subprocess.run([SPORTELLO, "demo", "--tickets", "0"], env=env, check=True, capture_output=True)


def setup_django(database: str, data_dir: Path) -> None:
    os.environ.update(environment(database, data_dir))
    if database != "postgres":
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


def desk_ready() -> list[str]:
    """Switch the demo's automation off (SQLite; `api_create.prepare` did it on PostgreSQL),
    check the demo's Returns mailbox is there, and return the known customers' addresses."""
    from sportello.automation.models import Rule
    from sportello.blueprints.models import Blueprint
    from sportello.channels.models import Mailbox
    from sportello.contacts.models import Contact
    from sportello.sla.models import SlaPolicy

    Rule.objects.update(active=False)
    SlaPolicy.objects.update(active=False)
    Blueprint.objects.update(active=False)
    assert Mailbox.objects.filter(address=ADDRESS, department__name="Returns", active=True).exists()
    return list(Contact.objects.order_by("id").values_list("email", flat=True)[:200])


def compose(
    rng: random.Random, i: int, seed: int, kind: str, sender: str, parents: list[str], now: datetime
) -> dict[str, Any]:
    """One message: kind ("new", "reply" to the last of `parents`, "attachment"), sender,
    Message-ID, raw bytes."""
    m = EmailMessage()
    m["From"] = f"Customer {i} <{sender}>"
    m["To"] = ADDRESS
    m["Date"] = format_datetime(now)
    mid = f"<bench{i}.{seed}@{sender.split('@')[1]}>"
    m["Message-ID"] = mid
    order = f"A{rng.randint(1_000_000, 9_999_999)}"
    if kind == "reply":
        m["Subject"] = "Re: my return"
        m["In-Reply-To"] = parents[-1]
        m["References"] = " ".join(parents[-3:])
        text = (
            f"Thanks, the parcel for {order} left this morning.\n\n"
            f"On Mon, 30 Nov 2026 at 10:02, Returns <{ADDRESS}> wrote:\n"
            + "".join(f"> line {n} of what you wrote before\n" for n in range(12))
        )
    else:
        m["Subject"] = f"Return of order {order}"
        text = (
            f"Hello,\n\nI would like to return order {order}: the item arrived damaged and I "
            "want a refund to my card.\n" * 3
        )
    if i % 3 == 0:
        m.set_content(text)
        m.add_alternative(f"<html><body><p>{text.replace(chr(10), '<br>')}</p></body></html>", subtype="html")
    else:
        m.set_content(text)
    if kind == "attachment":
        m.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"receipt-{order}.pdf")
        m.add_attachment(PNG, maintype="image", subtype="png", filename="photo.png")
    return {"kind": kind, "sender": sender, "message_id": mid, "raw": m.as_bytes()}


def generate(count: int, known: list[str], seed: int = 7) -> list[dict[str, Any]]:
    """The messages in sending order: kind, sender, Message-ID, raw bytes."""
    rng = random.Random(seed)
    senders = known[:200] + [f"customer{i}@mail{i % 37}.example" for i in range(400 - len(known[:200]))]
    sent: dict[str, list[str]] = {}
    out: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for i in range(count):
        sender = rng.choice(senders)
        roll = rng.random()
        kind = "reply" if roll < 0.35 and sent.get(sender) else ("attachment" if roll > 0.9 else "new")
        message = compose(rng, i, seed, kind, sender, sent.get(sender, []), now)
        sent.setdefault(sender, []).append(message["message_id"])
        out.append(message)
    return out


STATEMENT_KINDS = {
    "new request, known sender": ("new", "ticket"),
    "new request, new sender": ("new", "ticket"),
    "reply": ("reply", "reply"),
    "new request with attachments": ("attachment", "ticket"),
}


def count_statements(
    known: list[str], sent: list[dict[str, Any]], *, per_kind: int = 3
) -> dict[str, list[int]]:
    """In this process, after the timed run and one uncounted message: `per_kind` messages of
    each kind through `mail_ingest`, each under `CaptureQueriesContext`. Prints each kind's
    counts and the statements of its last message."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from common import print_statements, statements
    from sportello.channels.inbound import mail_ingest
    from sportello.core import clock

    rng = random.Random(11)
    now = datetime.now(UTC)
    news = [m for m in sent if m["kind"] == "new"]
    # One message first, uncounted: this process's caches are filled as a server's are.
    mail_ingest(raw=compose(rng, 999_999, 11, "new", known[-1], [], now)["raw"], via="mta", now=clock.now())
    counts: dict[str, list[int]] = {}
    for name, (kind, status) in STATEMENT_KINDS.items():
        captured: list[Any] = []
        for n in range(per_kind):
            i = 1_000_000 + len(counts) * 100 + n
            if name == "reply":
                parent = news[-1 - n]  # ingested in the timed run
                message = compose(rng, i, 11, kind, parent["sender"], [parent["message_id"]], now)
            elif name == "new request, new sender":
                message = compose(rng, i, 11, kind, f"first.time{i}@newcomer.example", [], now)
            else:
                message = compose(rng, i, 11, kind, known[n], [], now)
            with CaptureQueriesContext(connection) as ctx:
                result = mail_ingest(raw=message["raw"], via="mta", now=clock.now())
            if result.status != status:
                raise SystemExit(f"{name}: {result.status}, expected {status}")
            captured.append(ctx.captured_queries)
        counts[name] = [len(statements(q)[0]) for q in captured]
        print(f"{name}: statements per message {counts[name]}")
        print_statements(f"message ({name}, the last)", captured[-1], vendor=connection.vendor)
    return counts


def work(database: str, data_dir: str, items: list[dict[str, Any]], queue: Any, ready: Any, go: Any) -> None:
    setup_django(database, Path(data_dir))
    from django.db import connection

    from sportello.channels.inbound import mail_ingest
    from sportello.core import clock

    connection.ensure_connection()
    ready.put(True)
    go.wait()  # the clock starts once every worker is set up: ingestion is measured, not start-up
    timings: list[tuple[str, float, str]] = []
    for item in items:
        t0 = time.perf_counter()
        result = mail_ingest(raw=item["raw"], via="mta", now=clock.now())
        timings.append((item["kind"], (time.perf_counter() - t0) * 1000, result.status))
    connection.close()
    queue.put(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.database == "sqlite" and args.workers != 1:
        parser.error("SQLite takes one writer: --workers 1")
    data_dir = Path(tempfile.mkdtemp(prefix="sportello-bench-mail-"))
    log(f"preparing {args.database} (data in {data_dir}; load {os.getloadavg()[0]:.1f})")
    prepare(args.database, data_dir)
    setup_django(args.database, data_dir)
    known = desk_ready()
    from django.db import connection

    connection.close()
    messages = generate(args.messages, known)
    kinds = {k: sum(1 for m in messages if m["kind"] == k) for k in ("new", "reply", "attachment")}
    log(f"generated {len(messages):,} messages {kinds}, {sum(len(m['raw']) for m in messages) / 1e6:.1f} MB")
    shards: list[list[dict[str, Any]]] = [[] for _ in range(args.workers)]
    for m in messages:
        shards[hash(m["sender"]) % args.workers].append(m)
    ctx = multiprocessing.get_context("spawn")
    queue, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=work, args=(args.database, str(data_dir), s, queue, ready, go)) for s in shards
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    t0 = time.monotonic()
    go.set()
    timings: list[tuple[str, float, str]] = []
    for _ in procs:
        timings += queue.get()
    for p in procs:
        p.join()
    elapsed = time.monotonic() - t0
    outcomes: dict[str, int] = {}
    for kind, _, status in timings:
        outcomes[f"{kind}->{status}"] = outcomes.get(f"{kind}->{status}", 0) + 1
    expected = {
        "new->ticket": kinds["new"],
        "attachment->ticket": kinds["attachment"],
        "reply->reply": kinds["reply"],
    }
    ok = {k: v for k, v in outcomes.items() if v} == {k: v for k, v in expected.items() if v}
    report = {
        "database": args.database,
        "messages": len(messages),
        "workers": args.workers,
        "seconds": round(elapsed, 1),
        "messages_per_s": round(len(messages) / elapsed, 1),
        "ms": {
            kind: {"p50": round(percentile(v, 50), 1), "p99": round(percentile(v, 99), 1)}
            for kind in kinds
            if (v := sorted(ms for k, ms, _ in timings if k == kind))
        },
        "outcomes": outcomes,
        "outcomes_as_expected": ok,
        "load": [round(x, 1) for x in os.getloadavg()],
    }
    log(f"{report['messages_per_s']} messages/s over {elapsed:.1f}s; outcomes as expected: {ok}")
    report["statements_per_message"] = count_statements(known, messages)
    print(json.dumps(report, indent=2))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
