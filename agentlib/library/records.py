"""How a module is kept in Chroma: its fields as one metadata record, and back."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from agentlib.model import Module

_JSON_FIELDS = ("tests", "dependencies")
SHOWN_COUNTERS = ("times_shown", "times_shown_passed", "times_shown_failed",
                  "times_shown_called")
"""Counters added after the first libraries were written: a record without them reads 0."""


def to_metadata(module: Module) -> dict[str, Any]:
    """The Chroma metadata of a module (lists as JSON text)."""
    meta: dict[str, Any] = {}
    for f in fields(Module):
        value = getattr(module, f.name)
        meta[f.name] = json.dumps(value) if f.name in _JSON_FIELDS else value
    return meta


def from_metadata(meta: dict[str, Any]) -> Module:
    """The module a Chroma metadata record holds."""
    values = {f.name: meta.get(f.name) for f in fields(Module) if f.name in meta}
    for name in _JSON_FIELDS:
        values[name] = json.loads(values.get(name) or "[]")
    return Module(**values)
