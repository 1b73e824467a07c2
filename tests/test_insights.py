"""Insights: the reflect node on recorded real completions (good and malformed), the parser,
and the counters on constructed histories."""

from __future__ import annotations

import json

import pytest
import scenarios
from conftest import RECORDINGS

from agentlib.agent import Agent
from agentlib.agent.reflect import ReflectionError, parse_reflection
from agentlib.config import Settings
from agentlib.llm import Completion
from agentlib.llm.replay import ReplayLLM
from agentlib.model import Insight

GOOD = """TAXONOMY: strings/parsing/whitespace
CONDITION: When input text may contain repeated or surrounding spaces.
EXPLANATION: Use str.split() without an argument, which drops empty pieces, instead of split(' ').
EXAMPLE: '  a  b '.split() == ['a', 'b']"""


def _agent(tmp_path, library, llm, pm, **overrides):
    settings = Settings(store=str(tmp_path / "store"), llm="replay")
    for key, value in overrides.items():
        setattr(settings, key, value)
    return Agent(settings, llm=llm, library=library, pm=pm)


def _reflect_steps(result):
    return [s for s in result.trace if s.node == "reflect"]


def test_reflect_stores_an_insight_after_a_failure(tmp_path, library, builtin_pm):
    llm = ReplayLLM(RECORDINGS / "reflect.json")  # Qwen2.5-Coder-1.5B, recorded
    result = _agent(tmp_path, library, llm, builtin_pm).solve(scenarios.MISLEADING)
    assert result.status == "failed"
    step, = _reflect_steps(result)
    assert step.decision.startswith("learned ")
    stored = library.insights.list()
    assert len(stored) == 1 and "/" in stored[0].taxonomy
    assert "combine" not in (stored[0].condition + stored[0].explanation)
    assert result.llm_calls == 7  # six attempts and one reflection


def test_a_reflection_that_restates_the_task_is_discarded(tmp_path, library, builtin_pm):
    llm = ReplayLLM(RECORDINGS / "agent.json")  # Qwen2.5-Coder-0.5B: a real, unusable answer
    result = _agent(tmp_path, library, llm, builtin_pm).solve(scenarios.MISLEADING)
    step, = _reflect_steps(result)
    assert step.decision == "discarded"
    assert library.insights.count() == 0


def test_no_insights_means_no_reflection_and_none_shown(tmp_path, library, builtin_pm):
    library.insights.add(Insight(id="", taxonomy="numbers/arithmetic/product",
                                 condition="When two integers are combined into one value.",
                                 explanation="Check the examples: combining may mean multiplying "
                                             "rather than adding."))
    seen = []

    class Recorder:
        name = "recorder"

        def complete(self, messages, **options):
            seen.append(messages[-1]["content"])
            return Completion(text="```python\ndef combine(a, b):\n    return a + b\n```")

    result = _agent(tmp_path, library, Recorder(), builtin_pm, use_insights=False,
                    attempts=1).solve(scenarios.MISLEADING)
    assert _reflect_steps(result) == [] or _reflect_steps(result)[0].decision == "skipped"
    assert len(seen) == 1 and "Lessons learned" not in seen[0]


def test_shown_insight_counts_help_and_misleading(tmp_path, library, builtin_pm):
    """A scripted LLM (the test is about the counters): the insight is shown, the first
    attempt and the plain retry fail, the fresh start passes, and the reflection blames the
    insight."""
    lesson = library.insights.add(Insight(
        id="", taxonomy="numbers/arithmetic/product",
        condition="When a function combines two integers into one value.",
        explanation="Combining two integers usually means adding them, so return their sum."))
    replies = iter([
        "```python\ndef combine(a, b):\n    return a + b\n```",
        "```python\ndef combine(a, b):\n    return a + b\n```",
        "```python\ndef combine(a, b):\n    return a * b\n```",
        GOOD + "\nMISLED: 1",
    ])
    prompts_seen = []

    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            prompts_seen.append(messages[-1]["content"])
            return Completion(text=next(replies))

    result = _agent(tmp_path, library, Scripted(), builtin_pm).solve(scenarios.MISLEADING)
    assert result.decision == "repaired"
    assert "Lessons learned" in prompts_seen[0] and "numbers/arithmetic/product" in prompts_seen[0]
    assert "Lessons learned" not in prompts_seen[1] + prompts_seen[2]  # retry, fresh start
    assert "Lessons shown to the first attempt" in prompts_seen[3]
    counted = library.insights.get(lesson.id)
    assert (counted.retrieved, counted.helped, counted.misled) == (1, 0, 1)
    # the task it misled is kept for evolution to replay retrieval on
    assert counted.helped_on == [] and len(counted.misled_on) == 1
    assert counted.misled_on[0].startswith("combine(a, b) that combines two integers")
    learned = [i for i in library.insights.list() if i.id != lesson.id]
    assert [i.taxonomy for i in learned] == ["strings/parsing/whitespace"]


