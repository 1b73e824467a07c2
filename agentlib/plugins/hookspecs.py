"""The hooks agentlib calls; built-in backends implement them exactly like third-party plugins."""

from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("agentlib")


@hookspec
def register_llms(register: Callable[..., None]) -> None:
    """Register LLM backends.

    :param register: call ``register(name, factory)`` where ``factory(settings)`` returns an
        object satisfying :class:`agentlib.llm.LLM`.
    """


@hookspec
def register_embedders(register: Callable[..., None]) -> None:
    """Register text embedders.

    :param register: call ``register(name, factory)`` where ``factory()`` returns an object
        with ``name``, ``fingerprint``, ``dimension`` and ``embed(texts) -> list[list[float]]``.
    """
