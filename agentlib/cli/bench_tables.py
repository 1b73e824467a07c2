"""The tables `agentlib bench` prints (rich), one function per benchmark's figures."""

from __future__ import annotations

from rich.table import Table


def summary_table(summaries) -> Table:
    table = Table(title="benchmark")
    for column in ("config", "solved", "hidden", "1st try", "LLM calls", "calls/solved",
                   "tokens", "wall s", "reused", "library"):
        table.add_column(column, justify="right")
    for s in summaries:
        table.add_row(s.config, f"{s.solved}/{s.tasks}",
                      f"{s.hidden_solved}/{s.hidden_tasks}" if s.hidden_tasks else "—",
                      str(s.first_attempt), str(s.llm_calls), f"{s.calls_per_solved:.2f}",
                      str(s.prompt_tokens + s.completion_tokens), f"{s.wall_s:.1f}",
                      str(s.reused), str(s.library_size))
    return table


def print_stream(console, figures: dict) -> None:
    """Print a stream's figures: the configurations, the families, the verdicts."""
    from agentlib.bench.stream_report import COLUMNS, cell, group_rows, verdict_lines

    level = int(100 * figures["bootstrap"]["level"])
    table = Table(title=f"{figures['stream']} ({figures['tasks']} tasks; {level}% bootstrap "
                        "intervals over tasks)")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for row in group_rows(figures):
        table.add_row(*row)
    console.print(table)
    names = list(figures["configs"])
    families = Table(title="per family: hidden-test passes % and LLM calls")
    for column in ["family", "tasks", *[f"hidden {n}" for n in names],
                   *[f"{d.replace(' - ', ' − ')} (pts)" for d in figures["differences"]],
                   *[f"calls {n}" for n in names]]:
        families.add_column(column, justify="right")
    for name, group in figures["families"].items():
        configs, diffs = group["configs"], group["differences"]
        families.add_row(name, str(group["tasks"]),
                         *[f"{configs[n]['hidden']['value']:.0f}" for n in names],
                         *[cell(d["hidden_points"], "hidden_points", True) for d in diffs.values()],
                         *[f"{configs[n]['llm_calls']['value']:.0f}" for n in names])
    console.print(families)
    for line in verdict_lines(figures):
        console.print(line)


def steps_table(figures: dict) -> Table:
    table = Table(title=f"library grown from {figures['grow']['tasks']} task(s), maintained "
                        "step by step")
    for column in ("step", "modules", "lines", "vs before", "calling a helper",
                   "calling the library", "stored tests passed"):
        table.add_column(column, justify="right")
    first = figures["steps"]["before"]["lines"] or 1
    for name, step in figures["steps"].items():
        table.add_row(name, str(step["modules"]), str(step["lines"]),
                      f"{100 * (step['lines'] - first) / first:+.0f}%",
                      str(step["modules_calling_helper"]),
                      str(step["modules_calling_library"]),
                      f"{step['tests_passed']}/{step['tests_run']}")
    return table


def later_table(later: dict) -> Table:
    table = Table(title="later tasks, side by side")
    for column in ("library", "tasks", "solved", "reused", "LLM calls"):
        table.add_column(column, justify="right")
    for label, row in later.items():
        table.add_row(label, str(row["tasks"]), str(row["solved"]), str(row["reused"]),
                      str(row["llm_calls"]))
    return table


def rows_table(figures, all_rows: bool) -> Table:
    misjudged = [r for r in figures.rows
                 if r.status != "skipped" and r.flagged != (r.expect == "wrong")]
    rows = figures.rows if all_rows else misjudged
    table = Table(title="programs" if all_rows else
                  f"misjudged programs ({len(misjudged)}; --all-rows lists all)")
    for column in ("id", "expect", "kind", "verdict", "by", "reason or warnings"):
        table.add_column(column, overflow="fold")
    for r in rows:
        verdict = r.status if not r.counterexamples else f"{r.status}, disagrees"
        detail = r.reason or "; ".join(r.counterexamples[:1] + r.warnings[:2])
        table.add_row(r.id, r.expect, r.kind, verdict, ", ".join(r.rejected_by),
                      detail[:300])
    return table


def kinds_table(figures) -> Table:
    table = Table(title=f"by kind ({figures.skipped} fail their tests; "
                        f"{figures.llm_calls} LLM calls)")
    for column in ("kind", "expect", "flagged", "total", "rate"):
        table.add_column(column, justify="right")
    for kind, n in figures.by_kind.items():
        table.add_row(kind, n["expect"], str(n["flagged"]), str(n["total"]),
                      f"{100 * n['flagged'] / n['total']:.0f}%" if n["total"] else "—")
    return table
