"""Full-text search of the knowledge base: accents folded, each language stemmed by its own
rules, OR semantics ranked, visibility and departments applied, any text a valid query."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from kb_suggest_data import build_kb
from sportello.kb import embedding, search, text
from sportello.kb.models import ArticleTranslation
from sportello.kb.search import search_translations

PUBLIC = ["public"]


@pytest.fixture
def kb(desk: Any) -> Any:
    return build_kb(departments={"electronics": desk.electronics, "books": desk.books})


def keys(hits: list[Any], kb: Any) -> list[tuple[str, str]]:
    by_id = {t.pk: key for key, t in kb.translations.items()}
    return [by_id[h.translation_id] for h in hits]


@pytest.mark.parametrize(
    ("a", "b", "language"),
    [("perché", "perche", "it"), ("devolución", "devolucion", "es"), ("rimborsi", "rimborso", "it"),
     ("devoluciones", "devolución", "es"), ("contraseña", "contrasena", "es")],
)  # fmt: skip
def test_accented_and_plain_spellings_and_inflections_share_a_term(a: str, b: str, language: str) -> None:
    assert set(text.word_forms(a, language)) & set(text.word_forms(b, language))


def test_stop_words_are_left_out_and_each_language_keeps_its_own_stems() -> None:
    assert text.index_terms("How do I get a refund", "en") == "refund"
    assert text.index_terms("Perché il mio ordine è in ritardo?", "it") == "perc ordin ritard"
    assert text.query_terms("rimborsi", ["it"]) == ["rimbors"]


@pytest.mark.parametrize(
    ("query", "language", "expected"),
    [
        ("perche", "it", ("late-order", "it")),
        ("perché ritardo", "it", ("late-order", "it")),
        ("devolucion", "es", ("refund", "es")),
        ("devoluciones", "es", ("refund", "es")),
        ("rimborsi", "it", ("refund", "it")),
        ("rimborso", "it", ("refund", "it")),
        ("refunds", "en", ("refund", "en")),
    ],
)
def test_folded_and_inflected_queries_find_the_translation(
    kb: Any, query: str, language: str, expected: Any
) -> None:
    hits = search_translations(query=query, states=PUBLIC, language=language)
    assert keys(hits, kb)[:1] == [expected]


def test_a_long_request_matches_on_any_of_its_words(kb: Any) -> None:
    query = (
        "Hello, I bought a blue lamp last month and it never worked, I would like my money back as a refund"
    )
    assert keys(search_translations(query=query, states=PUBLIC, language="en"), kb)[0] == ("refund", "en")


def test_a_word_in_the_title_ranks_above_the_same_word_in_the_text(kb: Any) -> None:
    # "order" is in the title of "Why is my order late?" and only in the text of the refund article.
    hits = keys(search_translations(query="order", states=PUBLIC, language="en"), kb)
    assert hits[0] == ("late-order", "en")
    assert ("refund", "en") in hits


def test_states_language_archive_and_department_filter_the_hits(kb: Any, desk: Any) -> None:
    assert keys(search_translations(query="fraud", states=PUBLIC), kb) == []
    assert keys(search_translations(query="fraud", states=["public", "internal"]), kb) == [("fraud", "en")]
    assert keys(search_translations(query="prices", states=["public", "internal"]), kb) == []  # a draft
    assert ("old-refund", "en") not in keys(
        search_translations(query="refund", states=PUBLIC), kb
    )  # archived
    assert keys(search_translations(query="rimborso", states=PUBLIC, language="it"), kb) == [("refund", "it")]
    # The battery article serves Electronics only; articles without departments serve all.
    assert keys(
        search_translations(query="battery", states=PUBLIC, department_id=desk.electronics.pk), kb
    ) == [("battery", "en")]
    assert keys(search_translations(query="battery", states=PUBLIC, department_id=desk.books.pk), kb) == []
    assert keys(
        search_translations(query="refund", states=PUBLIC, language="en", department_id=desk.books.pk), kb
    ) == [("refund", "en")]


def test_hits_the_filters_drop_from_the_ranked_rows_are_made_up_from_the_rest(
    kb: Any, desk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = "refund rimborso reembolso battery order"
    cases: list[dict[str, Any]] = [
        {"states": PUBLIC, "language": "it"},
        {"states": PUBLIC, "department_id": desk.books.pk},
        {"states": PUBLIC},
    ]
    expected = [keys(search_translations(query=query, **case), kb) for case in cases]
    assert all(expected)
    # Only the single best full-text row ranked before the filters: the same hits all the same.
    monkeypatch.setattr(search, "SQLITE_OVERFETCH", 0)
    monkeypatch.setattr(search, "SQLITE_MIN_RANKED", 1)
    assert [keys(search_translations(query=query, **case), kb) for case in cases] == expected


@pytest.mark.parametrize(
    "query",
    ['"', "'", 'refund"', "AND", "OR NOT", "refund AND OR", "*", "re*", "NEAR(refund", "title:refund",
     "^refund", "(", ")", "-refund", "+", "&|!", "a:b:c", "'); DROP TABLE kb_article; --", "\\", "%", "_",
     "😀 refund", "\x00", "<->", "refund <-> money", "!!!", "   ", ""],
)  # fmt: skip
def test_queries_with_metacharacters_never_error(kb: Any, query: str) -> None:
    hits = search_translations(query=query, states=PUBLIC)
    if "refund" in query:
        assert ("refund", "en") in keys(hits, kb)
    assert ArticleTranslation.objects.count() == 10  # nothing dropped


def test_indexing_stores_the_embedding_beside_the_translation(kb: Any) -> None:
    translation = ArticleTranslation.objects.get(pk=kb.translations[("refund", "it")].pk)
    assert translation.embedding_model == embedding.MODEL_NAME
    vector = embedding.from_bytes(translation.embedding)  # type: ignore[arg-type]
    assert vector.shape == (512,)
    assert abs(float(vector @ vector) - 1.0) < 1e-4


def test_a_deleted_translation_leaves_the_index(kb: Any) -> None:
    kb.translations[("password", "en")].delete()
    assert search_translations(query="password", states=PUBLIC) == []
    table = "kb_search_pg" if connection.vendor == "postgresql" else "kb_search_fts"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] == 9


def test_reindex_command_recomputes_embeddings_and_index_with_progress(kb: Any) -> None:
    ArticleTranslation.objects.update(embedding=None, embedding_model="")
    table = "kb_search_pg" if connection.vendor == "postgresql" else "kb_search_fts"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    out = StringIO()
    call_command("kb", "reindex", "--batch-size", "4", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("4/10 (40%)")
    assert "ETA" in lines[0]
    assert lines[2].startswith("10/10 (100%)")
    assert lines[-1].startswith("Reindexed 10 translations")
    assert ArticleTranslation.objects.filter(embedding_model=embedding.MODEL_NAME).count() == 10
    assert keys(search_translations(query="rimborso", states=PUBLIC), kb) == [("refund", "it")]


def test_titles_first_ranks_title_and_keyword_matches_alone_when_they_are_enough(kb: Any) -> None:
    # "order" is in the title of "Why is my order late?"; "card" only in the refund article's text.
    everything = keys(search_translations(query="order card", states=PUBLIC, language="en", limit=5), kb)
    assert set(everything) == {("late-order", "en"), ("refund", "en")}
    first = search_translations(query="order card", states=PUBLIC, language="en", limit=1, titles_first=True)
    assert keys(first, kb) == [("late-order", "en")]
    # Too few title matches for the limit: every match is ranked, as without the option.
    more = search_translations(query="order card", states=PUBLIC, language="en", limit=5, titles_first=True)
    assert set(keys(more, kb)) == set(everything)


def test_rows_of_translations_that_no_longer_exist_are_forgotten_and_never_returned(kb: Any) -> None:
    # given a full-text row whose translation is gone (what emptying the translations' table by
    # TRUNCATE leaves: the rows' table holds no foreign key)
    table = "kb_search_pg" if connection.vendor == "postgresql" else "kb_search_fts"
    refund = kb.translations[("refund", "it")]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (translation_id, document) SELECT 999999, document FROM {table} "
                "WHERE translation_id = %s",
                [refund.pk],
            )
        else:
            cursor.execute(
                f"INSERT INTO {table} (rowid, title, keywords, body) SELECT 999999, title, keywords, body "
                f"FROM {table} WHERE rowid = %s",
                [refund.pk],
            )
    # then a search never returns it
    assert keys(search_translations(query="rimborso", states=PUBLIC), kb) == [("refund", "it")]
    # and forgetting the orphans drops it alone; forgetting everything empties the table
    search.forget()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] == 10
        search.forget(orphans_only=False)
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] == 0
