"""Rich rendering of results and modules (the CLI is the only layer that prints)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from agentlib.model import Module, SolveResult, Verdict
from agentlib.verify.summary import summary, warnings_of

DECISION_STYLE = {"reused": "bold cyan", "created": "bold green", "repaired": "bold yellow",
                  "failed": "bold red"}


def verdict_table(verdict: Verdict) -> Table:
    table = Table(title=f"tests ({verdict.isolation or 'sandbox'})", show_lines=False,
                  expand=False)
    table.add_column("", width=2)
    table.add_column("test", overflow="fold")
    table.add_column("result", overflow="fold")
    for result in verdict.results:
        mark = "[green]✓[/]" if result.passed else "[red]✗[/]"
        message = "passed" if result.passed else (
            f"{result.error_type}: {result.message.splitlines()[0] if result.message else ''}")
        table.add_row(mark, result.test, message[:200])
    return table


def trace_table(result: SolveResult) -> Table:
    table = Table(title="trace")
    for column in ("node", "decision", "detail", "s", "tokens"):
        table.add_column(column, overflow="fold")
    for step in result.trace:
        table.add_row(step.node, step.decision, step.detail, f"{step.wall_s:.2f}",
                      str(step.tokens or ""))
    return table


def render_result(console: Console, result: SolveResult, trace: bool = False,
                  errors: Console | None = None) -> None:
    """Print the code, each test's verdict and the decision; a failure's `error:` line goes
    to `errors` (default: `console`)."""
    parts = []
    if result.program:
        parts.append(Syntax(result.program.rstrip(), "python", theme="ansi_dark",
                            line_numbers=False))
    console.print(Panel(Group(*parts) if parts else "(no program)",
                        title=f"{result.entry_point or result.id}"))
    if result.verdict is not None and result.verdict.results:
        console.print(verdict_table(result.verdict))
    if trace:
        console.print(trace_table(result))
    style = DECISION_STYLE.get(result.decision or "", "bold")
    console.print(
        f"[{style}]{result.decision}[/] · {result.status} · {result.llm_calls} LLM call(s) · "
        f"{result.prompt_tokens}+{result.completion_tokens} tokens · {result.wall_s:.2f} s")
    if result.error:
        message = escape(" ".join(result.error.split()))
        (errors or console).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)


def modules_table(modules: list[Module]) -> Table:
    table = Table(title=f"{len(modules)} module(s)")
    for column in ("name", "signature", "v", "reused", "deps", "task"):
        table.add_column(column, overflow="fold")
    for m in modules:
        table.add_row(m.name, m.signature, str(m.version), str(m.times_reused),
                      ", ".join(m.dependencies), m.task_id or "")
    return table


def render_module(console: Console, module: Module) -> None:
    console.print(Panel(Syntax(module.source.rstrip(), "python", theme="ansi_dark"),
                        title=f"{module.name} v{module.version} · {module.status} · {module.id}"))
    if module.docstring:
        console.print(module.docstring)
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in ("signature", "task_prompt", "task_id", "backend", "model"):
        table.add_row(key, str(getattr(module, key)))
    table.add_row("dependencies", ", ".join(module.dependencies) or "none")
    table.add_row("counters", f"retrieved {module.times_retrieved}, reused {module.times_reused}, "
                              f"failed {module.times_failed}")
    table.add_row("tests", "\n".join(module.tests))
    table.add_row("verification", Text(summary(module.verification)))
    if warnings_of(module.verification):
        table.add_row("warnings", Text("\n".join(warnings_of(module.verification))))
    console.print(table)


def render_usage(console: Console, result: SolveResult, module: Module | None) -> None:
    """Say which library module a result became (or reused) and which modules it calls."""
    if module is None:
        return
    verb = "reused" if result.decision == "reused" else "stored as"
    calls = ", ".join(module.dependencies) or "no other library module"
    console.print(f"{verb} [bold]{module.name}[/] v{module.version} · {module.id} · "
                  f"calls {calls}", highlight=False)
