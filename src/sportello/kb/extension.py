"""The knowledge base's part in every ticket change (`tickets.extensions`): once an agent's reply
or note is written, the articles of this desk's knowledge base it links to are recorded as the
ticket's linked articles (`kb.services.ticket_article_links_record`), in the same transaction.
A message without such a link costs no statement."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sportello.accounts.models import User
from sportello.tickets.models import AuthorKind

from . import services

if TYPE_CHECKING:
    from sportello.tickets.context import Context


class ArticleLinks:
    def written(self, ctx: Context) -> None:
        message, agent = ctx.message, ctx.principal
        if message is None or message.author_kind != AuthorKind.AGENT or not isinstance(agent, User):
            return
        services.ticket_article_links_record(
            ticket_id=ctx.ticket.pk, texts=(message.body_text, message.body_html), actor=agent, now=ctx.now
        )
