"""Which agents a note mentions: `@Full Name` or `@address@example.com`, case-insensitive,
not inside a longer word (`@Mart` does not mention "Marta"). The longest handle wins: with
agents "Marta" and "Marta Rossi", `@Marta Rossi` mentions only the second. Pure: it is given the
agents who may be mentioned and reads nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MENTION_MARK = "@"


@dataclass(frozen=True, slots=True)
class Mentionable:
    id: int
    name: str
    email: str


def mentioned(text: str, agents: Iterable[Mentionable]) -> list[int]:
    """The ids of `agents` that `text` mentions, each once, in the order they are found
    (longest handles first)."""
    if MENTION_MARK not in text:
        return []
    handles = [(h.strip(), a.id) for a in agents for h in (a.email, a.name) if h.strip()]
    handles.sort(key=lambda pair: -len(pair[0]))
    found: list[int] = []
    for handle, agent_id in handles:
        pattern = re.compile(rf"(?<![\w@.]){re.escape(MENTION_MARK + handle)}(?![\w@]|\.\w)", re.IGNORECASE)
        if pattern.search(text) is None:
            continue
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)  # not also a shorter handle's
        if agent_id not in found:
            found.append(agent_id)
    return found
