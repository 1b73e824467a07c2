"""Assemble once per process: settings, plugin manager, LLM, embedder, validators, library.

`Runtime` is what the agent, the REPL, `doctor`, `packs`, the benchmarks and the CLI take.
Everything in it is built on first use and then kept: the plugin manager when a backend,
validator or pack is first looked up, the embedder and the library when the library is first
opened, the LLM only when a task needs it (reusing a stored module never builds it).
Importing this module imports nothing heavy (no chromadb, torch, llama.cpp or langgraph).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any, Callable, Literal

from agentlib.config import Settings
from agentlib.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agentlib.library.store import Library
    from agentlib.llm import LLM
    from agentlib.model import Check, TestCase
    from agentlib.plugins import PluginManager
    from agentlib.sandbox import Limits

BackendKind = Literal["llm", "embedder"]
_UNKNOWN = {"llm": ("LLM backend", "--llm / AGENTLIB_LLM"),
            "embedder": ("embedder", "AGENTLIB_EMBEDDER")}
_LLM_SETTINGS = ("llm", "model", "base_url", "recordings")


class Runtime:
    """The services of one process, each built once, on first use.

    :param settings: the run's settings (default: from the environment and config file,
        read on first use, so a runtime for plugins alone never reads them).
    :param pm: a plugin manager to use instead of building one (tests pass built-ins only).
    :param llm: an LLM to use instead of the configured backend.
    :param library: an open library to use instead of opening `settings.store`.
    :param embedder: an embedder to use instead of the configured one.
    """

    def __init__(self, settings: Settings | None = None, *, pm: "PluginManager | None" = None,
                 llm: "LLM | None" = None, library: "Library | None" = None,
                 embedder: Any = None) -> None:
        self._settings = settings
        self._pm = pm
        self._llm = llm
        self._library = library
        self._embedder = embedder
        self._backends: dict[str, dict[str, Callable[..., Any]]] = {}
        self._validators: dict[str, Callable[[str, str, list[str]], str | None]] | None = None
        self._checks: dict[str, Callable[[str, str, list[str]], Any]] | None = None
        self._packs: dict[str, Callable[[], list[Any]]] | None = None
        self._locks = {name: threading.RLock() for name in ("pm", "llm", "embedder", "library")}

    @property
    def settings(self) -> Settings:
        """The run's settings."""
        if self._settings is None:
            self._settings = Settings()
        return self._settings

    # ------------------------------------------------------------------ plugins

    @property
    def pm(self) -> "PluginManager":
        """The plugin manager: built-ins plus the installed plugins that are turned on."""
        with self._locks["pm"]:
            if self._pm is None:
                from agentlib.plugins import make_plugin_manager

                self._pm = make_plugin_manager()
            return self._pm

    def backends(self, kind: BackendKind) -> dict[str, Callable[..., Any]]:
        """Return {name: factory} of every registered backend of `kind` (looked up once)."""
        with self._locks["pm"]:
            if kind not in self._backends:
                from agentlib.plugins import embedder_factories, llm_factories

                look_up = llm_factories if kind == "llm" else embedder_factories
                self._backends[kind] = look_up(self.pm)
            return self._backends[kind]

    def backend(self, kind: BackendKind, name: str) -> Callable[..., Any]:
        """Return the factory of backend `name`; UsageError names the known ones."""
        found = self.backends(kind)
        if name not in found:
            what, where = _UNKNOWN[kind]
            raise UsageError(f"unknown {what} {name!r}; available: {', '.join(sorted(found))} "
                             f"(set {where})")
        return found[name]

    @property
    def packs(self) -> dict[str, Callable[[], list[Any]]]:
        """The module packs plugins register: {name: loader} (looked up once)."""
        with self._locks["pm"]:
            if self._packs is None:
                from agentlib.plugins import module_packs

                self._packs = module_packs(self.pm)
            return self._packs

    @property
    def validators(self) -> dict[str, Callable[[str, str, list[str]], str | None]]:
        """The validators plugins register, by name (looked up once)."""
        with self._locks["pm"]:
            if self._validators is None:
                from agentlib.plugins import validators

                self._validators = validators(self.pm)
            return self._validators

    def validate(self, program: str, entry_point: str, tests: list[str]) -> list[str]:
        """Run every validator on a candidate that passed its tests; return "name: reason"s.

        An empty list means every validator accepted it.
        """
        from agentlib.plugins import apply_validators

        return apply_validators(self.validators, program, entry_point, tests)

    def checks(self, candidate: str, program: str, entry_point: str,
               tests: "Sequence[TestCase]", prompt: str = "") -> "list[Check]":
        """Run every check on a candidate that passed its tests (`verify.candidate_checks`
        with the plugins' validators); return one `agentlib.model.Check` per check."""
        from agentlib.plugins import checks
        from agentlib.verify.checks import candidate_checks

        with self._locks["pm"]:
            if self._checks is None:
                self._checks = checks(self.pm)
            found = self._checks

        def plugin_checks(source: str, entry: str, sources: list[str]) -> "list[Check]":
            return [check(source, entry, sources) for check in found.values()]

        return candidate_checks(candidate, program, entry_point, tests, plugin_checks, prompt)

    # ------------------------------------------------------------------ the LLM

    def make_llm(self) -> "LLM":
        """Build a new LLM for the configured backend and model (not kept; see `llm`)."""
        return self.backend("llm", self.settings.llm)(self.settings)

    def llm(self) -> "LLM":
        """The LLM, built (and loaded) on first use, then kept."""
        with self._locks["llm"]:
            if self._llm is None:
                self._llm = self.make_llm()
            return self._llm

    @property
    def loaded_llm(self) -> "LLM | None":
        """The LLM if it was built already (None: nothing has needed it)."""
        return self._llm

    # ------------------------------------------------------------------ the library

    def embedder(self) -> Any:
        """The configured embedder, built on first use, then kept."""
        with self._locks["embedder"]:
            if self._embedder is None:
                self._embedder = self.backend("embedder", self.settings.embedder)()
            return self._embedder

    @property
    def library(self) -> "Library | None":
        """The library at `settings.store`, opened on first use; None with `use_library` off."""
        if not self.settings.use_library:
            return None
        with self._locks["library"]:
            if self._library is None:
                self._library = self.open_library()
            return self._library

    def open_library(self, *, check_embedder: bool = True, create: bool = True) -> "Library":
        """Open the library at `settings.store` now, with the configured embedder (not kept).

        `check_embedder=False` opens a library embedded by another model (to reindex it);
        `create=False` refuses (StoreError) a directory that holds no library yet.
        """
        from agentlib.library.remote import Patience
        from agentlib.library.store import Library

        return Library(self.settings.store, self.embedder(), check_embedder=check_embedder,
                       create=create, patience=Patience.from_settings(self.settings))

    @property
    def limits(self) -> "Limits":
        """The sandbox limits of one test run."""
        from agentlib.sandbox import Limits

        return Limits(timeout_s=self.settings.test_timeout_s)

    # ------------------------------------------------------------------ variants

    def derive(self, *, llm: "LLM | None" = None, **changes: Any) -> "Runtime":
        """Return a runtime with some settings changed that shares what does not depend on them.

        The plugin manager and the embedder are shared; the LLM too unless `llm` replaces it
        or a setting of its (llm, model, base_url, recordings) changes; the library unless
        `store` or `embedder` changes. Without changes the settings object itself is shared.
        E.g. ``runtime.derive(store=path, use_library=True)``.
        """
        settings = dataclasses.replace(self.settings, **changes) if changes else self.settings
        same_llm = all(getattr(settings, f) == getattr(self.settings, f) for f in _LLM_SETTINGS)
        if llm is None and same_llm:
            llm = self._llm
        same_library = settings.store == self.settings.store and settings.embedder == \
            self.settings.embedder
        return Runtime(settings, pm=self.pm, llm=llm,
                       library=self._library if same_library else None,
                       embedder=self._embedder if settings.embedder == self.settings.embedder
                       else None)
