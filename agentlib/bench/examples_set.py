"""Build the examples development set from MBPP, and measure the example parser on MBPP.

    python -m agentlib.bench.examples_set build MBPP_DIR OUT_DIR
    python -m agentlib.bench.examples_set build-check MBPP_DIR OUT_DIR
    python -m agentlib.bench.examples_set measure MBPP_DIR

`build` takes MBPP's sanitized validation tasks and the first sanitized train tasks, removes
their tests, writes up to two of their examples into the text in one notation (rotating
deterministically over the notations and their layouts; every fifth task gets none), keeps
every original test as a hidden test, and writes `with-examples.jsonl` and
`no-examples.jsonl`. It then checks that every task with examples gets a derived test and
that each derived test is implied by an original one. `build-check` writes
`no-examples-check.jsonl` from the sanitized tasks the development set leaves out, with no
examples (see `build_check`). `measure` renders every validation and
train task (full and sanitized texts) in every notation and layout and reports, per
notation, how many written examples were read back (recall) and how many derived tests are
not implied by the original tests (precision). MBPP's reference `code` is never read.
MBPP: Austin et al. 2021, "Program Synthesis with Large Language Models", CC-BY-4.0.
"""

from __future__ import annotations

import ast
import builtins
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agentlib.agent.example_literals import tolerance
from agentlib.agent.examples import NOTATIONS, Example, find_examples

SHOWN = 2  # examples written into a task's text
TRAIN_TASKS = 97  # with the 43 sanitized validation tasks: 140
NO_EXAMPLES_EVERY = 5  # every fifth task gets no examples


@dataclass(frozen=True)
class Written:
    """One MBPP test as an example: the function, its call and its value, as written."""

    function: str
    call: str
    args: str
    value: str


@dataclass
class MbppTask:
    """The parts of an MBPP record the set uses (never `code`)."""

    task_id: int
    split: str
    text: str
    tests: list[str]
    setup: str
    examples: list[Written]


def load(mbpp: Path, split: str) -> list[MbppTask]:
    """Read one MBPP file (e.g. `sanitized-validation`) from the MBPP directory."""
    tasks = []
    with (mbpp / f"{split}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            setup = "\n".join([*(record.get("test_imports") or []),
                               record.get("test_setup_code") or ""]).strip()
            tests = record["test_list"]
            examples = [w for w in map(as_example, tests) if w is not None]
            tasks.append(MbppTask(record["task_id"], split, record.get("prompt") or
                                  record["text"], tests, setup, examples))
    return tasks


