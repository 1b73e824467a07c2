"""The persistent library of modules, on Chroma (embedded on disk, or a Chroma server)."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager, nullcontext
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

from agentlib.errors import StoreError
from agentlib.model import Module

MODULES = "modules"
_JSON_FIELDS = ("tests", "dependencies")


def _to_metadata(module: Module) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for f in fields(Module):
        value = getattr(module, f.name)
        meta[f.name] = json.dumps(value) if f.name in _JSON_FIELDS else value
    return meta


def _from_metadata(meta: dict[str, Any]) -> Module:
    values = {f.name: meta.get(f.name) for f in fields(Module) if f.name in meta}
    for name in _JSON_FIELDS:
        values[name] = json.loads(values.get(name) or "[]")
    return Module(**values)


def embedding_text(module: Module) -> str:
    """The text a module is found by: name, signature, docstring and its task."""
    return f"{module.signature}\n{module.docstring}\n{module.task_prompt}".strip()


class Library:
    """Modules with their tests and embeddings; every write is one atomic Chroma upsert."""

    def __init__(self, location: str, embedder: Any) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.location = location
        self.embedder = embedder
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        self._lock_path: Path | None = None
        if location.startswith(("http://", "https://")):
            url = urlparse(location)
            self.client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000,
                                              ssl=url.scheme == "https", settings=chroma_settings)
        else:
            path = Path(location).expanduser()
            path.mkdir(parents=True, exist_ok=True)
            self._lock_path = path / ".agentlib.lock"
            self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        meta = {"hnsw:space": "cosine", "embedder": embedder.name,
                "embedder_fingerprint": embedder.fingerprint}
        self.modules = self.client.get_or_create_collection(
            MODULES, metadata=meta, embedding_function=None)
        stored = self.modules.metadata or {}
        if stored.get("embedder_fingerprint") not in (None, embedder.fingerprint):
            raise StoreError(
                f"the library at {location} was embedded with {stored.get('embedder')} "
                f"({stored.get('embedder_fingerprint')}), not {embedder.name} "
                f"({embedder.fingerprint}); use the same embedder or re-index the library")

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        if self._lock_path is None:
            with nullcontext():
                yield
            return
        from filelock import FileLock

        with FileLock(str(self._lock_path), timeout=120):
            yield

    # ------------------------------------------------------------------ reads

    def get_by_id(self, module_id: str) -> Module | None:
        got = self.modules.get(ids=[module_id], include=["metadatas"])
        return _from_metadata(got["metadatas"][0]) if got["ids"] else None

    def get(self, name: str) -> Module | None:
        """Return the active module called `name`, if any."""
        got = self.modules.get(where={"$and": [{"name": name}, {"status": "active"}]},
                               include=["metadatas"])
        return _from_metadata(got["metadatas"][0]) if got["ids"] else None

    def list(self, status: str | None = "active") -> list[Module]:
        where = {"status": status} if status else None
        got = self.modules.get(where=where, include=["metadatas"])
        return sorted((_from_metadata(m) for m in got["metadatas"]), key=lambda m: m.name)

    def count(self) -> int:
        return self.modules.count()

    def search(self, text: str, k: int = 5) -> list[tuple[Module, float]]:
        """Return up to k active modules nearest to `text`, with cosine distances."""
        if k <= 0 or self.modules.count() == 0:
            return []
        vector = self.embedder.embed([text])[0]
        got = self.modules.query(query_embeddings=[vector], n_results=k,
                                 where={"status": "active"}, include=["metadatas", "distances"])
        return [(_from_metadata(m), d) for m, d in zip(got["metadatas"][0], got["distances"][0])]

    def program_for(self, module: Module) -> str:
        """Return self-contained source: dependencies in topological order, then the module."""
        order: list[Module] = []
        seen: set[str] = set()

        def visit(mod: Module, path: tuple[str, ...]) -> None:
            if mod.name in path:
                raise StoreError(f"dependency cycle: {' -> '.join(path + (mod.name,))}")
            if mod.name in seen:
                return
            for dep in mod.dependencies:
                dep_module = self.get(dep)
                if dep_module is None:
                    raise StoreError(f"{mod.name} depends on {dep}, which is not in the library")
                visit(dep_module, path + (mod.name,))
            seen.add(mod.name)
            order.append(mod)

        visit(module, ())
        return "\n\n".join(m.source.strip() for m in order) + "\n"

    # ------------------------------------------------------------------ writes

    def add(self, module: Module) -> Module:
        """Store a module (all or nothing); the same code again only merges its tests."""
        with self._write_lock():
            existing = self.get_by_id(module.id)
            if existing is not None:
                merged = list(dict.fromkeys(existing.tests + module.tests))
                if merged != existing.tests:
                    existing.tests = merged
                    self._upsert(existing)
                return existing
            for dep in module.dependencies:
                if self.get(dep) is None:
                    raise StoreError(f"{module.name} calls {dep}, which is not in the library")
            previous = self.get(module.name)
            if previous is not None:
                previous.status = "superseded"
                module.version = previous.version + 1
                self._upsert(previous)
            module.created_at = module.created_at or time.time()
            self._upsert(module)
            return module

    def update_counters(self, module_id: str, **increments: int) -> None:
        """Add to a module's counters (times_retrieved, times_reused, times_failed)."""
        with self._write_lock():
            module = self.get_by_id(module_id)
            if module is None:
                return
            for name, value in increments.items():
                setattr(module, name, getattr(module, name) + value)
            self._upsert(module)

    def _upsert(self, module: Module) -> None:
        vector = self.embedder.embed([embedding_text(module)])[0]
        self.modules.upsert(ids=[module.id], embeddings=[vector],
                            documents=[embedding_text(module)],
                            metadatas=[_to_metadata(module)])
