"""The former path of the notifications app's background jobs (`jobs`): jobs queued under it
before the rename still find their task here."""

from .jobs import prune_customer_notifications

__all__ = ["prune_customer_notifications"]