def as_example(test: str) -> Written | None:
    """Return an `assert f(literals) == literal` test as an example, else None."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    compare = tree.body[0].test
    if not (isinstance(compare, ast.Compare) and len(compare.ops) == 1
            and isinstance(compare.ops[0], ast.Eq) and isinstance(compare.left, ast.Call)
            and isinstance(compare.left.func, ast.Name)):
        return None
    call = compare.left
    try:
        for node in [*call.args, *(k.value for k in call.keywords), compare.comparators[0]]:
            ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    call_source = ast.get_source_segment(test, call)
    args = call_source[call_source.index("(") + 1:-1].strip()
    return Written(call.func.id, call_source, args,
                   ast.get_source_segment(test, compare.comparators[0]))


# One list of layouts per notation; each takes the examples and returns the text block.
LAYOUTS = {
    "=>": [lambda ex: "Examples:\n" + "\n".join(f"- `{w.call} => {w.value}`" for w in ex),
           lambda ex: "For example: " + ", ".join(f"{w.call} => {w.value}" for w in ex) + ".",
           lambda ex: "```\n" + "\n".join(f"{w.call}  # => {w.value}" for w in ex) + "\n```"],
    "➞": [lambda ex: "Examples\n" + "\n".join(f"{w.call} ➞ {w.value}" for w in ex),
          lambda ex: "E.g. " + "; ".join(f"`{w.call}` ➞ `{w.value}`" for w in ex)],
    "==": [lambda ex: "For example, " + " and ".join(f"{w.call} == {w.value}" for w in ex) + ".",
           lambda ex: "```python\n" + "\n".join(f"assert {w.call} == {w.value}" for w in ex)
           + "\n```",
           lambda ex: "Such that " + ", ".join(f"`{w.call} == {w.value}`" for w in ex) + "."],
    "->": [lambda ex: "```\n" + "\n".join(f"{w.call} -> {w.value}" for w in ex) + "\n```",
           lambda ex: "e.g. " + ", ".join(f"{w.call} -> {w.value}" for w in ex)],
    "words": [lambda ex: "For example, " + "; ".join(f"`{w.call}` returns `{w.value}`"
                                                     for w in ex) + ".",
              lambda ex: " ".join(f"{w.call} should return {w.value}." for w in ex),
              lambda ex: "Note that " + ", and ".join(f"{w.call} is {w.value}" for w in ex)
              + "."],
    ">>>": [lambda ex: "\n".join(f">>> {w.call}\n{w.value}" for w in ex),
            lambda ex: "```pycon\n" + "\n".join(f">>> {w.call}\n{w.value}" for w in ex)
            + "\n```"],
    "input-output": [lambda ex: "\n\n".join(f"Example {n}:\nInput: {w.args}\nOutput: {w.value}"
                                            for n, w in enumerate(ex, 1)),
                     lambda ex: "\n".join(f"Input: {w.args}  Output: {w.value}" for w in ex)],
}
assert tuple(LAYOUTS) == NOTATIONS


def render(task: MbppTask, notation: str, layout: int, examples: list[Written]) -> str:
    """Return the task's text with `examples` written in one notation and layout."""
    block = LAYOUTS[notation][layout % len(LAYOUTS[notation])](examples)
    return f"{task.text.strip()}\n\n{block}"


def implied(example: Example, originals: list[Written]) -> bool:
    """Tell whether an original test checks the same call with a value the example accepts."""
    try:
        call = _call_key(example.call)
    except (ValueError, SyntaxError):
        return False
    for original in originals:
        if _call_key(original.call) != call:
            continue
        expected = ast.literal_eval(original.value)
        value = ast.literal_eval(example.expected)
        if type(value) is float:
            if isinstance(expected, (int, float)) and \
                    abs(expected - value) <= tolerance(example.expected):
                return True
        elif value == expected:
            return True
    return False


def _call_key(source: str) -> tuple:
    node = ast.parse(source, mode="eval").body
    return (node.func.id, tuple(repr(ast.literal_eval(a)) for a in node.args),
            tuple(sorted((k.arg, repr(ast.literal_eval(k.value))) for k in node.keywords)))


def build(mbpp: Path, out: Path, train_tasks: int = TRAIN_TASKS) -> dict:
    """Write the development set under `out` and return the checks' figures."""
    tasks = load(mbpp, "sanitized-validation") + load(mbpp, "sanitized-train")[:train_tasks]
    out.mkdir(parents=True, exist_ok=True)
    files = {True: (out / "with-examples.jsonl").open("w", encoding="utf-8"),
             False: (out / "no-examples.jsonl").open("w", encoding="utf-8")}
    figures: Counter = Counter()
    shown_count = 0
    try:
        for index, task in enumerate(tasks):
            shown = task.examples[:SHOWN] if (index + 1) % NO_EXAMPLES_EVERY else []
            record = {"id": f"mbpp-{task.task_id}", "source": f"MBPP {task.split} task "
                      f"{task.task_id}", "prompt": task.text.strip(),
                      "hidden_tests": task.tests}
            if task.setup:
                record["setup"] = task.setup
            function = shown[0].function if shown else _function(task)
            if shown:
                notation = NOTATIONS[shown_count % len(NOTATIONS)]
                layout = shown_count // len(NOTATIONS)
                shown_count += 1
                record["prompt"] = render(task, notation, layout, shown)
                record["notation"] = notation
                derived = find_examples(record["prompt"], function
                                        if notation == "input-output" else None)
                figures["examples_written"] += len(shown)
                figures["derived"] += len(derived)
                figures["implied"] += sum(implied(e, task.examples) for e in derived)
                figures["tasks_without_derived"] += not derived
            if not shown or record.get("notation") == "input-output":
                record["entry_point"] = function
            figures["with_examples" if shown else "without_examples"] += 1
            files[bool(shown)].write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        for fh in files.values():
            fh.close()
    figures["tasks"] = len(tasks)
    return dict(figures)


