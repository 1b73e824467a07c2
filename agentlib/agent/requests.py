"""The conversation of each kind of LLM attempt: generate, repair, retry, restart.

Prompt text lives in `prompts`; this module fills it in from the state and records what the
prompt showed (modules, code, lessons) on the request's attempt.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from agentlib.agent import prompts
from agentlib.agent.policy import Request, RetryKind, modules_to_show, sampling
from agentlib.agent.state import SolveState, llm_attempts
from agentlib.config import Settings
from agentlib.library.text import task_gist
from agentlib.model import Module, Verdict


@dataclass
class Shown:
    """What of the library a request's prompt showed."""

    modules: list[str] = field(default_factory=list)
    code: str | None = None
    lessons: list[str] = field(default_factory=list)


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _example(module: Module, limit: int = 100) -> str:
    """One of the module's own tests as an example call with its value (`f(5) == [0, 1]`),
    or "" when none is an `assert name(...) == value` of at most `limit` characters."""
    for test in module.tests:
        try:
            tree = ast.parse(test.strip())
        except SyntaxError:
            continue
        check = tree.body[0] if len(tree.body) == 1 else None
        if not isinstance(check, ast.Assert) or not isinstance(check.test, ast.Compare):
            continue
        left, ops = check.test.left, check.test.ops
        if (len(ops) == 1 and isinstance(ops[0], ast.Eq) and isinstance(left, ast.Call)
                and isinstance(left.func, ast.Name) and left.func.id == module.name):
            example = ast.unparse(check.test)
            if len(example) <= limit:
                return example
    return ""


def module_line(module: Module) -> str:
    """How a library module is shown to the model: signature, what it does, an example.

    The description is the first line of the docstring, else the gist of the task the module
    was written for, whole up to a word boundary (a cut mid-sentence hid what a function
    returns); the example call tells a small model more about the return value than words.
    """
    doc_lines = module.docstring.strip().splitlines()
    described = doc_lines[0] if doc_lines else ""
    if not described:
        described = task_gist(module.task_prompt)
        described = re.sub(rf"^`?{re.escape(module.name)}\s*\([^)]*\)`?\s*"
                           r"(?:(?:that|which|to)\s+)?", "", described)
    line = f"{module.signature}: {_clip(described, 200)}"
    example = _example(module)
    return f"{line} Example: {example}" if example else line


def task_prompt(state: SolveState, library: str = "", insights: str = "") -> str:
    """The task, its tests (not when the model proposed them: `prompts.GENERATE_PROPOSED`)
    and, optionally, the library and lessons sections."""
    task = state["task"]
    proposed = any(t.origin == "proposed" for t in task.tests)
    text = prompts.GENERATE_PROPOSED if proposed else prompts.GENERATE
    return text.format(prompt=task.prompt, name=state["entry_point"],
                       tests=prompts.format_tests([t.source for t in task.tests]),
                       library=library, insights=insights)


def _insights_section(state: SolveState) -> str:
    insights = state.get("insights") or []
    if not insights:
        return ""
    return prompts.INSIGHTS.format(lessons=prompts.format_insights(insights))


def failures(verdict: Verdict, limit: int = 5) -> str:
    """The failing cases of a verdict as prompt lines (`test` -> error: message)."""
    lines = []
    for result in verdict.failures[:limit]:
        message = result.message.strip().splitlines()[0] if result.message.strip() else ""
        lines.append(f"- `{result.test}` -> {result.error_type}: {message[:300]}")
    if verdict.detail:
        lines.append(f"- {verdict.detail[:300]}")
    return "\n".join(lines)


def generate_request(state: SolveState, settings: Settings) -> tuple[Request, Shown]:
    """The first attempt: the task, the library modules to show and the lessons."""
    modules = modules_to_show(state.get("hits") or [], state["task"],
                              settings.module_max_distance)
    shown = Shown(modules=[m.name for m in modules],
                  lessons=[i.id for i in state.get("insights") or []])
    library = ""
    if modules:
        nearest, code = modules[0], ""
        source = nearest.source.strip()
        if len(source) <= settings.module_code_chars:
            code = prompts.MODULE_CODE.format(name=nearest.name, source=source)
            shown.code = nearest.name
        lines = [module_line(m) for m in modules]
        library = prompts.LIBRARY.format(modules=prompts.format_modules(lines), code=code)
    user = task_prompt(state, library, _insights_section(state))
    messages = [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": user}]
    return Request("generate", messages), shown


def retry_request(state: SolveState, settings: Settings, kind: RetryKind) -> tuple[Request, Shown]:
    """The request of a later attempt of `kind` (see `policy.next_kind`)."""
    tried = llm_attempts(state)
    last = tried[-1]
    name = state["entry_point"]
    system = last.messages[0]
    chosen = sampling(kind, len(tried), settings.repair_temperature)
    if kind == "retry":  # exactly as without a library, greedily
        return (Request(kind, [system, {"role": "user", "content": task_prompt(state)}], chosen),
                Shown())
    if kind == "restart":  # afresh from the task and its failing cases, no library
        assert last.verdict is not None  # a rejection is repaired, not restarted
        restart = prompts.RESTART.format(failures=failures(last.verdict), name=name)
        return (Request(kind, [system, {"role": "user", "content": task_prompt(state) + restart}],
                        chosen), Shown())
    # repair: the same conversation, answered with the rejection or the failing cases
    shown = Shown(last.modules_shown, last.code_shown, list(last.lessons_shown))
    if last.rejection is not None:
        feedback = prompts.REJECTED[last.rejection.kind].format(reason=last.rejection.reason,
                                                               name=name)
    else:
        assert last.verdict is not None
        feedback = prompts.REPAIR.format(source=last.candidate.strip(),
                                         failures=failures(last.verdict), name=name,
                                         insights=_insights_section(state))
        shown.lessons = [i.id for i in state.get("insights") or []]
    assert last.reply is not None
    messages = [*last.messages[:2], {"role": "assistant", "content": last.reply.text},
                {"role": "user", "content": feedback}]
    return Request(kind, messages, chosen), shown
