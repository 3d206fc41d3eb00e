"""`/kb/files/<id>/<name>`: an article's files, to anyone when the article is public, to the
agents who may read it otherwise."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from sportello.kb import services

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n0000"


def test_files_follow_the_articles_visibility(
    desk: Any, kb_article: Any, now: datetime, attachment_store: Any, browser: Any
) -> None:
    image = services.attachment_add(
        article=kb_article,
        filename="label.png",
        content_type="image/png",
        data=PNG,
        actor=desk.agent,
        now=now,
    )
    url = f"/kb/files/{image.pk}/label.png"
    services.translation_save(
        article=kb_article,
        language="en",
        title="Returns",
        body_html="",
        state="internal",
        actor=desk.agent,
        now=now,
    )
    assert Client().get(url).status_code == 404
    r = browser(desk.light).get(url)
    assert (r.status_code, b"".join(r.streaming_content), r["Content-Type"]) == (200, PNG, "image/png")
    assert r["Content-Disposition"].startswith("inline")
    services.translation_save(
        article=kb_article,
        language="en",
        title="Returns",
        body_html="",
        state="public",
        actor=desk.agent,
        now=now,
    )
    assert Client().get(url).status_code == 200
    assert Client().get(f"/kb/files/{image.pk + 1}/x.png").status_code == 404
