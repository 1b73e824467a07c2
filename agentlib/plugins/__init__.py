"""The plugin manager (pluggy over the `agentlib` entry-point group), built by a factory.

Built-in backends register through the same hooks as installed plugins. A plugin that fails
to import, does not match the hookspecs, or raises in a hook never takes agentlib down: it is
recorded as failed (see :class:`PluginRecord` and ``agentlib plugins``), warned about once per
process, and agentlib goes on without it.

Which entry points load: all of them, unless ``AGENTLIB_PLUGINS=a,b`` names the ones to load
(entry-point or distribution names; empty: none) or ``AGENTLIB_NO_PLUGINS=1`` / ``--no-plugins``
/ ``make_plugin_manager(load_entry_points=False)`` turns them off.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import pluggy

from agentlib.errors import PluginError

hookimpl = pluggy.HookimplMarker("agentlib")

ENTRY_POINT_GROUP = "agentlib"
BUILTIN = "agentlib.builtin"
Status = Literal["loaded", "failed", "disabled"]
Validator = Callable[[str, str, list[str]], "str | None"]


class PluginWarning(UserWarning):
    """A plugin failed; agentlib goes on without it."""


@dataclass
class PluginRecord:
    """What agentlib knows about one plugin: where it comes from and whether it works."""

    name: str
    distribution: str = ""
    version: str = ""
    hooks: list[str] = field(default_factory=list)
    status: Status = "loaded"
    error: str = ""
    builtin: bool = False


@dataclass(frozen=True)
class ReplCommand:
    """A REPL command a plugin added."""

    name: str
    handler: Callable[[Any, str], Any]
    """Called as ``handler(session, arg)``."""
    help: str
    plugin: str


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that also keeps a :class:`PluginRecord` per plugin."""

    def __init__(self) -> None:
        super().__init__("agentlib")
        self.records: dict[str, PluginRecord] = {}

    def fail(self, name: str, error: str) -> None:
        """Mark plugin `name` failed with `error` and warn once per process."""
        record = self.records.setdefault(name, PluginRecord(name))
        record.status = "failed"
        record.error = f"{record.error}; {error}" if record.error else error
        _warn_once(name, error)


_WARNED: set[tuple[str, str]] = set()


def _warn_once(name: str, error: str) -> None:
    if (name, error) in _WARNED:
        return
    _WARNED.add((name, error))
    warnings.warn(f"plugin {name!r} failed and is skipped: {error}. See `agentlib plugins`; "
                  "AGENTLIB_PLUGINS=… or --no-plugins limits which plugins load.",
                  PluginWarning, stacklevel=3)


def entry_points_enabled() -> bool:
    """Tell whether installed plugins load by default (not when AGENTLIB_NO_PLUGINS is set)."""
    return os.environ.get("AGENTLIB_NO_PLUGINS", "") in ("", "0")


def _wanted() -> set[str] | None:
    """The names in AGENTLIB_PLUGINS (normalised), or None when it is unset."""
    raw = os.environ.get("AGENTLIB_PLUGINS")
    if raw is None:
        return None
    return {_normal(n) for n in raw.split(",") if n.strip()}


