"""Insight evolution (AlphaOPT): refine the condition of insights that mislead more than they
help, or retire them when no usable refinement comes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentlib.agent import prompts
from agentlib.agent.reflect import ReflectionError, parse_condition
from agentlib.model import Insight


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


def evolve_insights(library: Any, llm: Any, *, min_shown: int = 2,
                    dry_run: bool = False) -> list[EvolveAction]:
    """Refine or retire every insight that misleads more than it helps."""
    actions: list[EvolveAction] = []
    for insight in library.insights.list():
        if not needs_evolution(insight, min_shown):
            continue
        user = prompts.REFINE.format(taxonomy=insight.taxonomy, condition=insight.condition,
                                     explanation=insight.explanation,
                                     example=insight.example or "(none)",
                                     shown=insight.retrieved, helped=insight.helped,
                                     misled=insight.misled)
        completion = llm.complete([{"role": "system", "content": prompts.SYSTEM_REFLECT},
                                   {"role": "user", "content": user}])
        try:
            condition = parse_condition(completion.text)
            if condition.strip().rstrip(".").lower() == insight.condition.strip().rstrip(".").lower():
                raise ReflectionError("the refined condition is unchanged")
        except ReflectionError as exc:
            actions.append(EvolveAction(insight.id, insight.taxonomy, "retired",
                                        f"no usable refinement ({exc})"))
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
                                    f"{insight.condition} → {condition}", new_id))
    return actions
