"""The REPL's offer of tests for a task typed without them (`repl_draft.offer_tests`): derived
or proposed tests accepted, edited, dropped. The person's answers are scripted (the test is
about what is kept, not the terminal: tests/test_repl_tmux.py drives that); the proposal is the
real small model's, replayed from tests/recordings/examples.json."""

from __future__ import annotations

from types import SimpleNamespace

from conftest import RECORDINGS
from test_examples_cli import EDITED_TEST, NO_EXAMPLES_TASK, WORDS_TASK

from agentlib.agent.propose import ask_for_tests
from agentlib.cli.repl_draft import Asker, TaskDraft, offer_tests
from agentlib.config import Settings
from agentlib.llm.replay import ReplayLLM

DERIVED = ['assert vowel_count("Rain") == 2', 'assert vowel_count("sky") == 0',
           'assert vowel_count("AEIOU") == 5']


def _offer(prompt: str, *answers: str, terminal: bool = True, propose: bool = True):
    said: list[str] = []
    replies = iter(answers)

    def answer(_question: str) -> str:
        reply = next(replies)
        if reply == "EOF":
            raise EOFError
        return reply

    edits: list[str] = []

    def edit(text: str) -> str:
        edits.append(text)
        return answer(text)

    llm = ReplayLLM(RECORDINGS / "examples.json")
    session = SimpleNamespace(
        asker=Asker(choose=answer, edit=edit) if terminal else None,
        settings=Settings(propose_tests=propose), say=said.append,
        propose=lambda text, name: ask_for_tests(llm, text, name))
    draft = TaskDraft(prompt)
    offer_tests(session, draft)
    return draft, "\n".join(said), edits


def test_derived_tests_accepted_stay_marked_derived():
    draft, said, _ = _offer(WORDS_TASK, "")
    assert draft.tests == DERIVED and draft.derived == set(DERIVED)
    assert "3 test(s) derived from the text:" in said
    assert f"  {DERIVED[0]}    (derived)" in said


def test_proposed_tests_accepted_become_the_person_s_own():
    draft, said, _ = _offer(NO_EXAMPLES_TASK, "y")
    assert "proposed by the model (check them)" in said
    assert draft.tests and all(t.startswith("assert max_of_three(") for t in draft.tests)
    assert all(f"{t}    (proposed)" in said for t in draft.tests)
    assert draft.derived == set()  # accepted: given, so the module is stored as any other


def test_proposed_tests_edited_keep_what_the_person_left_and_added():
    proposed = _offer(NO_EXAMPLES_TASK, "y")[0].tests
    kept = "\n".join(proposed[1:] + [EDITED_TEST])
    draft, _, edits = _offer(NO_EXAMPLES_TASK, "e", kept)
    assert edits == ["\n".join(proposed)]  # the person saw every proposed test to edit
    assert draft.tests == proposed[1:] + [EDITED_TEST] and draft.derived == set()


def test_derived_tests_edited_keep_their_mark_only_where_unchanged():
    draft, _, _ = _offer(WORDS_TASK, "e", "\n".join([DERIVED[0], "assert vowel_count('') == 0"]))
    assert draft.tests == [DERIVED[0], "assert vowel_count('') == 0"]
    assert draft.derived == {DERIVED[0]}


def test_dropped_or_ctrl_d_leaves_the_task_without_tests():
    for answer in ("d", "EOF"):
        draft, said, _ = _offer(NO_EXAMPLES_TASK, answer)
        assert draft.tests == [] and "dropped: add tests with /test" in said


def test_without_a_terminal_derived_tests_are_used_and_nothing_is_proposed():
    draft, _, _ = _offer(WORDS_TASK, terminal=False)
    assert draft.tests == DERIVED and draft.derived == set(DERIVED)
    for terminal, propose in ((False, True), (True, False)):
        draft, said, _ = _offer(NO_EXAMPLES_TASK, terminal=terminal, propose=propose)
        assert draft.tests == [] and "no tests yet: add them with /test" in said
