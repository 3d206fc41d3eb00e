"""Answer-suggestion latency with 10,000 article translations.

    .venv/bin/python bench/kb_suggest.py                       # SQLite file under var/bench
    .venv/bin/python bench/kb_suggest.py --database-url postgres://postgres@127.0.0.1:5432/sp_kb_bench
    .venv/bin/python bench/kb_suggest.py --translations 10000 --requests 300

1. A fresh database, migrated, seeded with `--translations` public translations (en, es, it in
   turn) over articles in five departments. Titles and texts are recombined from a bank of
   real help-centre phrases, so the full-text index has realistic term statistics. The stored
   vectors are random unit vectors (computing 10,000 real embeddings takes minutes and does not
   change what a suggestion costs: one 10,000 x 512 product either way); the full-text rows
   are written as `kb.search` writes them.
2. `kb.suggest.suggest` in-process, `--requests` requests from a bank of customer questions in
   the three languages (customer audience, half with a department): the first call builds the
   vector cache (reported apart), then p50/p95/p99 per call — the version check, the request's
   embedding, the full-text query, the cosine scan and the fusion. Each request is made a new
   text (its number appended), so the request's vector is computed every time; `--repeat`
   sends the bank's texts as they are (their vectors then come from `kb.embedding`'s cache).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from common import ensure_database, log, remove_sqlite, sqlite_url, summary_ms  # noqa: E402

PHRASES = {
    "en": ["refund for a returned order", "reset your password", "change the delivery address", "parcel arrived damaged",  # noqa: E501
           "cancel an order before shipping", "invoice with VAT number", "warranty repair for a laptop",
           "battery drains quickly", "track your parcel", "gift card balance", "payment declined at checkout",
           "missing item in the box", "exchange for another size", "delete your account", "ebook download limit"],  # noqa: E501
    "es": ["reembolso de un pedido devuelto", "restablecer la contraseña", "cambiar la dirección de entrega",
           "paquete dañado", "cancelar un pedido", "factura con NIF", "reparación en garantía",
           "la batería se agota rápido", "seguimiento del paquete", "saldo de la tarjeta regalo",
           "pago rechazado", "falta un artículo", "cambio de talla", "eliminar la cuenta", "descarga de ebooks"],  # noqa: E501
    "it": ["rimborso di un ordine reso", "reimpostare la password", "cambiare l'indirizzo di consegna",
           "pacco danneggiato", "annullare un ordine", "fattura con partita IVA", "riparazione in garanzia",
           "la batteria si scarica in fretta", "tracciare il pacco", "saldo della carta regalo",
           "pagamento rifiutato", "articolo mancante nel pacco", "cambio taglia", "cancellare l'account",
           "limite di download degli ebook"],
}  # fmt: skip
QUESTIONS = [
    ("en", "I sent the jacket back two weeks ago and still have no refund, when will the money arrive?"),
    ("en", "I forgot my password and the reset email never comes"),
    ("en", "my laptop battery is dead after two hours"),
    ("es", "Devolví el pedido hace diez días y todavía no tengo el reembolso"),
    ("es", "No puedo entrar, he olvidado la contraseña"),
    ("es", "El paquete llegó roto, ¿qué hago?"),
    ("it", "Ho reso il pacco ma il rimborso non è ancora arrivato, perché?"),
    ("it", "Non riesco ad accedere, ho dimenticato la password"),
    ("it", "Mi serve la fattura con la partita IVA per l'ordine di ieri"),
    ("en", "hello"),
]


def seed(count: int) -> None:
    import numpy as np
    from django.db import transaction

    from sportello.accounts.models import Department
    from sportello.core import clock
    from sportello.kb import embedding, search
    from sportello.kb.models import Article, ArticleTranslation, KbCategory, KbSection

    now = clock.now()
    rng = random.Random(7)
    vectors = np.random.default_rng(7)
    departments = [Department.objects.create(name=f"Bench {i}", slug=f"bench-{i}") for i in range(5)]
    category = KbCategory.objects.create(slug="bench", title={"en": "Bench"}, created_at=now, updated_at=now)
    section = KbSection.objects.create(
        category=category, slug="bench", title={"en": "Bench"}, created_at=now, updated_at=now
    )
    languages = ["en", "es", "it"]
    started = time.perf_counter()
    done = 0
    while done < count:
        with transaction.atomic():
            for _ in range(min(300, count - done)):
                article = Article.objects.create(section=section, created_at=now, updated_at=now)
                if rng.random() < 0.5:
                    article.departments.add(rng.choice(departments))
                for language in languages[: min(3, count - done)]:
                    bank = PHRASES[language]
                    title = rng.choice(bank).capitalize()
                    body = ". ".join(rng.choice(bank) for _ in range(12))
                    vector = vectors.standard_normal(embedding.DIMENSIONS).astype("float32")
                    vector /= np.linalg.norm(vector)
                    translation = ArticleTranslation.objects.create(
                        article=article, language=language, title=title, slug=f"a{article.pk}", body_text=body,  # noqa: E501
                        state="public", created_at=now, updated_at=now,
                        embedding=embedding.to_bytes(vector), embedding_model=embedding.MODEL_NAME,
                    )  # fmt: skip
                    search._index_text(translation)
                    done += 1
        rate = done / (time.perf_counter() - started)
        log(f"seeded {done}/{count} translations, {rate:.0f}/s, ETA {(count - done) / rate:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--translations", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last run (no seeding)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the timed calls")
    parser.add_argument(
        "--repeat", action="store_true", help="the same few texts again and again (their vectors remembered)"
    )
    args = parser.parse_args()
    url = args.database_url or sqlite_url("kb_suggest")
    if not args.reuse:
        if url.startswith("sqlite"):
            remove_sqlite(url)
        else:
            ensure_database(url, fresh=True)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from sportello.accounts.models import Department
    from sportello.kb import embedding
    from sportello.kb.suggest import suggest

    call_command("migrate", verbosity=0)
    if not args.reuse:
        seed(args.translations)
        if connection.vendor == "postgresql":
            # What autovacuum does after a bulk load (it is off on some test clusters): the
            # planner's statistics and the visibility map the version check's index-only scan
            # relies on.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
    embedding.embed_one("warm the encoder up")
    departments = list(Department.objects.filter(slug__startswith="bench-").values_list("pk", flat=True))
    started = time.perf_counter()
    suggest(text=QUESTIONS[0][1], language="en", audience="customer")
    log(f"first call (builds the vector cache): {(time.perf_counter() - started) * 1000:.0f} ms")
    samples: list[float] = []
    cpu_samples: list[float] = []  # this process's CPU time: what a call costs, however loaded
    shown = 0
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    for i in range(args.requests):
        language, text = QUESTIONS[i % len(QUESTIONS)]
        if not args.repeat:  # each request a new text: the request's vector is not remembered
            text = f"{text} ({i})"
        department = departments[i % len(departments)] if i % 2 else None
        t, cpu = time.perf_counter(), time.process_time()
        shown += len(suggest(text=text, language=language, audience="customer", department_id=department))
        samples.append(time.perf_counter() - t)
        cpu_samples.append(time.process_time() - cpu)
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    print(f"{connection.vendor}, {args.translations} translations: suggest() {summary_ms(samples)}")
    print(
        f"  CPU time of this process per call (the database server's not counted): {summary_ms(cpu_samples)}"
    )
    log(f"{shown / len(samples):.1f} suggestions per call on average")


if __name__ == "__main__":
    main()
