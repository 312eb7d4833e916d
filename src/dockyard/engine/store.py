"""The containers the engine knows, in memory and in engine.db, and how a reference finds one.

A reference is, in dockerd's order: a full id, a name (with or without the leading "/"), then a
unique id prefix. A prefix shared by two containers is a 400 (moby's ErrAmbiguousPrefix
wording); nothing found is a 404 ``No such container: x``.
"""

from __future__ import annotations

from collections.abc import Iterator

from dockyard.engine.container import Container
from dockyard.engine.db import EngineDB
from dockyard.errors import Conflict, InvalidArgument, NotFound


class ContainerStore:
    def __init__(self, db: EngineDB) -> None:
        self.db = db
        self._by_id: dict[str, Container] = {}
        self._names: dict[str, str] = {}  # "/name" -> id
        # Names held by creates in progress: a create awaits (image lookup, volumes) between
        # choosing its name and storing the record, and two must not pick the same one.
        self._pending: dict[str, str] = {}
        for c in db.load():
            self._by_id[c.id] = c
            self._names[c.name] = c.id

    def __iter__(self) -> Iterator[Container]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def name_taken(self, name: str) -> bool:
        return name in self._names or name in self._pending

    def reserve(self, name: str, cid: str) -> None:
        self.reserve_check(name)
        self._pending[name] = cid

    def release(self, name: str) -> None:
        self._pending.pop(name, None)

    def reserve_check(self, name: str, cid: str | None = None) -> None:
        owner = self._names.get(name) or self._pending.get(name)
        if owner is not None and owner != cid:
            raise Conflict(
                f'Conflict. The container name "{name}" is already in use by container "{owner}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            )

    def add(self, c: Container) -> None:
        self.reserve_check(c.name, c.id)
        self.db.put(c)
        self._by_id[c.id] = c
        self._names[c.name] = c.id
        self._pending.pop(c.name, None)

    def save(self, c: Container) -> None:
        if c.id in self._by_id:
            self.db.put(c)

    def rename(self, c: Container, new_name: str) -> None:
        self.reserve_check(new_name)
        old = c.name
        c.name = new_name
        try:
            self.db.put(c)
        except BaseException:
            c.name = old
            raise
        del self._names[old]
        self._names[new_name] = c.id

    def remove(self, c: Container) -> None:
        self.db.delete(c.id)
        self._by_id.pop(c.id, None)
        if self._names.get(c.name) == c.id:
            del self._names[c.name]

    def find(self, ref: str) -> Container | None:
        c = self._by_id.get(ref)
        if c is not None:
            return c
        cid = self._names.get(ref if ref.startswith("/") else "/" + ref)
        if cid is not None:
            return self._by_id[cid]
        if not ref:
            return None
        matches = [c for cid, c in self._by_id.items() if cid.startswith(ref)]
        if len(matches) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        return matches[0] if matches else None

    def get(self, ref: str) -> Container:
        if not ref:
            raise InvalidArgument("No container name or ID supplied")
        c = self.find(ref)
        if c is None:
            raise NotFound(f"No such container: {ref}")
        return c
