"""`agentlib config show`: every setting, its value and where the value came from."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentlib.cli.options import OPTION_OF, BaseURLOpt, LibraryOpt, LLMOpt, ModelOpt, given
from agentlib.config import SETTINGS, config_path, setting_source

app = typer.Typer(help="Show the configuration: options, environment, config.toml, defaults.",
                  no_args_is_help=True)


@app.command("show")
def show(
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each setting's value and source; the first source that sets it wins:
    command-line option, environment variable, config file, built-in default.

    The config file is TOML, config.toml in the agentlib home ($AGENTLIB_CONFIG overrides the
    path), with one top-level key per setting, e.g. `model = "small"`.
    """
    options = given(library, llm, model, base_url)
    rows = []
    for name, spec in SETTINGS.items():
        value, source = ((options[name], f"option {OPTION_OF[name]}") if name in options
                         else setting_source(name))
        rows.append({"setting": name, "value": value, "source": source, "env": spec.env,
                     "help": spec.help})
    path = config_path()
    if json_out:
        Console().print_json(json.dumps({"config_file": str(path),
                                         "config_file_exists": path.is_file(),
                                         "settings": rows}))
        return
    console = Console()
    console.print(f"config file: {path} ({'found' if path.is_file() else 'not found'}; TOML, "
                  "one key per setting, e.g. model = \"small\")", highlight=False,
                  soft_wrap=True)
    if not console.is_terminal:  # piped: one line per setting, never wrapped
        for row in rows:
            console.print(f"{row['setting']} = {row['value']!r}  # from {row['source']}; "
                          f"variable {row['env']}; {row['help']}", highlight=False,
                          markup=False, soft_wrap=True)
        return
    table = Table(show_lines=True)
    table.add_column("setting", ratio=3)
    table.add_column("value", overflow="fold", ratio=2)
    table.add_column("from", overflow="fold", ratio=2)
    for row in rows:
        table.add_row(f"[bold]{row['setting']}[/]\n[dim]{escape(row['help'])}[/]",
                      escape(repr(row["value"])),
                      f"{escape(row['source'])}\n[dim]variable {row['env']}[/]")
    console.print(table)
