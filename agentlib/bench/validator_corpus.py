"""Build a known-correct corpus for `agentlib bench validators` from MBPP's development splits.

    python -m agentlib.bench.validator_corpus DIR OUT.jsonl

DIR holds MBPP's ``{full,sanitized}-{prompt,validation,train}.jsonl`` (Austin et al. 2021,
CC-BY-4.0); only those six files are read, never the test split. Each record becomes one line:
its reference ``code`` as the program, its ``test_list`` as the tests, ``test_setup_code`` and
``test_imports`` as setup, ``expect: "correct"``. Where the other variant (full or sanitized)
of the same task has different code, it becomes the line's ``reference`` (an independent
implementation, for ``--evidence``). The reference code is MBPP's: the output file is for
measurement only and never goes into the product.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agentlib.errors import TaskFormatError

SPLITS = ("prompt", "validation", "train")
VARIANTS = ("full", "sanitized")


def _records(directory: Path) -> dict[tuple[str, str], list[dict]]:
    found = {}
    for variant in VARIANTS:
        for split in SPLITS:
            path = directory / f"{variant}-{split}.jsonl"
            if not path.is_file():
                raise TaskFormatError(f"{path} is missing; DIR must hold MBPP's "
                                      f"{{full,sanitized}}-{{prompt,validation,train}}.jsonl")
            found[(variant, split)] = [json.loads(line) for line in path.read_text().splitlines()
                                       if line.strip()]
    return found


def _normal(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.replace("\r\n", "\n").strip().splitlines())


def build(directory: Path) -> list[dict]:
    """The corpus lines for every record of the six development files."""
    records = _records(Path(directory))
    code_of: dict[tuple[str, int], str] = {}
    for (variant, _), items in records.items():
        for record in items:
            code_of[(variant, int(record["task_id"]))] = record["code"]
    lines = []
    for (variant, split), items in records.items():
        other = VARIANTS[1 - VARIANTS.index(variant)]
        for record in items:
            task = int(record["task_id"])
            setup = "\n".join([record.get("test_setup_code") or "",
                               *record.get("test_imports", [])]).strip()
            line = {"id": f"mbpp-{variant}-{task}", "prompt": record.get("text") or
                    record.get("prompt", ""), "tests": record["test_list"],
                    "program": record["code"], "expect": "correct",
                    "kind": f"mbpp-{split}"}
            if setup:
                line["setup"] = setup
            reference = code_of.get((other, task))
            if reference and _normal(reference) != _normal(record["code"]):
                line["reference"] = reference
            lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        lines = build(Path(args[0]))
    except TaskFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    Path(args[1]).write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(f"{len(lines)} programs written to {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