def build_check(mbpp: Path, out: Path, train_tasks: int = TRAIN_TASKS) -> dict:
    """Write `no-examples-check.jsonl`: MBPP's sanitized tasks outside the development set
    (the train tasks after the first `train_tasks`, and the prompt split), none with examples,
    every original test hidden. The development set is where the proposing steps were shaped;
    this one is for checking a change there on tasks it was not shaped on."""
    tasks = load(mbpp, "sanitized-train")[train_tasks:] + load(mbpp, "sanitized-prompt")
    out.mkdir(parents=True, exist_ok=True)
    with (out / "no-examples-check.jsonl").open("w", encoding="utf-8") as fh:
        for task in tasks:
            record = {"id": f"mbpp-{task.task_id}", "source": f"MBPP {task.split} task "
                      f"{task.task_id}", "prompt": task.text.strip(),
                      "hidden_tests": task.tests, "entry_point": _function(task)}
            if task.setup:
                record["setup"] = task.setup
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {"tasks": len(tasks)}


def _function(task: MbppTask) -> str:
    """Return the function the task's tests call (its name is all a text without examples keeps)."""
    for test in task.tests:
        for node in ast.walk(ast.parse(test)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    not hasattr(builtins, node.func.id):
                return node.func.id
    raise ValueError(f"MBPP task {task.task_id}: no function call in its tests")


def measure(mbpp: Path) -> dict[str, dict[str, int]]:
    """Render every validation and train task in every notation and layout; count per notation."""
    tasks = [t for split in ("full-validation", "full-train", "sanitized-validation",
                             "sanitized-train") if (mbpp / f"{split}.jsonl").exists()
             for t in load(mbpp, split) if t.examples]
    table: dict[str, Counter] = {n: Counter() for n in NOTATIONS}
    for task in tasks:
        for notation in NOTATIONS:
            for layout in range(len(LAYOUTS[notation])):
                text = render(task, notation, layout, task.examples)
                entry = task.examples[0].function if notation == "input-output" else None
                derived = find_examples(text, entry)
                row = table[notation]
                row["texts"] += 1
                row["written"] += len(task.examples)
                row["derived"] += len(derived)
                row["wrong"] += sum(not implied(e, task.examples) for e in derived)
                row["read_back"] += sum(any(_same(e, w) for e in derived) for w in task.examples)
                row["texts_with_none"] += not derived
    return {n: dict(c) for n, c in table.items()}


def _same(example: Example, written: Written) -> bool:
    return implied(example, [written])


def main(argv: list[str]) -> int:
    """Run `build MBPP_DIR OUT_DIR` or `measure MBPP_DIR`; print the figures as JSON."""
    if len(argv) == 3 and argv[0] == "build":
        print(json.dumps(build(Path(argv[1]), Path(argv[2])), indent=1))
        return 0
    if len(argv) == 3 and argv[0] == "build-check":
        print(json.dumps(build_check(Path(argv[1]), Path(argv[2])), indent=1))
        return 0
    if len(argv) == 2 and argv[0] == "measure":
        table = measure(Path(argv[1]))
        for notation, row in table.items():
            recall = row["read_back"] / row["written"]
            precision = 1 - row["wrong"] / row["derived"] if row["derived"] else 1.0
            print(f"{notation:13} texts {row['texts']:5}  written {row['written']:5}  "
                  f"derived {row['derived']:5}  wrong {row['wrong']:3}  recall {recall:.3f}  "
                  f"precision {precision:.3f}  texts with none {row['texts_with_none']}")
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
