"""The library on a real Chroma store with the real MiniLM embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentlib.code import docstring, module_id, signature
from agentlib.errors import StoreError
from agentlib.library.store import Library
from agentlib.model import Insight, Module


def make(name: str, body: str, tests: list[str], prompt: str = "", deps=()) -> Module:
    source = f"def {name}(x):\n{body}\n"
    return Module(id=module_id(source), name=name, source=source,
                  signature=signature(source, name), docstring=docstring(source, name),
                  tests=tests, dependencies=list(deps), task_prompt=prompt, task_id=f"t-{name}",
                  backend="replay", model="recorded")


def double() -> Module:
    return make("double", '    """Return twice x."""\n    return 2 * x',
                ["assert double(2) == 4"], "double a number")


def quadruple() -> Module:
    return make("quadruple", '    """Return four times x."""\n    return double(double(x))',
                ["assert quadruple(1) == 4"], "multiply by four", deps=["double"])


class TinyEmbedder:
    """A different 'model' (8 dimensions) to prove the library refuses to mix models."""

    name = "tiny"
    fingerprint = "tiny-8"
    dimension = 8

    def embed(self, texts):
        return [[float(len(t) % 7 + 1), 1.0, 0, 0, 0, 0, 0, float(i)] for i, t in
                enumerate(texts)]


def test_add_get_search_and_program_with_dependencies(library):
    library.add(double())
    stored = library.add(make("quadruple", '    """Return four times x."""\n'
                              "    return double(double(x))", ["assert quadruple(1) == 4"],
                              "multiply by four"))  # calls double() but lists no dependency
    assert library.get("quadruple").dependencies == ["double"]
    program = library.program_for(stored)
    assert program.index("def double") < program.index("def quadruple")
    namespace: dict = {}
    exec(program, namespace)  # our own verified test code, not untrusted input
    assert namespace["quadruple"](3) == 12
    found = library.search("multiply a number by four", k=2)
    assert [m.name for m, _ in found][0] == "quadruple"
    assert library.search("multiply by four", k=5, filters={"task_id": "t-double"})[0][0].name \
        == "double"


def test_same_code_twice_only_merges_tests(library):
    first = library.add(double())
    again = double()
    again.tests = ["assert double(0) == 0"]
    merged = library.add(again)
    assert merged.id == first.id and merged.version == 1
    assert library.get("double").tests == ["assert double(2) == 4", "assert double(0) == 0"]
    assert library.count() == 1


def test_new_version_supersedes_and_history_keeps_all(library):
    library.add(double())
    newer = library.add(make("double", "    return x + x", ["assert double(3) == 6"]))
    assert newer.version == 2
    assert library.get("double").id == newer.id
    history = library.history("double")
    assert [(m.version, m.status) for m in history] == [(1, "superseded"), (2, "active")]
    assert [m.name for m in library.list()] == ["double"]
    assert library.check() == []


def test_cycles_are_refused_at_store_time(library):
    library.add(double())
    library.add(quadruple())
    cyclic = make("double", "    return quadruple(x) // 2", ["assert double(2) == 4"],
                  deps=["quadruple"])
    with pytest.raises(StoreError, match="cycle"):
        library.add(cyclic)
    assert library.get("double").source == double().source
    with pytest.raises(StoreError, match="not an active module"):
        library.add(make("triple", "    return x * 3", ["assert triple(1) == 3"],
                         deps=["missing_helper"]))


def test_remove_refuses_dependents_unless_forced(library):
    library.add(double())
    library.add(quadruple())
    with pytest.raises(StoreError, match="needed by quadruple.*--force"):
        library.remove("double")
    assert library.get("double") is not None
    assert library.remove("quadruple") == []
    assert library.remove("double") == []
    assert library.get("double") is None
    assert [m.status for m in library.history("double")] == ["pruned"]


def test_forced_remove_reports_what_breaks_and_check_sees_it(library):
    library.add(double())
    library.add(quadruple())
    assert library.remove("double", force=True) == ["quadruple"]
    problems = library.check()
    assert any("quadruple" in p and "double" in p for p in problems)


def test_counters(library):
    stored = library.add(double())
    library.update_counters(stored.id, times_retrieved=1)
    library.update_counters(stored.id, times_reused=1, times_retrieved=1)
    module = library.get("double")
    assert (module.times_retrieved, module.times_reused, module.times_failed) == (2, 1, 0)
    with pytest.raises(StoreError, match="unknown counter"):
        library.update_counters(stored.id, times_loved=1)


def test_insights_add_search_count_and_lineage(library):
    first = library.insights.add(Insight(
        id="", taxonomy="off-by-one", condition="a loop over range(n) must include n",
        explanation="use range(n + 1) when the end is inclusive", example="range(1, n + 1)"))
    other = library.insights.add(Insight(
        id="", taxonomy="string handling", condition="text may contain upper case letters",
        explanation="normalise with str.lower() before comparing"))
    refined = library.insights.add(Insight(
        id="", taxonomy="off-by-one", condition="an inclusive upper bound in a range loop",
        explanation="use range(n + 1)", merged_from=[first.id, other.id],
        refined_from=first.id))
    assert library.insights.add(Insight(
        id="", taxonomy="off-by-one", condition="a loop over range(n) must include n",
        explanation="use range(n + 1) when the end is inclusive",
        example="range(1, n + 1)")).id == first.id
    assert library.insights.count() == 3
    library.insights.update_counters(first.id, retrieved=2, helped=1)
    library.insights.update_counters(first.id, misled=1)
    got = library.insights.get(first.id)
    assert (got.retrieved, got.helped, got.misled) == (2, 1, 1)
    again = library.insights.get(refined.id)
    assert again.merged_from == [first.id, other.id] and again.refined_from == first.id
    found = library.insights.search("compare words ignoring capital letters", k=1)
    assert found[0][0].id == other.id
    with pytest.raises(StoreError, match="content hash"):
        library.insights.add(Insight(id="made-up", taxonomy="a", condition="b",
                                     explanation="c"))
    assert library.check() == []


def test_other_embedder_is_refused_until_reindex(tmp_path, embedder):
    path = str(tmp_path / "store")
    Library(path, embedder).add(double())
    with pytest.raises(StoreError, match="agentlib lib reindex"):
        Library(path, TinyEmbedder())
    assert Library(path, TinyEmbedder(), check_embedder=False).reindex() == 1
    tiny = Library(path, TinyEmbedder())
    assert tiny.check() == []
    assert tiny.search("double", k=1)[0][0].name == "double"
    with pytest.raises(StoreError, match="reindex"):
        Library(path, embedder)


def test_check_reports_a_module_without_tests(library):
    broken = double()
    broken.tests = []
    library.add(broken)
    assert any("no tests" in p for p in library.check())


def test_check_sees_records_embedded_from_an_older_text_and_reindex_fixes_them(library):
    from agentlib.library.text import embedding_text

    module = library.add(double())
    assert library.check() == []
    # what an earlier agentlib embedded: the prompt with its request wording
    old_text = "Write a function to double x."
    with library.conn.write():  # as that agentlib wrote it: a write moves the generation
        library.modules.update(ids=[module.id], documents=[old_text],
                               embeddings=[library.embed(old_text)])
    problems = library.check()
    assert problems == ["modules: 1 record(s) were embedded from an older form of their text "
                        "(an earlier agentlib); run `agentlib lib reindex`"]
    assert library.reindex() == 1
    assert library.check() == []
    got = library.modules.get(ids=[module.id], include=["documents"])
    assert got["documents"] == [embedding_text(module)]
    # counters are metadata-only writes: they leave text and vector as they are
    with library.conn.write():
        library.modules.update(ids=[module.id], documents=[old_text],
                               embeddings=[library.embed(old_text)])
    library.update_counters(module.id, times_retrieved=1)
    assert len(library.check()) == 1


def test_check_runs_stored_tests_in_the_sandbox(library):
    library.add(double())
    library.add(make("wrong", "    return x", ["assert wrong(1) == 2"]))
    problems = library.check(run_tests=True)
    assert len(problems) == 1 and "wrong" in problems[0] and "fail" in problems[0]


def test_cli_history_rm_check_stats(tmp_path, embedder):
    from agentlib.cli import app

    path = str(tmp_path / "store")
    lib = Library(path, embedder)
    lib.add(double())
    lib.add(quadruple())
    lib.add(make("double", "    return x + x", ["assert double(3) == 6"]))
    runner = CliRunner()
    result = runner.invoke(app, ["lib", "history", "double", "--library", path])
    assert result.exit_code == 0 and "superseded" in result.output
    result = runner.invoke(app, ["lib", "rm", "double", "--library", path])
    assert result.exit_code != 0 and "needed by quadruple" in result.output, result.output
    result = runner.invoke(app, ["lib", "check", "--library", path])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["lib", "rm", "double", "--force", "--library", path])
    assert result.exit_code == 0 and "quadruple" in result.output
    result = runner.invoke(app, ["lib", "check", "--library", path])
    assert result.exit_code == 1 and "double" in result.output
    result = runner.invoke(app, ["lib", "stats", "--json", "--library", path])
    assert result.exit_code == 0
    assert '"pruned": 1' in result.output and '"replay/recorded": 1' in result.output


def test_search_index_follows_writes_from_this_and_other_processes(tmp_path, embedder):
    import subprocess
    import sys

    path = str(tmp_path / "store")
    library = Library(path, embedder)
    stored = library.add(double())
    assert library.search("twice", k=1)[0][0].times_reused == 0
    library.update_counters(stored.id, times_reused=1)  # patched into the in-memory index
    assert library._exact is not None
    assert library.search("twice", k=1)[0][0].times_reused == 1
    Library(path, embedder).add(quadruple())  # another handle in this process
    assert {m.name for m, _ in library.search("four times", k=5)} == {"double", "quadruple"}
    code = ("import sys; sys.path.insert(0, sys.argv[2]);"
            "from test_library import make; from agentlib.library.store import Library;"
            "from agentlib.library.embed import MiniLMEmbedder;"
            "Library(sys.argv[1], MiniLMEmbedder()).add(make('negate', '    return -x',"
            " ['assert negate(1) == -1'], 'negate a number'))")
    tests_dir = str(Path(__file__).parent)
    subprocess.run([sys.executable, "-c", code, path, tests_dir], check=True, timeout=120)
    assert library.search("negate a number", k=1)[0][0].name == "negate"
