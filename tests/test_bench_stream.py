"""`agentlib bench stream`: bootstrap intervals, the equal-compute budget, and the whole command.

The end-to-end test registers a scripted LLM through the real `register_llms` hook (a plugin
distribution on sys.path, found through the `agentlib` entry-point group): the test is about
the benchmark's bookkeeping, not the model. Everything else is real (sandbox, Chroma, MiniLM).
"""

from __future__ import annotations

import json
import random

import pytest
import test_plugins_factory as factory
from typer.testing import CliRunner

import agentlib.plugins as plugins
from agentlib.bench.bootstrap import bootstrap_difference, bootstrap_total
from agentlib.bench.stream import SamplingLLM, read_stream, split_budget
from agentlib.cli import app
from agentlib.llm import Completion


def test_bootstrap_interval_covers_the_true_mean_about_as_often_as_its_level():
    rng = random.Random(7)
    covered = 0
    for trial in range(60):
        values = [float(rng.random() < 0.3) for _ in range(200)]  # Bernoulli(0.3)
        interval = bootstrap_total(values, scale=1.0, seed=trial)
        assert interval.low <= interval.value <= interval.high
        covered += interval.contains(0.3)
    assert 45 <= covered <= 60  # nominal 90%: 54 of 60 expected


def test_bootstrap_of_normal_data_contains_the_mean_and_narrows_with_more_tasks():
    rng = random.Random(3)
    small = bootstrap_total([rng.gauss(10, 2) for _ in range(30)], scale=1.0)
    large = bootstrap_total([rng.gauss(10, 2) for _ in range(3000)], scale=1.0)
    assert small.contains(10.0) and large.contains(10.0)
    assert large.high - large.low < (small.high - small.low) / 4


def test_bootstrap_of_constant_data_has_zero_width_and_scales_to_totals():
    assert bootstrap_total([3.0] * 25) == bootstrap_total([3.0] * 25, seed=5)
    interval = bootstrap_total([3.0] * 25)
    assert (interval.value, interval.low, interval.high) == (75.0, 75.0, 75.0)
    rate = bootstrap_total([1.0, 0.0, 1.0, 1.0], scale=100.0)
    assert rate.value == 75.0 and 0.0 <= rate.low <= rate.high <= 100.0


def test_paired_difference_cancels_what_both_sides_share():
    rng = random.Random(1)
    base = [rng.uniform(0, 100) for _ in range(40)]
    shifted = [x + 2 for x in base]
    paired = bootstrap_difference(shifted, base)
    assert paired.low == pytest.approx(80.0) and paired.high == pytest.approx(80.0)
    unpaired_width = bootstrap_total(shifted).high - bootstrap_total(shifted).low
    assert unpaired_width > 100  # the spread the pairing removed
    with pytest.raises(ValueError, match="one value per task"):
        bootstrap_difference([1.0], [1.0, 2.0])


@pytest.mark.parametrize(("total", "tasks", "expected"), [
    (8, 4, [2, 2, 2, 2]), (5, 4, [1, 1, 1, 2]), (10, 4, [2, 3, 2, 3]),
    (2, 5, [1, 1, 1, 1, 1]), (0, 3, [1, 1, 1]), (7, 0, []),
])
def test_split_budget_is_even_at_least_one_and_spread(total, tasks, expected):
    assert split_budget(total, tasks) == expected


def test_split_budget_spends_exactly_the_total_when_it_covers_every_task():
    for total in range(40, 200, 7):
        shares = split_budget(total, 40)
        assert sum(shares) == total and max(shares) - min(shares) <= 1 and min(shares) >= 1


def test_sampling_llm_sets_temperature_and_seed_only_where_the_caller_chose_none():
    seen = []

    class Inner:
        name = "inner"

        def complete(self, messages, **options):
            seen.append(options)
            return Completion(text="")

    llm = SamplingLLM(Inner())
    llm.complete([])  # greedy sample: untouched
    llm.temperature, llm.seed = 0.8, 3
    llm.complete([])
    llm.complete([], temperature=0.2, seed=9)  # a caller's own choice wins
    assert seen == [{}, {"temperature": 0.8, "seed": 3}, {"temperature": 0.2, "seed": 9}]
    assert llm.name == "inner"


