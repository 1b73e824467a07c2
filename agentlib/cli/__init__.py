"""The command line: a thin typer boundary; the only place that prints or exits.

The built-in commands are imported when they run, not before (`BUILTIN`, `LazyGroup`):
`agentlib --help` lists them from the table, and `agentlib lib list` imports `cli.lib` only.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer

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

BUILTIN: dict[str, tuple[str, str, str]] = {
    "solve": ("agentlib.cli.solve", "solve", "Solve a task: reuse a library module that passes "
              "its tests, or write, validate, repair and store a new one."),
    "plugins": ("agentlib.cli.plugins", "plugins",
                "List installed plugins: name, version, hooks, status and error."),
    "repl": ("agentlib.cli.repl", "repl", "Interactive session: type a task and its tests, "
             "browse the library, /help for more."),
    "doctor": ("agentlib.cli.doctor", "doctor", "Check Python, packages, config, plugins, "
               "models, sandbox and library; exit 1 on a FAIL."),
    "lib": ("agentlib.cli.lib", "app", "Look into, check, export, import and prune the library."),
    "insights": ("agentlib.cli.insights", "app",
                 "List, show, remove, export, import and evolve insights."),
    "bench": ("agentlib.cli.bench", "app", "Benchmarks that print figures: sandbox, store, "
              "reuse, coldstart, tasks, stream, refactor, validators."),
    "models": ("agentlib.cli.models", "app", "Fetch and list the offline models."),
    "packs": ("agentlib.cli.packs", "app",
              "List and install module packs: verified functions shipped by plugins."),
    "sandbox": ("agentlib.cli.sandbox", "app",
                "Run code against tests in the sandbox; benchmark the sandbox."),
    "config": ("agentlib.cli.config_cmd", "app",
               "Show the configuration: options, environment, config.toml, defaults."),
    "refactor": ("agentlib.cli.refactor", "app", "Refactor the library: extract shared helpers "
                 "(the default command), merge duplicates, prune unused modules. Never breaks a "
                 "stored test."),
}
"""{name: (module, attribute, the help line `--help` lists)} of the built-in commands; the
attribute is a typer sub-app (a command group) or a command function. The help lines are the
first paragraph of each command's own help (a test holds them to it)."""


def load_builtin(name: str) -> Any:
    """Import built-in command `name` and return its click command, as `add_typer` or
    `app.command()` on the root app would have made it (errors reported by the one policy)."""
    module, attribute, _ = BUILTIN[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer()
    holder.callback()(lambda: None)  # a group even with one command: typer's own conversion
    if isinstance(target, typer.Typer):
        _wrap_commands(target)
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target if hasattr(target, "__wrapped__") else reports_errors(target))
    return typer.main.get_command(holder).commands[name]


class LazyGroup(AgentlibGroup):
    """The root command: built-in commands are loaded on first use; the help lists them
    without loading them. Commands added to the app (plugins') come after, and win a clash."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*BUILTIN, *super().list_commands(ctx)]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in BUILTIN:
            return super().get_command(ctx, cmd_name)
        if self._listing:  # the help's table of commands: the name and help line suffice
            return typer.core.TyperCommand(cmd_name, help=BUILTIN[cmd_name][2])
        self.commands[cmd_name] = load_builtin(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="agentlib",
    help="Grow a library of verified Python functions: solve tasks with a local LLM, "
         "validate in a sandbox, store and reuse what passed.\n\n"
         "--library, --llm, --model, --base-url and --quiet may come before the command as "
         "well as after it. Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    from agentlib.cli.plugins import add_plugin_commands

    pm = add_plugin_commands(app, sys.argv[1:])
    if pm is not None:
        from agentlib.cli.options import use_plugin_manager

        use_plugin_manager(pm)
    _wrap_commands(app)
    if len(sys.argv) == 1 and sys.stdin.isatty() and sys.stdout.isatty():
        sys.argv.append("repl")  # `agentlib` alone in a terminal: the interactive session
    app()  # errors, Ctrl-C and exit codes: agentlib.cli.errors


_wrap_commands(app)  # at import, so tests that drive `app` directly see the same behaviour
