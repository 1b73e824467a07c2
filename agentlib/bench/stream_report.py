"""Tables and report files of a stream benchmark (`agentlib.bench.stream.stream_figures`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = ["configuration", "hidden-test passes", "LLM calls", "tokens (prompt+completion)",
           "wall s", "solved", "reused"]


def cell(figure: dict[str, float], metric: str, signed: bool = False) -> str:
    """`value [low, high]`: percent (points for differences) for hidden passes, else totals."""
    digits = 1 if metric in ("hidden", "hidden_points", "wall_s") else 0
    unit = {"hidden": "%", "hidden_points": " pts"}.get(metric, "")
    spec = f"{'+' if signed else ''},.{digits}f"
    return (f"{figure['value']:{spec}}{unit} [{figure['low']:{spec}}, "
            f"{figure['high']:{spec}}]")


def group_rows(group: dict[str, Any]) -> list[list[str]]:
    """One row per configuration, then one per paired difference (COLUMNS order)."""
    rows = []
    for name, c in group["configs"].items():
        label = name
        if c.get("setup_s"):
            label += f" (library setup {c['setup_s']:.1f} s)"
        if "budget" in c:
            label += f" (budget {c['budget']}, spent {c['spent']}, {c['samples']} samples)"
        rows.append([label, f"{cell(c['hidden'], 'hidden')} ({c['hidden_passed']}/"
                            f"{c['hidden_tasks']})", cell(c["llm_calls"], "llm_calls"),
                     cell(c["tokens"], "tokens"), cell(c["wall_s"], "wall_s"),
                     f"{c['solved']}/{c['tasks']}", str(c["reused"])])
    for name, d in group["differences"].items():
        rows.append([name.replace(" - ", " − "), cell(d["hidden_points"], "hidden_points", True),
                     cell(d["llm_calls"], "llm_calls", True), cell(d["tokens"], "tokens", True),
                     cell(d["wall_s"], "wall_s", True), "", ""])
    return rows


def verdict_lines(figures: dict[str, Any]) -> list[str]:
    """The headline figures: restated reuse, calls ratio (and calls by kind), hidden-pass
    gains."""
    from agentlib.bench.tasks import calls_by_kind_text

    lines = []
    restated = figures.get("restated_reused")
    if restated:
        missed = f" (missed: {', '.join(restated['missed'])})" if restated["missed"] else ""
        lines.append(f"restated tasks reused with 0 calls: {restated['reused']}/"
                     f"{restated['restated']}{missed}")
    if figures.get("calls_ratio") is not None:
        lines.append(f"LLM calls, agent / no-library: {figures['calls_ratio']:.2f}")
    for name, c in figures["configs"].items():
        if c.get("calls_by_kind"):
            lines.append(f"LLM calls of {name} by kind: {calls_by_kind_text(c['calls_by_kind'])}")
    for name, d in figures["differences"].items():
        lines.append(f"hidden-test passes, {name.replace(' - ', ' − ')}: "
                     f"{cell(d['hidden_points'], 'hidden_points', True)}")
    return lines


def _markdown(rows: list[list[str]], columns: list[str]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return out + ["| " + " | ".join(row) + " |" for row in rows]


def write_stream_report(directory: Path, run: Any, figures: dict[str, Any],
                        env: dict[str, Any]) -> Path:
    """Write results.jsonl, stream.json, report.md and plots for one stream."""
    from agentlib.bench.tasks import write_report

    report = write_report(directory, run.summaries, env, run.source)
    (directory / "stream.json").write_text(json.dumps(figures, indent=1) + "\n")
    level = int(100 * figures["bootstrap"]["level"])
    lines = ["", f"## Stream figures ({level}% bootstrap intervals over tasks, "
                 f"{figures['bootstrap']['resamples']} resamples, seed "
                 f"{figures['bootstrap']['seed']})", ""]
    lines += _markdown(group_rows(figures), COLUMNS) + [""]
    lines += [f"- {line}" for line in verdict_lines(figures)] + [""]
    for family, group in figures["families"].items():
        lines += [f"### {family} ({group['tasks']} tasks)", ""]
        lines += _markdown(group_rows(group), COLUMNS) + [""]
    try:
        from agentlib.bench.plots import family_figure, save

        plot = save({"families": family_figure(figures, str(env.get("llm", "")), run.source)},
                    directory)
        lines += [f"![{p.stem}]({p.name})" for p in plot]
    except ImportError:
        pass
    with report.open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    return report