SCRIPTED = '''
    import re

    from agentlib.llm import Completion
    from agentlib.plugins import hookimpl

    GOOD = {"double": "def double(x):\\n    return x + x if x < 100 else 0\\n",
            "add_one": "def add_one(x):\\n    return x + 1\\n",
            "twice": "def twice(x):\\n    return 2 * x\\n",
            "triple": "def triple(x):\\n    return 3 * x\\n"}
    GREEDY = {"triple": "def triple(x):\\n    return x + x\\n"}


    class ScriptedLLM:
        """Answers by the function the prompt names; `triple` is right only when sampled."""

        name = "scripted"

        def complete(self, messages, **options):
            text = "\\n".join(m["content"] for m in messages)
            found = re.search(r"function named `(\\w+)`", text)
            if found is None:  # a reflection: no usable lesson
                return Completion(text="no lesson", prompt_tokens=50, completion_tokens=3)
            name = found.group(1)
            sampled = options.get("temperature", 0) > 0
            code = GREEDY[name] if name in GREEDY and not sampled else GOOD[name]
            return Completion(text="```python\\n" + code + "```", prompt_tokens=100,
                              completion_tokens=10)


    @hookimpl
    def register_llms(register):
        register("scripted", lambda settings: ScriptedLLM())
'''

STREAM = [
    {"id": "a-01", "family": "a", "prompt": "Write a function double(x) that returns 2 * x.",
     "tests": ["assert double(2) == 4", "assert double(0) == 0"],
     "hidden_tests": ["assert double(1000) == 2000", "assert double(-3) == -6"]},
    {"id": "b-01", "family": "b", "prompt": "Write a function add_one(x) that returns x + 1.",
     "tests": ["assert add_one(1) == 2", "assert add_one(-1) == 0"],
     "hidden_tests": ["assert add_one(999) == 1000"]},
    {"id": "a-02", "family": "a", "prompt": "Return two times a number.", "restates": "a-01",
     "tests": ["assert twice(3) == 6", "assert twice(0) == 0"],
     "hidden_tests": ["assert twice(500) == 1000"]},
    {"id": "b-02", "family": "b", "prompt": "Write a function triple(x) that returns 3 * x.",
     "uses": ["b-01"], "tests": ["assert triple(2) == 6", "assert triple(0) == 0"],
     "hidden_tests": ["assert triple(-4) == -12"]},
]


@pytest.fixture
def scripted(tmp_path, monkeypatch):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_WARNED", set())
    factory.make_plugin(site, "agentlib-scripted", "scripted", SCRIPTED)
    monkeypatch.setenv("AGENTLIB_PLUGINS", "scripted")
    monkeypatch.setenv("AGENTLIB_LLM", "scripted")
    monkeypatch.setenv("COLUMNS", "250")
    path = tmp_path / "stream.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in STREAM))
    return path


