"""Who makes a change, and through which way in. Plain data passed down from the edges."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind=ActorKind.SYSTEM, id=None, label=label)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else str(self.kind)
