"""The one error policy: an expected failure is one `error: …` line on stderr, and an exit code.

Exit codes: 0 done, 1 a failed run, 2 bad usage (a click usage error or a `UsageError`),
130 interrupted (Ctrl-C). Tracebacks only with `agentlib --debug …`.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable

import typer
from typer.core import TyperGroup

try:  # typer >= 0.26 runs on its own copy of click, whose errors derive from TyperException
    from typer import TyperException as ClickError
except ImportError:  # older typer runs on click itself
    from click import ClickException as ClickError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def debugging() -> bool:
    return bool(os.environ.get("AGENTLIB_DEBUG"))


def print_error(message: str) -> None:
    """Print `error: message` as one line on stderr (never wrapped, whatever the width)."""
    from rich.console import Console
    from rich.markup import escape

    text = " ".join(str(message).split()) or "(no message)"
    Console(stderr=True).print(f"[bold red]error:[/] {escape(text)}", highlight=False,
                               soft_wrap=True)


def print_note(message: str) -> None:
    """Print one plain line on stderr (e.g. what an interrupted run should do next)."""
    from rich.console import Console

    Console(stderr=True).print(message, highlight=False, markup=False, soft_wrap=True)


def describe(exc: BaseException) -> tuple[str, int]:
    """Return the one-line message and exit code of an error a command raised."""
    from agentlib.errors import AgentlibError, UsageError

    if isinstance(exc, UsageError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, AgentlibError):
        return str(exc), EXIT_FAILED
    if isinstance(exc, OSError):  # a path the user gave, permissions, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}; check the path and its permissions", EXIT_FAILED
    return (f"internal error: {type(exc).__name__}: {exc} (this is a bug in agentlib; "
            "`agentlib --debug …` shows the traceback)"), EXIT_FAILED


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any error a command raises into one `error:` line and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, ClickError):
            raise  # typer's own: exit codes and usage errors (see AgentlibGroup)
        except KeyboardInterrupt:
            if debugging():
                raise
            print_note("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes one line
            if debugging():
                raise
            message, code = describe(exc)
            print_error(message)
            raise typer.Exit(code) from None

    return wrapper


class AgentlibGroup(TyperGroup):
    """The root command: click's usage errors become one `error:` line too (exit 2)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from agentlib.cli.options import forget_global_options

        if not kwargs.pop("standalone_mode", True):
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickError as exc:
            # As typer does, by class name: the help was shown already, nothing to add.
            if type(exc).__name__ != "NoArgsIsHelpError":
                ctx = getattr(exc, "ctx", None)
                hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                print_error(exc.format_message() + hint)
            sys.exit(exc.exit_code)
        except typer.Abort:
            print_note("aborted")
            sys.exit(EXIT_FAILED)
        except KeyboardInterrupt:
            print_note("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - outside any command (e.g. the root options)
            if debugging():
                raise
            message, exit_code = describe(exc)
            print_error(message)
            sys.exit(exit_code)
        finally:
            forget_global_options()
        sys.exit(code if isinstance(code, int) else 0)