def test_bench_stream_reports_every_configuration_with_intervals(scripted, tmp_path):
    report = tmp_path / "report"
    result = CliRunner().invoke(app, ["bench", "stream", str(scripted), "--json", "--report",
                                      str(report), "--resamples", "500"])
    assert result.exit_code == 0, result.output
    (figures,) = json.loads(result.stdout)
    assert figures == json.loads((report / "stream.json").read_text())
    rows = [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines()]
    by = {c: [r for r in rows if r["config"] == c] for c in ("agent", "no-library",
                                                             "equal-compute")}
    assert [len(v) for v in by.values()] == [4, 4, 4]
    agent, bare, equal = (figures["configs"][c] for c in by)
    # the agent reuses `double` for the restated `twice` (zero calls) and so inherits its bug
    assert by["agent"][2]["decision"] == "reused" and by["agent"][2]["llm_calls"] == 0
    assert figures["restated_reused"] == {"reused": 1, "restated": 1, "missed": []}
    assert [r["hidden"] for r in by["agent"]] == [False, True, False, True]
    assert [r["hidden"] for r in by["no-library"]] == [False, True, True, True]
    assert (agent["hidden_passed"], bare["hidden_passed"], equal["hidden_passed"]) == (2, 3, 3)
    assert agent["hidden"]["value"] == 50.0 and bare["hidden"]["value"] == 75.0
    diff = figures["differences"]["agent - no-library"]["hidden_points"]
    assert diff["value"] == -25.0 and diff["low"] <= -25.0 <= diff["high"]
    # equal compute: the agent's calls split evenly; `triple` is solved by its second sample
    calls = sum(r["llm_calls"] for r in by["agent"])
    assert agent["llm_calls"]["value"] == calls and equal["budget"] == calls
    assert [r["budget"] for r in by["equal-compute"]] == split_budget(calls, 4)
    assert all(r["llm_calls"] <= r["budget"] for r in by["equal-compute"])
    assert by["equal-compute"][3]["attempts"] == 2 and by["equal-compute"][3]["status"] == "solved"
    assert equal["spent"] == sum(r["llm_calls"] for r in by["equal-compute"])
    assert all(r["library_size"] == 0 for r in by["equal-compute"])
    for name, config in figures["configs"].items():
        tokens = sum(r["prompt_tokens"] + r["completion_tokens"] for r in by[name])
        assert config["tokens"]["value"] == tokens
        assert config["tokens"]["low"] <= tokens <= config["tokens"]["high"]
        assert config["wall_s"]["value"] == pytest.approx(sum(r["wall_s"] for r in by[name]))
        # every call is counted under what asked for it, per task and per configuration
        assert all(sum(r["calls_by_kind"].values()) == r["llm_calls"] for r in by[name])
        assert sum(config["calls_by_kind"].values()) == config["llm_calls"]["value"]
    assert by["agent"][2]["calls_by_kind"] == {}  # reused: no call
    assert set(equal["calls_by_kind"]) == {"generate"}
    assert figures["calls_ratio"] == calls / sum(r["llm_calls"] for r in by["no-library"])
    assert set(figures["families"]) == {"a", "b"}
    family_a = figures["families"]["a"]
    assert family_a["tasks"] == 2 and family_a["configs"]["agent"]["hidden"]["value"] == 0.0
    assert family_a["differences"]["agent - equal-compute"]["hidden_points"]["value"] == -50.0
    text = (report / "report.md").read_text()
    assert "restated tasks reused with 0 calls: 1/1" in text and "### b (2 tasks)" in text
    assert "LLM calls of agent by kind: generate " in text
    for plot in ("solved", "hidden", "llm_calls", "library_size", "families"):
        assert (report / f"{plot}.png").stat().st_size > 1000


def test_bench_stream_table_shows_the_intervals_and_the_reuse_line(scripted, tmp_path):
    result = CliRunner().invoke(app, ["bench", "stream", str(scripted), "--no-equal-compute",
                                      "--resamples", "200"])
    assert result.exit_code == 0, result.output
    assert "equal-compute" not in result.stdout
    assert "agent − no-library" in result.stdout and "pts [" in result.stdout
    assert "restated tasks reused with 0 calls: 1/1" in result.stdout
    assert "per family" in result.stdout


def test_every_bundled_stream_reads_with_its_metadata():
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "agentlib" / "bench" / "data"
    for path in sorted(data.glob("*.jsonl")):
        tasks = read_stream(path)
        assert tasks and all(t.family and t.task.hidden_tests for t in tasks)
        ids = [t.task.id for t in tasks]
        assert all(ids.index(t.restates) < i for i, t in enumerate(tasks) if t.restates)
    assert len(read_stream(data / "report-1.jsonl", limit=3)) == 3
