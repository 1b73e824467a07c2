"""Plots of benchmark reports: one matplotlib figure per question, readable when series overlap.

Every series has its own marker and line style (and bars their own hatch), counts have integer
ticks, the y axis starts at 0, and the title names the model and the task file. Figures are
built with `matplotlib.figure.Figure` (no pyplot state) and written by `save`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STYLES = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", (0, (5, 1))),
          ("X", (0, (3, 1, 1, 1)))]
HATCHES = ["", "//", "..", "xx", "\\\\", "oo"]
LINES = (("solved", "cumulative tasks solved (visible tests)", "tasks"),
         ("hidden", "cumulative hidden-test passes", "tasks"),
         ("llm_calls", "cumulative LLM calls", "LLM calls"),
         ("library_size", "library size", "modules"))


def series(summary: Any, key: str) -> list[int]:
    """The values a line plot shows for one configuration, one per task."""
    if key == "library_size":
        return [row.library_size for row in summary.rows]
    out, total = [], 0
    for row in summary.rows:
        if key == "solved":
            total += row.status == "solved"
        elif key == "hidden":
            total += bool(row.hidden)
        else:
            total += getattr(row, key)
        out.append(total)
    return out


def _title(ax: Any, title: str, model: str, source: str) -> None:
    ax.set_title(f"{title}\n{model} · {Path(source).name}", fontsize=10)


def _integer_axes(ax: Any, top: float) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(top, 1) * 1.08)


def line_figures(summaries: list[Any], model: str, source: str) -> dict[str, Any]:
    """{name: Figure}: cumulative solved, hidden passes (when there are hidden tests), LLM
    calls, and library size over the stream, one line per configuration."""
    from matplotlib.figure import Figure

    figures = {}
    for key, title, ylabel in LINES:
        if key == "hidden" and not any(s.hidden_tasks for s in summaries):
            continue
        fig = Figure(figsize=(7.5, 4.2))
        ax = fig.subplots()
        top = 0
        for i, summary in enumerate(summaries):
            ys = series(summary, key)
            marker, style = STYLES[i % len(STYLES)]
            ax.plot(range(1, len(ys) + 1), ys, label=summary.config, marker=marker,
                    linestyle=style, markevery=max(1, len(ys) // 15), markersize=5,
                    linewidth=1.6, alpha=0.9)
            top = max([top, *ys])
        _title(ax, title, model, source)
        ax.set_xlabel("task (stream order)")
        ax.set_ylabel(ylabel)
        _integer_axes(ax, top)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
        fig.tight_layout()
        figures[key] = fig
    return figures


def family_figure(figures: dict[str, Any], model: str, source: str) -> Any:
    """Bars of the hidden-test pass rate per family and configuration, with the bootstrap
    intervals of `agentlib.bench.stream.stream_figures` as error bars."""
    from matplotlib.figure import Figure

    families = list(figures["families"])
    configs = list(figures["configs"])
    fig = Figure(figsize=(max(6.0, 1.4 * len(families) + 2), 4.2))
    ax = fig.subplots()
    width = 0.8 / max(1, len(configs))
    for i, config in enumerate(configs):
        cells = [figures["families"][f]["configs"][config]["hidden"] for f in families]
        xs = [k + (i - (len(configs) - 1) / 2) * width for k in range(len(families))]
        values = [c["value"] for c in cells]
        errors = [[v - c["low"] for v, c in zip(values, cells, strict=True)],
                  [c["high"] - v for v, c in zip(values, cells, strict=True)]]
        ax.bar(xs, values, width, yerr=errors, capsize=3, label=config,
               hatch=HATCHES[i % len(HATCHES)], edgecolor="black", linewidth=0.6)
    ax.set_xticks(range(len(families)), families)
    _title(ax, f"hidden-test passes by family, {int(100 * figures['bootstrap']['level'])}% "
               "bootstrap intervals", model, source)
    ax.set_ylabel("% of the family's tasks")
    ax.set_ylim(0, 105)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(configs), frameon=False)
    fig.tight_layout()
    return fig


def save(figures: dict[str, Any], directory: Path) -> list[Path]:
    """Write each figure as `<name>.png` in `directory`."""
    paths = []
    for name, fig in figures.items():
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=100)
        paths.append(path)
    return paths
