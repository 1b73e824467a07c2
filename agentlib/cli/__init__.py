"""The command line: a thin typer boundary; the only place that prints or exits."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from agentlib.cli import bench as bench_commands
from agentlib.cli import config_cmd as config_commands
from agentlib.cli import insights as insights_commands
from agentlib.cli import lib as lib_commands
from agentlib.cli import models as model_commands
from agentlib.cli import packs as pack_commands
from agentlib.cli import plugins as plugin_commands
from agentlib.cli import refactor as refactor_commands
from agentlib.cli import sandbox as sandbox_commands
from agentlib.cli.doctor import doctor
from agentlib.cli.errors import AgentlibGroup, reports_errors
from agentlib.cli.options import (
    BaseURLOpt,
    GlobalOptions,
    LibraryOpt,
    LLMOpt,
    ModelOpt,
    QuietOpt,
    set_global_options,
)
from agentlib.cli.repl import repl
from agentlib.cli.solve import solve

app = typer.Typer(
    name="agentlib",
    help="Grow a library of verified Python functions: solve tasks with a local LLM, "
         "validate in a sandbox, store and reuse what passed.\n\n"
         "--library, --llm, --model, --base-url and --quiet may come before the command as "
         "well as after it. Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=AgentlibGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(solve)
app.add_typer(lib_commands.app, name="lib")
app.add_typer(insights_commands.app, name="insights")
app.add_typer(bench_commands.app, name="bench")
app.add_typer(model_commands.app, name="models")
app.command("plugins")(plugin_commands.plugins)
app.add_typer(pack_commands.app, name="packs")
app.add_typer(sandbox_commands.app, name="sandbox")
app.command()(repl)
app.command()(doctor)
app.add_typer(config_commands.app, name="config")
app.add_typer(refactor_commands.app, name="refactor")


def _version(value: bool) -> None:
    if value:
        from agentlib import __version__

        typer.echo(f"agentlib {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show Python tracebacks for errors.")] = False,
    no_plugins: Annotated[bool, typer.Option(
        "--no-plugins", help="Load no installed plugins (built-ins only).")] = False,
    quiet: QuietOpt = False,
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Take the options given before the command (the app's help text describes them)."""
    if debug:
        os.environ["AGENTLIB_DEBUG"] = "1"
    if no_plugins:
        os.environ["AGENTLIB_NO_PLUGINS"] = "1"
    set_global_options(GlobalOptions(store=library, llm=llm, model=model, base_url=base_url,
                                     quiet=quiet))


def _wrap_commands(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.callback is not None and not hasattr(info.callback, "__wrapped__"):
            info.callback = reports_errors(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _wrap_commands(group.typer_instance)


def main() -> None:
    """Run the CLI (the console script's entry point)."""
    pm = plugin_commands.add_plugin_commands(app, sys.argv[1:])
    if pm is not None:
        from agentlib.cli.options import use_plugin_manager

        use_plugin_manager(pm)
    _wrap_commands(app)
    if len(sys.argv) == 1 and sys.stdin.isatty() and sys.stdout.isatty():
        sys.argv.append("repl")  # `agentlib` alone in a terminal: the interactive session
    app()  # errors, Ctrl-C and exit codes: agentlib.cli.errors


_wrap_commands(app)  # at import, so tests that drive `app` directly see the same behaviour