def test_plain_retry_passing_counts_the_lesson_as_misleading_without_reflecting(
        tmp_path, library, builtin_pm):
    """A scripted LLM (the test is about the route and the counters): the prompt with the
    lesson fails, the same prompt without it passes, so no reflection call is made and the
    lesson is counted as misleading on this task."""
    lesson = library.insights.add(Insight(
        id="", taxonomy="numbers/arithmetic/product",
        condition="When a function combines two integers into one value.",
        explanation="Combining two integers usually means adding them, so return their sum."))
    replies = iter(["```python\ndef combine(a, b):\n    return a + b\n```",
                    "```python\ndef combine(a, b):\n    return a * b\n```"])
    prompts_seen = []

    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            prompts_seen.append(messages)
            return Completion(text=next(replies))

    result = _agent(tmp_path, library, Scripted(), builtin_pm).solve(scenarios.MISLEADING)
    assert result.decision == "repaired" and result.attempts == 2 and result.llm_calls == 2
    assert "Lessons learned" in prompts_seen[0][-1]["content"]
    assert len(prompts_seen[1]) == 2 and "Lessons learned" not in prompts_seen[1][-1]["content"]
    assert _reflect_steps(result) == []
    counted = library.insights.get(lesson.id)
    assert (counted.retrieved, counted.helped, counted.misled) == (1, 0, 1)
    assert counted.misled_on[0].startswith("combine(a, b) that combines two integers")
    assert library.insights.count() == 1  # nothing learned


def test_insight_helps_when_first_attempt_passes(tmp_path, library, builtin_pm):
    lesson = library.insights.add(Insight(
        id="", taxonomy="numbers/arithmetic/product",
        condition="When a function combines two integers into one value.",
        explanation="Look at the examples: combining often means multiplying the two integers."))

    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            return Completion(text="```python\ndef combine(a, b):\n    return a * b\n```")

    result = _agent(tmp_path, library, Scripted(), builtin_pm).solve(scenarios.MISLEADING)
    assert result.decision == "created"
    counted = library.insights.get(lesson.id)
    assert (counted.retrieved, counted.helped, counted.misled) == (1, 1, 0)
    assert counted.misled_on == [] and "assert combine(2, 3) == 6" in counted.helped_on[0]


@pytest.mark.parametrize("text, reason", [
    ("CONDITION: when x\nEXPLANATION: do y", "missing field"),
    ("TAXONOMY: Function naming and restate\nCONDITION: When naming functions in code.\n"
     "EXPLANATION: Choose names that say what the function does, always.", "not a path"),
    ("TAXONOMY: a/b\nCONDITION: short\nEXPLANATION: Too short too.", "too short"),
    ("TAXONOMY: numbers/combine\nCONDITION: When writing combine for two integers.\n"
     "EXPLANATION: The combine function should multiply the two integers it gets.", "names"),
    ("TAXONOMY: numbers/misc\nCONDITION: When a function combines two integers together.\n"
     "EXPLANATION: Write a function that combines two integers and returns them combined.",
     "restates"),
])
def test_parser_refuses_malformed_or_task_bound_reflections(text, reason):
    with pytest.raises(ReflectionError, match=reason):
        parse_reflection(text, task_prompt="Write a function combine(a, b) that combines two "
                                           "integers.", entry_point="combine")


def test_parser_reads_fields_misled_numbers_and_normalises_taxonomy():
    text = ("**TAXONOMY:** Strings / Parsing / White space\n" + GOOD.split("\n", 1)[1]
            + "\nMISLED: 2 and 7")
    reflection = parse_reflection(text, task_prompt="Reverse words.", entry_point="rev", shown=3)
    assert reflection.insight.taxonomy == "strings/parsing/white_space"
    assert reflection.misled == [2]
    assert reflection.insight.example.startswith("'  a  b '")


