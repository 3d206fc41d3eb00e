"""Who makes a change, and through which way in. Plain data passed down from the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ActorKind(StrEnum):
    AGENT = "agent"
    CONTACT = "contact"
    RULE = "rule"
    SLA = "sla"
    BLUEPRINT = "blueprint"
    SYSTEM = "system"


class Via(StrEnum):
    WEB = "web"
    API = "api"
    EMAIL = "email"
    PORTAL = "portal"
    CHAT = "chat"
    PHONE = "phone"
    RULE = "rule"
    SYSTEM = "system"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: int | None = None
    label: str = ""
    # The user or contact behind an agent's or a contact's actor, as the edge that made the
    # actor read it in this request (its authentication); the pipeline checks permissions on it
    # instead of reading it again. Not part of the actor's identity.
    principal: Any = field(default=None, compare=False, hash=False, repr=False)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind=ActorKind.SYSTEM, id=None, label=label)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else str(self.kind)
