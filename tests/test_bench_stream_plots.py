"""Benchmark plots are readable: the settings are checked on the matplotlib figure objects."""

from __future__ import annotations

import pytest

from agentlib.bench.plots import family_figure, line_figures, save, series
from agentlib.bench.tasks import ConfigSummary, TaskRow


def _summary(config: str, calls: list[int], hidden: list[bool]) -> ConfigSummary:
    summary = ConfigSummary(config=config)
    for i, (n, h) in enumerate(zip(calls, hidden, strict=True)):
        summary.add(TaskRow(config=config, id=f"t-{i}", status="solved", decision="created",
                            llm_calls=n, prompt_tokens=10, completion_tokens=5, wall_s=0.1,
                            attempts=1, hidden=h, library_size=i if config == "agent" else 0))
    return summary


SUMMARIES = [_summary("agent", [1, 0, 2, 1, 0, 1], [True, True, False, True, True, True]),
             _summary("no-library", [1, 1, 2, 1, 1, 1], [True, True, False, True, False, True]),
             _summary("equal-compute", [1, 1, 2, 1, 1, 1], [True, True, False, True, False, True])]


def test_line_plots_keep_overlapping_series_apart_and_count_from_zero():
    figures = line_figures(SUMMARIES, "local:qwen2.5-coder-1.5b.gguf", "/x/report-1.jsonl")
    assert set(figures) == {"solved", "hidden", "llm_calls", "library_size"}
    for name, fig in figures.items():
        (ax,) = fig.axes
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == ["agent", "no-library", "equal-compute"]
        assert len({line.get_marker() for line in lines}) == 3, name
        assert len({str(line.get_linestyle()) for line in lines}) == 3, name
        assert ax.get_ylim()[0] == 0
        assert all(float(t).is_integer() for t in ax.get_yticks()), name
        assert all(float(t).is_integer() for t in ax.get_xticks()), name
        title = ax.get_title()
        assert "local:qwen2.5-coder-1.5b.gguf" in title and "report-1.jsonl" in title
        assert ax.get_legend() is not None
    # no-library and equal-compute are the same series here: both stay visible by style
    solved = figures["hidden"].axes[0].get_lines()
    assert list(solved[1].get_ydata()) == list(solved[2].get_ydata())
    assert solved[1].get_linestyle() != solved[2].get_linestyle()


def test_series_are_cumulative_except_the_library_size():
    agent = SUMMARIES[0]
    assert series(agent, "llm_calls") == [1, 1, 3, 4, 4, 5]
    assert series(agent, "hidden") == [1, 2, 2, 3, 4, 5]
    assert series(agent, "library_size") == [0, 1, 2, 3, 4, 5]


def test_plots_without_hidden_tests_leave_that_plot_out(tmp_path):
    plain = ConfigSummary(config="agent")
    plain.add(TaskRow(config="agent", id="t", status="failed", decision="failed", llm_calls=0,
                      prompt_tokens=0, completion_tokens=0, wall_s=0.0, attempts=1,
                      hidden=None, library_size=0))
    figures = line_figures([plain], "m", "tasks.jsonl")
    assert "hidden" not in figures
    assert figures["solved"].axes[0].get_ylim() == (0, pytest.approx(1.08))
    paths = save(figures, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_family_plot_has_a_bar_group_per_family_with_hatches_and_intervals():
    interval = {"value": 50.0, "low": 20.0, "high": 80.0}
    group = {"configs": {c: {"hidden": interval} for c in ("agent", "no-library")}}
    figures = {"bootstrap": {"level": 0.9}, "configs": group["configs"],
               "families": {"runs": group, "bits": group, "comb": group}}
    fig = family_figure(figures, "m", "report-1.jsonl")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["runs", "bits", "comb"]
    bars = ax.patches
    assert len(bars) == 6 and len({b.get_hatch() for b in bars}) == 2
    assert ax.get_ylim()[0] == 0 and "90%" in ax.get_title() and "report-1.jsonl" in ax.get_title()
    assert len(ax.collections) == 2  # one set of error bars per configuration
