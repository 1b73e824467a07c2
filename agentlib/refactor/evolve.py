"""Insight evolution (AlphaOPT): refine the condition of insights that mislead more than they
help, or retire them when no usable refinement comes back.

A refinement is checked by replaying retrieval on the tasks that produced the counts (their
search texts are kept with the insight): the refined insight must reach fewer of the tasks it
misled and no fewer of those it helped. Re-solving them would cost LLM calls; retrieval is what
the condition changes. An insight with no recorded tasks is refined unchecked (and says so).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agentlib.library.insights import insight_text
from agentlib.model import Insight

SYSTEM = (
    "You are a senior Python programmer who turns a mistake into a short, general lesson "
    "for other programmers. Follow the answer format exactly."
)
"""The role of the model (the same words as the reflection's, which writes the lessons)."""

REFINE = """This lesson from an experience library was shown to a programmer on {shown} tasks.
It helped {helped} time(s) and misled {misled} time(s): its condition is too broad.

TAXONOMY: {taxonomy}
CONDITION: {condition}
EXPLANATION: {explanation}
EXAMPLE: {example}

Rewrite only the CONDITION so that it applies just where the explanation is right. Answer
with one line:
CONDITION: <the narrower condition>"""

_CONDITION = re.compile(r"^\s*\**CONDITION\**\s*:\s*(.*)$", re.IGNORECASE)


class RefinementError(ValueError):
    """A refinement answer that gives no usable condition; the message says why."""


def parse_condition(text: str) -> str:
    """Read the `CONDITION:` line of a refinement answer."""
    for line in text.replace("```", "").splitlines():
        match = _CONDITION.match(line)
        if match:
            condition = match.group(1).strip().strip("*").strip()
            if len(condition.split()) < 4:
                raise RefinementError("the refined condition is too short")
            return condition
    raise RefinementError("no CONDITION line in the answer")


@dataclass
class EvolveAction:
    """What evolution did to one insight."""

    insight_id: str
    taxonomy: str
    action: str  # "refined" | "retired"
    detail: str
    new_id: str | None = None


def needs_evolution(insight: Insight, min_shown: int = 2) -> bool:
    """An insight shown often enough that misled more than it helped."""
    return insight.retrieved >= min_shown and insight.misled > insight.helped


def check_refinement(library: Any, old: Insight, condition: str,
                     max_distance: float) -> tuple[bool, str]:
    """Replay retrieval on the insight's recorded tasks: (accepted, what was found)."""
    if not old.misled_on:
        return True, "unchecked: no recorded tasks"
    texts = [insight_text({**asdict(old), "condition": c}) for c in (old.condition, condition)]
    vectors = np.asarray(library.embedder.embed(texts + old.misled_on + old.helped_on),
                         dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    near = 1.0 - vectors[2:] @ vectors[:2].T <= max_distance  # task x (old, refined)
    misled = near[:len(old.misled_on)].sum(axis=0)
    helped = near[len(old.misled_on):].sum(axis=0)
    found = (f"reaches {misled[1]}/{len(old.misled_on)} misled task(s) (was {misled[0]}), "
             f"{helped[1]}/{len(old.helped_on)} helped (was {helped[0]})")
    return bool(misled[1] < misled[0] and helped[1] >= helped[0]), found


def evolve_insights(library: Any, llm: Any, *, min_shown: int = 2, max_distance: float = 0.45,
                    dry_run: bool = False) -> list[EvolveAction]:
    """Refine or retire every insight that misleads more than it helps.

    `max_distance` is the retrieval distance the agent uses (`insight_max_distance`).
    """
    actions: list[EvolveAction] = []
    for insight in library.insights.list():
        if not needs_evolution(insight, min_shown):
            continue
        user = REFINE.format(taxonomy=insight.taxonomy, condition=insight.condition,
                                     explanation=insight.explanation,
                                     example=insight.example or "(none)",
                                     shown=insight.retrieved, helped=insight.helped,
                                     misled=insight.misled)
        completion = llm.complete([{"role": "system", "content": SYSTEM},
                                   {"role": "user", "content": user}])
        try:
            condition = parse_condition(completion.text)
            if condition.strip().rstrip(".").lower() == insight.condition.strip().rstrip(".").lower():
                raise RefinementError("the refined condition is unchanged")
        except RefinementError as exc:
            actions.append(EvolveAction(insight.id, insight.taxonomy, "retired",
                                        f"no usable refinement ({exc})"))
            if not dry_run:
                library.insights.remove(insight.id)
            continue
        accepted, found = check_refinement(library, insight, condition, max_distance)
        if not accepted:
            actions.append(EvolveAction(insight.id, insight.taxonomy, "retired",
                                        f"refinement not kept: {found}"))
            if not dry_run:
                library.insights.remove(insight.id)
            continue
        refined = Insight(id="", taxonomy=insight.taxonomy, condition=condition,
                          explanation=insight.explanation, example=insight.example,
                          merged_from=list(insight.merged_from), refined_from=insight.id)
        new_id = None
        if not dry_run:
            new_id = library.insights.add(refined).id
            library.insights.remove(insight.id)
        actions.append(EvolveAction(insight.id, insight.taxonomy, "refined",
                                    f"{insight.condition} → {condition} ({found})", new_id))
    return actions