def _history(library, **counters):
    insight = library.insights.add(Insight(
        id="", taxonomy="lists/sorting/stability",
        condition="When a list of records is sorted by one key.",
        explanation="Use sorted() with a key; it is stable, so equal keys keep their order."))
    library.insights.update_counters(insight.id, **counters)
    return library.insights.get(insight.id)


class _Answers:
    """A scripted LLM (the tests are about evolution's decisions, not the model)."""

    name = "scripted"

    def __init__(self, *texts):
        self.texts = list(texts)
        self.calls = 0

    def complete(self, messages, **options):
        self.calls += 1
        return Completion(text=self.texts.pop(0))


def test_evolve_refines_an_insight_that_misleads_more_than_it_helps(library):
    from agentlib.refactor.evolve import evolve_insights

    old = _history(library, retrieved=5, helped=1, misled=3)
    llm = _Answers("CONDITION: When records must be sorted by one key and ties keep input order.")
    actions = evolve_insights(library, llm)
    assert [a.action for a in actions] == ["refined"]
    assert library.insights.get(old.id) is None
    new, = library.insights.list()
    assert new.refined_from == old.id and new.condition.startswith("When records must")
    assert (new.retrieved, new.helped, new.misled) == (0, 0, 0)  # a fresh record


def test_evolve_retires_when_the_refinement_is_unusable(library):
    from agentlib.refactor.evolve import evolve_insights

    old = _history(library, retrieved=4, helped=0, misled=2)
    actions = evolve_insights(library, _Answers("I would not change anything."))
    assert [a.action for a in actions] == ["retired"] and library.insights.get(old.id) is None


def test_evolve_leaves_helpful_or_rarely_shown_insights_alone(library):
    from agentlib.refactor.evolve import evolve_insights

    _history(library, retrieved=6, helped=4, misled=2)
    llm = _Answers()
    assert evolve_insights(library, llm) == [] and llm.calls == 0
    assert library.insights.count() == 1


def test_evolve_dry_run_writes_nothing(library):
    from agentlib.refactor.evolve import evolve_insights

    old = _history(library, retrieved=3, helped=0, misled=3)
    actions = evolve_insights(library, _Answers("CONDITION: When sorting records by one key "
                                                "where order of ties matters."), dry_run=True)
    assert actions[0].action == "refined" and library.insights.get(old.id) is not None


def test_insights_cli_list_show_export_import_rm(tmp_path, library, monkeypatch):
    from typer.testing import CliRunner

    from agentlib.cli import app

    monkeypatch.setenv("AGENTLIB_STORE", library.location)
    old = _history(library, retrieved=2, helped=1)
    runner = CliRunner()
    listed = runner.invoke(app, ["insights", "list", "--taxonomy", "lists", "--json"])
    assert [i["id"] for i in json.loads(listed.stdout)] == [old.id]
    assert runner.invoke(app, ["insights", "list", "--taxonomy", "strings", "--json"]
                         ).stdout.strip() == "[]"
    assert "stable" in runner.invoke(app, ["insights", "show", old.id]).stdout
    out = tmp_path / "insights.jsonl"
    assert runner.invoke(app, ["insights", "export", str(out)]).exit_code == 0
    assert runner.invoke(app, ["insights", "rm", old.id]).exit_code == 0
    assert library.insights.count() == 0
    assert runner.invoke(app, ["insights", "import", str(out)]).exit_code == 0
    back = library.insights.get(old.id)
    assert back is not None and (back.retrieved, back.helped) == (2, 1)
    missing = runner.invoke(app, ["insights", "show", "nope"])
    assert missing.exit_code == 1


class WordsEmbedder:
    """Bag-of-words vectors: two texts are within distance < 1 exactly when they share a word.
    Stands in for MiniLM here, where the test is about evolution's check, not about which
    texts a model finds near."""

    name = "words"
    fingerprint = "words-v1"
    dimension = 384

    def embed(self, texts):
        import hashlib
        import re

        import numpy as np

        vectors = []
        for text in texts:
            vector = np.zeros(self.dimension)
            for word in re.findall(r"[a-z]+", text.lower()):
                vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dimension] += 1
            vectors.append((vector / (np.linalg.norm(vector) or 1.0)).tolist())
        return vectors


