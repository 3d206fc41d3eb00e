"""'Was this helpful?' votes and view counts: the services, and the page's form with and without
HTMX."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.core.errors import ValidationFailed
from sportello.kb import feedback
from sportello.kb.models import ArticleTranslation, ArticleVote
from sportello.kb.public_selectors import translation_feedback

pytestmark = pytest.mark.django_db


def counters(t: ArticleTranslation) -> tuple[int, int, int]:
    t.refresh_from_db()
    return t.helpful_count, t.unhelpful_count, t.view_count


# -- the services ------------------------------------------------------------------------------


def test_a_vote_is_recorded_and_counted(kb: Any, now: datetime) -> None:
    t = kb.tr(kb.track)
    vote = feedback.article_vote(translation=t, voter="v1", helpful=True, now=now)
    assert (vote.helpful, vote.comment, vote.created_at) == (True, "", now)
    assert counters(t) == (1, 0, 50)


def test_a_reader_changes_their_vote_and_the_counters_follow(kb: Any, now: datetime) -> None:
    t = kb.tr(kb.track)
    feedback.article_vote(translation=t, voter="v1", helpful=True, now=now)
    feedback.article_vote(translation=t, voter="v2", helpful=True, now=now)
    later = now + timedelta(minutes=1)
    vote = feedback.article_vote(translation=t, voter="v1", helpful=False, comment="Wrong courier", now=later)
    assert ArticleVote.objects.filter(translation=t).count() == 2
    assert (vote.helpful, vote.comment, vote.created_at, vote.updated_at) == (
        False,
        "Wrong courier",
        now,
        later,
    )
    assert counters(t) == (1, 1, 50)
    # a later vote without a comment keeps the comment
    feedback.article_vote(translation=t, voter="v1", helpful=False, now=later)
    assert ArticleVote.objects.get(translation=t, voter="v1").comment == "Wrong courier"


def test_votes_are_per_translation(kb: Any, now: datetime) -> None:
    en, es = kb.tr(kb.track), kb.tr(kb.track, "es")
    feedback.article_vote(translation=en, voter="v1", helpful=True, now=now)
    feedback.article_vote(translation=es, voter="v1", helpful=False, now=now)
    assert counters(en)[:2] == (1, 0)
    assert counters(es)[:2] == (0, 1)


@pytest.mark.parametrize(
    ("comment", "message"),
    [("x" * 2001, "must be at most 2000 characters"), ("a\x00b", "must not contain NUL characters")],
)
def test_a_bad_comment_is_refused_and_nothing_is_written(
    kb: Any, now: datetime, comment: str, message: str
) -> None:
    t = kb.tr(kb.track)
    with pytest.raises(ValidationFailed, match=message):
        feedback.article_vote(translation=t, voter="v1", helpful=False, comment=comment, now=now)
    assert not ArticleVote.objects.exists()
    assert counters(t) == (0, 0, 50)


def test_a_view_is_counted(kb: Any, now: datetime) -> None:
    t = kb.tr(kb.returns)
    feedback.article_viewed(translation=t, now=now)
    feedback.article_viewed(translation=t, now=now)
    assert counters(t) == (0, 0, 12)


def test_translation_feedback_gives_agents_the_counts_and_comments(desk: Any, kb: Any, now: datetime) -> None:
    t = kb.tr(kb.track)
    feedback.article_vote(translation=t, voter="v1", helpful=False, comment="Old link", now=now)
    feedback.article_vote(
        translation=t, voter=f"contact:{desk.alice.pk}", contact=desk.alice, helpful=True, comment="Great",
        now=now + timedelta(minutes=1),
    )  # fmt: skip
    feedback.article_vote(translation=t, voter="v3", helpful=True, now=now)
    feedback.article_vote(translation=kb.tr(kb.returns), voter="v1", helpful=False, comment="Other", now=now)
    result = translation_feedback(t)
    assert (result.helpful, result.unhelpful) == (2, 1)
    assert [(v.comment, v.helpful, v.contact) for v in result.comments] == [
        ("Great", True, desk.alice),
        ("Old link", False, None),
    ]


# -- the page ----------------------------------------------------------------------------------

TRACK = "/portal/kb/en/a/{pk}-track-your-order/"
VOTE = "/portal/kb/en/a/{pk}/vote/"


def test_views_are_counted_once_per_session(client: Client, kb: Any) -> None:
    t = kb.tr(kb.track)
    for _ in range(3):
        assert client.get(TRACK.format(pk=kb.track.pk)).status_code == 200
    assert counters(t)[2] == 51
    # another reader (another session) counts again; the redirect of a wrong slug does not
    other = Client()
    other.get(f"/portal/kb/en/a/{kb.track.pk}-old/")
    assert counters(t)[2] == 51
    other.get(TRACK.format(pk=kb.track.pk))
    assert counters(t)[2] == 52


def test_a_plain_form_vote_returns_to_the_article(client: Client, kb: Any) -> None:
    client.get(TRACK.format(pk=kb.track.pk))
    r = client.post(VOTE.format(pk=kb.track.pk), {"helpful": "no"})
    assert (r.status_code, r["Location"]) == (303, TRACK.format(pk=kb.track.pk) + "#kb-feedback")
    vote = ArticleVote.objects.get()
    assert (vote.helpful, vote.translation.language, vote.contact) == (False, "en", None)
    assert len(vote.voter) == 64
    assert str(client.session.session_key) not in vote.voter
    page = client.get(TRACK.format(pk=kb.track.pk)).content.decode()
    assert 'value="no" aria-pressed="true"' in page
    assert "How can we improve this article? (optional)" in page
    # then the comment
    r = client.post(VOTE.format(pk=kb.track.pk), {"helpful": "no", "comment": "  <b>Link</b> is broken  "})
    assert r.status_code == 303
    vote.refresh_from_db()
    assert (vote.helpful, vote.comment) == (False, "<b>Link</b> is broken")
    assert counters(kb.tr(kb.track))[:2] == (0, 1)


def test_a_vote_without_a_session_creates_one(client: Client, kb: Any) -> None:
    r = client.post(VOTE.format(pk=kb.track.pk), {"helpful": "yes"})
    assert r.status_code == 303
    assert client.session.session_key
    assert ArticleVote.objects.get().helpful is True


def test_a_signed_in_contact_votes_as_themselves(client: Client, desk: Any, kb: Any) -> None:
    session = client.session
    session["portal_contact_id"] = desk.alice.pk
    session.save()
    client.post(VOTE.format(pk=kb.track.pk), {"helpful": "yes"})
    client.post(VOTE.format(pk=kb.track.pk), {"helpful": "no"})
    vote = ArticleVote.objects.get()
    assert (vote.voter, vote.contact, vote.helpful) == (f"contact:{desk.alice.pk}", desk.alice, False)


def test_an_htmx_vote_answers_with_the_feedback_block(client: Client, kb: Any) -> None:
    r = client.post(VOTE.format(pk=kb.track.pk), {"helpful": "no"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="kb-feedback"')
    assert "<html" not in body
    assert "Thank you for your feedback." in body
    assert 'name="comment" rows="4" maxlength="2000" autofocus' in body
    r = client.post(
        VOTE.format(pk=kb.track.pk), {"helpful": "no", "comment": "Too short"}, headers={"HX-Request": "true"}
    )
    body = r.content.decode()
    assert "Thank you: your comment has been sent." in body
    assert 'name="comment"' not in body
    assert ArticleVote.objects.get().comment == "Too short"


def test_a_too_long_comment_is_an_inline_error_and_keeps_the_text(client: Client, kb: Any) -> None:
    client.post(VOTE.format(pk=kb.track.pk), {"helpful": "no"})
    long = "x" * 2001
    r = client.post(
        VOTE.format(pk=kb.track.pk), {"helpful": "no", "comment": long}, headers={"HX-Request": "true"}
    )
    body = r.content.decode()
    assert 'aria-invalid="true" aria-describedby="kb-comment-error"' in body
    assert "Your comment is too long: use at most 2000 characters." in body
    assert f">{long}</textarea>" in body
    assert ArticleVote.objects.get().comment == ""
    # without HTMX: the article again, with the error
    r = client.post(VOTE.format(pk=kb.track.pk), {"helpful": "no", "comment": long})
    assert r.status_code == 422
    assert "Your comment is too long" in r.content.decode()


def test_a_comment_is_escaped_on_output(client: Client, kb: Any) -> None:
    client.post(VOTE.format(pk=kb.track.pk), {"helpful": "no"})
    r = client.post(
        VOTE.format(pk=kb.track.pk),
        {"helpful": "no", "comment": "<script>x</script>"},
        headers={"HX-Request": "true"},
    )
    assert "<script>x" not in r.content.decode()


@pytest.mark.parametrize("answer", ["", "maybe", "1"])
def test_a_vote_must_be_yes_or_no(client: Client, kb: Any, answer: str) -> None:
    assert client.post(VOTE.format(pk=kb.track.pk), {"helpful": answer}).status_code == 404
    assert not ArticleVote.objects.exists()


def test_votes_on_hidden_articles_are_not_found(client: Client, kb: Any) -> None:
    for article in (kb.internal, kb.draft, kb.archived):
        assert client.post(VOTE.format(pk=article.pk), {"helpful": "yes"}).status_code == 404
    assert not ArticleVote.objects.exists()


def test_a_vote_needs_the_csrf_token(kb: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(VOTE.format(pk=kb.track.pk), {"helpful": "yes"}).status_code == 403
    assert not ArticleVote.objects.exists()
