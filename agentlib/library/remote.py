"""A Chroma server as a library: a timeout on every request, retries through short outages.

Chroma's HTTP client waits forever for an answer and gives up at the first dropped
connection. Here every request has `server_timeout_s`, and a request that fails in transport
(refused or dropped connection, timeout) is retried `server_retries` times with doubling
back-off before `LibraryUnavailable` says so. Retrying is safe because every call agentlib
makes is idempotent: reads, `add` (create-if-absent: an id already stored is left as it is,
see docs/scale-out.md), `upsert`, `update` and `delete` of given ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar
from urllib.parse import urlparse

from agentlib.errors import StoreError

MAX_BACKOFF_S = 8.0
T = TypeVar("T")

_COLLECTION_CALLS = frozenset({"add", "upsert", "update", "delete", "get", "query", "count",
                               "modify", "peek"})
_CLIENT_CALLS = frozenset({"get_collection", "get_or_create_collection", "create_collection",
                           "delete_collection", "list_collections", "heartbeat"})


class LibraryUnavailable(StoreError):
    """The library server did not answer, even after the configured retries."""


@dataclass(frozen=True)
class Patience:
    """How long the library waits: for the write lock, and for a server through an outage."""

    lock_timeout_s: float = 300.0
    server_timeout_s: float = 120.0
    server_retries: int = 3
    server_backoff_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> "Patience":
        return cls(settings.lock_timeout_s, settings.server_timeout_s,
                   max(0, settings.server_retries), max(0.0, settings.server_backoff_s))


def _transport_failure(exc: BaseException) -> bool:
    """True for a refused or dropped connection or a timeout (chromadb lets httpx's through,
    or wraps one as the cause of its own error)."""
    import httpx

    return any(isinstance(e, httpx.TransportError) for e in (exc, exc.__cause__, exc.__context__))


def with_retries(call: Callable[[], T], location: str, patience: Patience, what: str) -> T:
    """Run `call`, retrying transport failures with back-off; raise LibraryUnavailable after."""
    start = time.monotonic()
    failures: list[str] = []
    for attempt in range(patience.server_retries + 1):
        if attempt:
            time.sleep(min(patience.server_backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - re-raised unless it is a transport failure
            if not _transport_failure(exc):
                raise
            failures.append(f"{type(exc).__name__}: {exc}".strip(": "))
    raise LibraryUnavailable(
        f"the library server at {location} did not answer ({what}) in {len(failures)} "
        f"tries over {time.monotonic() - start:.0f} s; last: {failures[-1]}. Check that "
        "`chroma run` is up there; the settings server_timeout_s, server_retries and "
        "server_backoff_s say how long to wait")


class Retrying:
    """A Chroma HTTP client or collection whose calls go through `with_retries`; a collection
    that a call returns is wrapped the same way (so a client's collections retry too)."""

    def __init__(self, target: Any, location: str, patience: Patience) -> None:
        self._target = target
        self._location = location
        self._patience = patience
        self._collection = hasattr(target, "upsert")

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name not in (_COLLECTION_CALLS if self._collection else _CLIENT_CALLS):
            return value
        what = f"{name} on {self._target.name}" if self._collection else name

        def call(*args: Any, **kwargs: Any) -> Any:
            got = with_retries(lambda: value(*args, **kwargs), self._location, self._patience,
                               what)
            return Retrying(got, self._location, self._patience) if hasattr(got, "upsert") \
                else got
        return call


def open_http_client(location: str, patience: Patience) -> Retrying:
    """Connect to the Chroma server at `location`, waiting through an outage like any call."""
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    url = urlparse(location)
    host, port, ssl = url.hostname, url.port or 8000, url.scheme == "https"
    timeout = httpx.Timeout(patience.server_timeout_s)

    def heartbeat() -> None:  # the client's own first request has no timeout
        scheme = "https" if ssl else "http"
        httpx.get(f"{scheme}://{host}:{port}/api/v2/heartbeat", timeout=timeout)

    with_retries(heartbeat, location, patience, "heartbeat")

    def connect() -> Any:
        return chromadb.HttpClient(host=host, port=port, ssl=ssl,
                                   settings=ChromaSettings(anonymized_telemetry=False))

    client = with_retries(connect, location, patience, "connect")
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:  # chromadb's httpx session is made with timeout=None
        session.timeout = timeout
    return Retrying(client, location, patience)
