"""Record the real model's refactoring proposals for tests/test_refactor.py.

    AGENTLIB_HOME=/tmp/aglhome python tests/record_refactor.py [default|small]

Builds the hand-made date library below in a temporary directory, runs `refactor_library`
with the real local model wrapped in RecordingLLM, and adds its completions to
tests/recordings/refactor.json. The tests replay them (same prompts, same keys).
The recording is Qwen2.5-Coder-1.5B's (`default`): the 0.5B model (`small`) answered by
repeating the three functions unchanged, with no helper.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from agentlib.code import docstring, module_id, signature
from agentlib.model import Module

RECORDING = Path(__file__).parent / "recordings" / "refactor.json"

_PARSE = '''    parts = date.split('-')
    if len(parts) != 3:
        raise ValueError('expected YYYY-MM-DD')
    year, month, day = int(parts[0]), int(parts[1]), int(parts[2])
'''

DATE_MODULES = {
    "year_of": ('def year_of(date):\n    """Return the year of a YYYY-MM-DD date."""\n'
                + _PARSE + "    return year\n",
                ["assert year_of('2024-03-15') == 2024", "assert year_of('1999-12-31') == 1999"]),
    "quarter_of": ('def quarter_of(date):\n    """Return the quarter (1-4) of a YYYY-MM-DD date."""\n'
                   + _PARSE + "    return (month - 1) // 3 + 1\n",
                   ["assert quarter_of('2024-03-15') == 1", "assert quarter_of('2023-11-02') == 4"]),
    "us_format": ('def us_format(date):\n    """Rewrite a YYYY-MM-DD date as MM/DD/YYYY."""\n'
                  + _PARSE + "    return f'{month:02d}/{day:02d}/{year}'\n",
                  ["assert us_format('2024-03-05') == '03/05/2024'",
                   "assert us_format('1999-12-31') == '12/31/1999'"]),
    "word_count": ('def word_count(text):\n    """Return how many words the text has."""\n'
                   "    return len(text.split())\n",
                   ["assert word_count('a b c') == 3", "assert word_count('') == 0"]),
}


def make_module(name: str, source: str, tests: list[str], **fields) -> Module:
    """Build a Module record the way the agent stores one."""
    return Module(id=module_id(source), name=name, source=source,
                  signature=signature(source, name), docstring=docstring(source, name),
                  tests=list(tests), task_prompt=docstring(source, name), task_id=name, **fields)


def build_date_library(library) -> None:
    """Store the date modules (three repeat the same parsing) and one unrelated module."""
    for name, (source, tests) in DATE_MODULES.items():
        library.add(make_module(name, source, tests))


def main(model: str = "default") -> None:
    from agentlib.library.embed import MiniLMEmbedder
    from agentlib.library.store import Library
    from agentlib.llm.local import LocalLLM
    from agentlib.llm.provision import resolve_model
    from agentlib.llm.replay import RecordingLLM
    from agentlib.refactor.run import refactor_library

    llm = RecordingLLM(LocalLLM(resolve_model(model)), RECORDING)
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(str(Path(tmp) / "store"), MiniLMEmbedder())
        build_date_library(library)
        report = refactor_library(library, llm, budget=2)
        for outcome in report.outcomes:
            print(outcome.cluster.names, outcome.accepted, outcome.reason)
            if outcome.proposal:
                print(outcome.proposal.reply)


if __name__ == "__main__":
    main(*sys.argv[1:])