def _words_history(tmp_path):
    from agentlib.library.store import Library

    library = Library(str(tmp_path / "words"), WordsEmbedder())
    insight = library.insights.add(Insight(
        id="", taxonomy="ordering", condition="When numbers or records are ordered.",
        explanation="Prefer stable ordering."))
    library.insights.update_counters(insight.id, "records ties", retrieved=1, helped=1)
    for task in ("numbers descending", "numbers ascending"):
        library.insights.update_counters(insight.id, task, retrieved=1, misled=1)
    return library, library.insights.get(insight.id)


def test_evolve_keeps_a_refinement_that_stops_reaching_the_tasks_it_misled(tmp_path):
    from agentlib.refactor.evolve import evolve_insights

    library, old = _words_history(tmp_path)
    assert old.misled_on == ["numbers descending", "numbers ascending"]
    assert old.helped_on == ["records ties"]
    actions = evolve_insights(library, _Answers("CONDITION: When records are ordered."),
                              max_distance=0.999)
    assert [a.action for a in actions] == ["refined"]
    assert "reaches 0/2 misled task(s) (was 2), 1/1 helped (was 1)" in actions[0].detail
    new, = library.insights.list()
    assert new.condition == "When records are ordered." and new.refined_from == old.id


def test_evolve_retires_a_refinement_that_still_reaches_them(tmp_path):
    from agentlib.refactor.evolve import evolve_insights

    library, old = _words_history(tmp_path)
    actions = evolve_insights(library, _Answers("CONDITION: When numbers are ordered."),
                              max_distance=0.999)
    assert [a.action for a in actions] == ["retired"]
    assert actions[0].detail == ("refinement not kept: reaches 2/2 misled task(s) (was 2), "
                                 "0/1 helped (was 1)")
    assert library.insights.count() == 0


def test_only_the_latest_task_texts_are_kept(library):
    from agentlib.library.insights import EVIDENCE_KEPT

    old = _history(library)
    for i in range(EVIDENCE_KEPT + 3):
        library.insights.update_counters(old.id, f"task {i}", retrieved=1, misled=1)
    library.insights.update_counters(old.id, "shown only", retrieved=1)
    kept = library.insights.get(old.id)
    assert kept.misled == EVIDENCE_KEPT + 3 and kept.helped_on == []
    assert kept.misled_on == [f"task {i}" for i in range(3, EVIDENCE_KEPT + 3)]


def test_insights_are_selected_by_distance_or_by_a_matching_taxonomy():
    from agentlib.library.insights import TAXONOMY_SLACK, select_insights, taxonomy_matches

    def lesson(taxonomy):
        return Insight(id=taxonomy, taxonomy=taxonomy, condition="c", explanation="e")

    gist = "split a sentence into words separated by whitespace"
    near, matching, far = (lesson("numbers/rounding"), lesson("strings/parsing/whitespace"),
                           lesson("dates/leap_years"))
    found = [(near, 0.30), (matching, 0.45 + TAXONOMY_SLACK / 2), (far, 0.50)]
    assert select_insights(found, gist, 3, 0.45) == [near, matching]
    assert select_insights(found, gist, 1, 0.45) == [near]
    # beyond the slack, a matching taxonomy is not enough
    assert select_insights([(matching, 0.45 + 2 * TAXONOMY_SLACK)], gist, 3, 0.45) == []
    assert taxonomy_matches("lists/sorting", "sort the list of records")
    assert not taxonomy_matches("bugs/programming_errors", "fix the programming errors")


def test_a_repeated_lesson_is_merged_with_its_lineage(tmp_path, library, builtin_pm):
    reworded = GOOD.replace("instead of", "rather than")

    class Scripted:
        """Wrong code for every attempt, then a reflection (the test is about merging)."""

        name = "scripted"

        def __init__(self):
            self.lessons = [GOOD, reworded]

        def complete(self, messages, **options):
            if "senior Python programmer" in messages[0]["content"]:
                return Completion(text=self.lessons.pop(0))
            return Completion(text="```python\ndef combine(a, b):\n    return a - b\n```")

    agent = _agent(tmp_path, library, Scripted(), builtin_pm, attempts=2)
    first = agent.solve(scenarios.MISLEADING)
    assert _reflect_steps(first)[0].decision == "learned strings/parsing/whitespace"
    second = agent.solve(scenarios.MISLEADING)
    step, = _reflect_steps(second)
    assert step.decision == "duplicate" and step.detail.startswith("merged into")
    kept, = library.insights.list()
    assert kept.explanation.startswith("Use str.split() without an argument, which drops")
    assert "instead of" in kept.explanation and len(kept.merged_from) == 1
    assert kept.merged_from[0] != kept.id
