"""Cross-cutting tables: named counters."""

from __future__ import annotations

from django.db import models


class Sequence(models.Model):
    """A gap-free counter (ticket numbers). Incremented with one UPDATE ... RETURNING under the
    row lock, inside the caller's transaction."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
