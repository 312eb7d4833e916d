"""Docker token scopes (``repository:<name>:<actions>``) and the actions each level grants."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.registry.auth.accounts import ADMIN, PULL, PUSH

#: The least level each action needs. "*" is Docker's "every action" (delete included).
ACTION_LEVEL = {"pull": PULL, "push": PUSH, "delete": ADMIN, "*": ADMIN}


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


def parse_scope(text: str) -> Scope | None:
    """``repository:org/app:pull,push``; names may hold ":" (not in ours), so split at both ends."""
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not name:
        return None
    return Scope(kind, name, frozenset(a for a in actions.split(",") if a))


def allowed_actions(level: int, wanted: frozenset[str]) -> list[str]:
    return sorted(a for a in wanted if a in ACTION_LEVEL and level >= ACTION_LEVEL[a])


def needed_level(actions: frozenset[str]) -> int:
    return max((ACTION_LEVEL.get(a, ADMIN) for a in actions), default=PULL)
