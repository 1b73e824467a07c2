"""The hooks agentlib calls; built-in backends implement them exactly like third-party plugins.

Every hook is a ``register_<things>(register)`` call: agentlib passes a ``register`` callable
and the plugin calls it once per thing it adds. No hook is ``firstresult``: every plugin's
implementation is called (built-ins first, then plugins in load order) and the return values
are ignored. A name registered twice keeps the first registration; the second plugin is
reported as failed in ``agentlib plugins``. A hook that raises marks its plugin failed and is
skipped; agentlib goes on without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    import typer

hookspec = pluggy.HookspecMarker("agentlib")


@hookspec
def register_llms(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register LLM backends.

    :param register: call ``register(name, factory)`` where ``factory(settings)`` returns an
        object satisfying :class:`agentlib.llm.LLM`; ``name`` is what ``--llm`` selects.
    :return: ignored.
    """


@hookspec
def register_embedders(register: Callable[[str, Callable[[], Any]], None]) -> None:
    """Register text embedders.

    :param register: call ``register(name, factory)`` where ``factory()`` returns an object
        with ``name``, ``fingerprint``, ``dimension`` and ``embed(texts) -> list[list[float]]``.
    :return: ignored.
    """


@hookspec
def register_module_packs(register: Callable[[str, Callable[[], list[Any]]], None]) -> None:
    """Register module packs: ready-made functions with their tests, for ``agentlib packs``.

    :param register: call ``register(name, loader)`` where ``loader()`` returns a list of
        entries, each a mapping (or :class:`agentlib.library.packs.PackEntry`) with ``name``
        (the function), ``source`` (self-contained Python defining it), ``tests`` (``assert``
        statements) and optionally ``docstring``. The loader runs only when the pack is
        listed or installed; every entry is re-verified in the sandbox before it is stored.
    :return: ignored.
    """


@hookspec
def register_validators(register: Callable[[str, Callable[..., str | None]], None]) -> None:
    """Register extra checks a candidate must pass before it is stored.

    :param register: call ``register(name, validator)`` where
        ``validator(source: str, entry_point: str, tests: list[str]) -> str | None``
        receives the self-contained program, the function the tests call and the tests'
        sources. Return ``None`` to accept the candidate, or a string saying why it is
        rejected (it is shown to the model as feedback). The candidate is untrusted: a
        validator must run it only through :func:`agentlib.sandbox.run`, never in-process.
        A validator that raises is treated as a broken plugin, not as a rejection.
    :return: ignored.
    """


@hookspec
def register_commands(app: "typer.Typer") -> None:
    """Add CLI sub-commands.

    :param app: the root ``typer.Typer``; call ``app.command()(fn)`` or
        ``app.add_typer(sub_app, name=...)``. Import heavy libraries inside the commands,
        not at module level, so ``agentlib --help`` stays instant.
    :return: ignored.
    """


@hookspec
def register_repl_commands(register: Callable[[str, Callable[..., Any], str], None]) -> None:
    """Add commands to ``agentlib repl``.

    :param register: call ``register(name, handler, help)``; when the user types
        ``/name rest of line`` the REPL calls ``handler(session, arg)`` with its session and
        the rest of the line, and lists ``help`` in ``/help``.
    :return: ignored.
    """
