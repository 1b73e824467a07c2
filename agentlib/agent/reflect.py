"""Turning a failure into an insight: the reflection prompt's parser and its quality checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentlib.model import Insight

_FIELD = re.compile(r"^\s*\**(TAXONOMY|CONDITION|EXPLANATION|EXAMPLE|MISLED)\**\s*:\s*(.*)$",
                    re.IGNORECASE)
_TAXONOMY = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+){1,4}$")
_WORD = re.compile(r"[a-z0-9_]+")
_STOP = {"the", "a", "an", "of", "to", "and", "or", "in", "is", "that", "for", "with", "it",
         "as", "be", "when", "by", "on", "are", "this", "its", "from", "if", "function",
         "write", "return", "returns", "given", "python", "list", "number", "numbers", "them", "they", "then", "than", "which", "into", "should", "must"}


class ReflectionError(ValueError):
    """A reflection that cannot become an insight; the message says why."""


@dataclass
class Reflection:
    insight: Insight
    misled: list[int]  # 1-based numbers of the shown insights the model blames


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "d"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def parse_reflection(text: str, *, task_prompt: str, entry_point: str,
                     shown: int = 0) -> Reflection:
    """Parse the model's structured reflection; refuse malformed, empty or task-bound ones."""
    fields: dict[str, str] = {}
    current = None
    for line in text.replace("```", "").splitlines():
        match = _FIELD.match(line)
        if match:
            current = match.group(1).upper()
            fields[current] = match.group(2).strip().strip("*").strip()
        elif current and line.strip() and current != "TAXONOMY":
            fields[current] += " " + line.strip()
    missing = [f for f in ("TAXONOMY", "CONDITION", "EXPLANATION") if not fields.get(f)]
    if missing:
        raise ReflectionError(f"missing field(s): {', '.join(missing)}")
    taxonomy = re.sub(r"\s*/\s*", "/", fields["TAXONOMY"].strip().strip("`'\".").lower())
    taxonomy = re.sub(r"[\s-]+", "_", taxonomy)
    if not _TAXONOMY.match(taxonomy):
        raise ReflectionError(f"taxonomy {fields['TAXONOMY']!r} is not a path like "
                              "strings/parsing/whitespace")
    condition, explanation = fields["CONDITION"], fields["EXPLANATION"]
    if len(condition.split()) < 4 or len(explanation.split()) < 6:
        raise ReflectionError("condition or explanation too short to be a lesson")
    lesson = f"{condition} {explanation}"
    if re.search(rf"\b{re.escape(entry_point)}\b", lesson):
        raise ReflectionError(f"the lesson names this task's function `{entry_point}`: it "
                              "restates the task instead of generalising")
    task_words, lesson_words = _words(task_prompt), _words(lesson)
    if lesson_words and len(task_words & lesson_words) / len(lesson_words) > 0.6:
        raise ReflectionError("the lesson mostly restates the task description")
    misled = []
    if shown and fields.get("MISLED"):
        misled = sorted({int(n) for n in re.findall(r"\d+", fields["MISLED"])
                         if 1 <= int(n) <= shown})
    insight = Insight(id="", taxonomy=taxonomy, condition=condition, explanation=explanation,
                      example=fields.get("EXAMPLE", "").strip("` "))
    return Reflection(insight=insight, misled=misled)