def _normal(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def make_plugin_manager(load_entry_points: bool | None = None) -> PluginManager:
    """Build a plugin manager with the built-in plugins and, unless turned off, installed ones.

    :param load_entry_points: load the `agentlib` entry points; None (the default) loads them
        unless ``AGENTLIB_NO_PLUGINS`` is set.
    """
    from agentlib import __version__
    from agentlib.plugins import builtin, hookspecs

    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    pm.register(builtin, name=BUILTIN)
    pm.records[BUILTIN] = PluginRecord(BUILTIN, "agentlib", __version__,
                                       _hooks_of(pm, builtin), builtin=True)
    if load_entry_points is None:
        load_entry_points = entry_points_enabled()
    _load_entry_points(pm, load_entry_points)
    return pm


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


def _load_entry_points(pm: PluginManager, enabled: bool) -> None:
    from importlib.metadata import entry_points

    wanted = _wanted()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else ""
        record = PluginRecord(ep.name, dist, ep.dist.version if ep.dist is not None else "")
        if ep.name in pm.records:
            continue  # the same distribution seen twice on sys.path
        pm.records[ep.name] = record
        if not enabled:
            record.status, record.error = "disabled", "not loaded: --no-plugins"
            continue
        if wanted is not None and not {_normal(ep.name), _normal(dist)} & wanted:
            record.status, record.error = "disabled", "not loaded: not in AGENTLIB_PLUGINS"
            continue
        try:
            plugin = ep.load()
        except (Exception, SystemExit) as exc:  # any failure of foreign code is the plugin's
            pm.fail(ep.name, f"import of {ep.value} failed: {type(exc).__name__}: {exc}")
            continue
        try:
            pm.register(plugin, name=ep.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            pm.fail(ep.name, f"does not match agentlib's hooks: {exc}")
            continue
        unknown = sorted(c.name for c in pm.get_hookcallers(plugin) or [] if not c.has_spec())
        if unknown:
            pm.unregister(plugin)
            pm.fail(ep.name, f"implements hooks this agentlib does not have: "
                             f"{', '.join(unknown)} (upgrade agentlib or the plugin)")
            continue
        record.hooks = _hooks_of(pm, plugin)


def plugin_records(pm: PluginManager) -> list[PluginRecord]:
    """Return every plugin's record: built-ins first, then plugins by name."""
    return sorted(pm.records.values(), key=lambda r: (not r.builtin, r.name))


def _call_each(pm: PluginManager, hook_name: str, kind: str, **kwargs: Any,
               ) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """Call every implementation of a register-hook on its own; return {name: (plugin, args)}.

    Registrations of an implementation that raises are dropped and its plugin is marked
    failed; a built-in that raises is agentlib's own bug and propagates.
    """
    found: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin = impl.plugin_name
        if impl.hookwrapper or impl.wrapper:
            continue
        if pm.records.get(plugin) is not None and pm.records[plugin].status == "failed":
            continue
        added: dict[str, tuple[str, tuple[Any, ...]]] = {}

        def register(name: str, *values: Any, _plugin: str = plugin,
                     _added: dict = added) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"registered a {kind} without a name ({name!r})")
            if not values or not callable(values[0]):
                raise PluginError(f"registered {kind} {name!r} with {values[:1]!r}, "
                                  "which is not callable")
            owner = found.get(name, _added.get(name, (None,)))[0]
            if owner is not None:
                raise PluginError(f"registers the {kind} {name!r}, which {owner} already "
                                  "registered; rename it")
            _added[name] = (_plugin, values)

        args = dict(kwargs, register=register)
        try:
            impl.function(*(args[a] for a in impl.argnames))
        except (Exception, SystemExit) as exc:
            if plugin == BUILTIN:
                raise
            pm.fail(plugin, f"{hook_name} raised {type(exc).__name__}: {exc}")
            continue
        found.update(added)
    return found


def llm_factories(pm: PluginManager) -> dict[str, Callable[..., Any]]:
    """Return {name: factory(settings)} for every registered LLM backend."""
    return {n: v[0] for n, (_, v) in _call_each(pm, "register_llms", "LLM backend").items()}


def embedder_factories(pm: PluginManager) -> dict[str, Callable[..., Any]]:
    """Return {name: factory()} for every registered embedder."""
    return {n: v[0] for n, (_, v) in _call_each(pm, "register_embedders", "embedder").items()}


def module_packs(pm: PluginManager) -> dict[str, Callable[[], list[Any]]]:
    """Return {name: loader()} for every registered module pack."""
    return {n: v[0] for n, (_, v) in
            _call_each(pm, "register_module_packs", "module pack").items()}


def validators(pm: PluginManager) -> dict[str, Validator]:
    """Return {name: validator(source, entry_point, tests) -> reason | None}.

    Each validator is wrapped: one that raises marks its plugin failed and accepts (returns
    None), so a broken validator never blocks a candidate nor stops the agent.
    """
    return {name: _guarded(pm, plugin, name, values[0]) for name, (plugin, values) in
            _call_each(pm, "register_validators", "validator").items()}


def _guarded(pm: PluginManager, plugin: str, name: str, validator: Validator) -> Validator:
    def run(source: str, entry_point: str, tests: list[str]) -> str | None:
        try:
            reason = validator(source, entry_point, list(tests))
        except (Exception, SystemExit) as exc:
            if plugin == BUILTIN:
                raise
            pm.fail(plugin, f"validator {name!r} raised {type(exc).__name__}: {exc}")
            return None
        if reason is not None and not isinstance(reason, str):
            pm.fail(plugin, f"validator {name!r} returned {type(reason).__name__}, "
                            "not str or None")
            return None
        return reason or None

    run.__name__ = f"validator_{name}"
    run.__doc__ = getattr(validator, "__doc__", None)
    return run


def run_validators(pm: PluginManager, source: str, entry_point: str,
                   tests: list[str]) -> list[str]:
    """Run every registered validator on a candidate; return the rejections as "name: reason".

    An empty list means every validator accepted the candidate.
    """
    return apply_validators(validators(pm), source, entry_point, tests)


def apply_validators(found: dict[str, Validator], source: str, entry_point: str,
                     tests: list[str]) -> list[str]:
    """Run the validators `found` (see `validators`) on a candidate; return "name: reason"s."""
    rejections = []
    for name, validator in found.items():
        reason = validator(source, entry_point, list(tests))
        if reason is not None:
            rejections.append(f"{name}: {reason}")
    return rejections


def repl_commands(pm: PluginManager) -> dict[str, ReplCommand]:
    """Return {name: ReplCommand} for every command plugins add to the REPL."""
    commands = {}
    for name, (plugin, values) in _call_each(pm, "register_repl_commands",
                                             "REPL command").items():
        help_text = values[1] if len(values) > 1 and isinstance(values[1], str) else ""
        commands[name] = ReplCommand(name, values[0], help_text, plugin)
    return commands


def add_commands(pm: PluginManager, app: Any) -> None:
    """Let every plugin add CLI commands to `app`; a plugin that raises adds none."""
    for impl in pm.hook.register_commands.get_hookimpls():
        plugin = impl.plugin_name
        if impl.hookwrapper or impl.wrapper or (
                plugin in pm.records and pm.records[plugin].status == "failed"):
            continue
        commands, groups = list(app.registered_commands), list(app.registered_groups)
        try:
            impl.function(app=app)
        except (Exception, SystemExit) as exc:
            if plugin == BUILTIN:
                raise
            app.registered_commands[:] = commands
            app.registered_groups[:] = groups
            pm.fail(plugin, f"register_commands raised {type(exc).__name__}: {exc}")


def probe_hooks(pm: PluginManager, app: Any = None) -> None:
    """Call every registration hook once, so a plugin that raises in one is recorded as failed.

    :param app: the typer app plugins add their commands to; None: a throwaway one.
    """
    if app is None:
        import typer

        app = typer.Typer()
    add_commands(pm, app)
    llm_factories(pm)
    embedder_factories(pm)
    module_packs(pm)
    validators(pm)
    repl_commands(pm)


__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "PluginManager", "PluginRecord", "PluginWarning",
           "ReplCommand", "Validator", "add_commands", "apply_validators", "embedder_factories",
           "entry_points_enabled", "hookimpl", "llm_factories", "make_plugin_manager",
           "module_packs", "plugin_records", "probe_hooks", "repl_commands", "run_validators",
           "validators"]
