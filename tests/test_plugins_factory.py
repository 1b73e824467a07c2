"""Make real, discoverable plugin distributions in a temporary directory (helpers, no tests).

A directory on sys.path holding `NAME-VERSION.dist-info/{METADATA,entry_points.txt}` and the
plugin's module is an installed distribution as far as `importlib.metadata` is concerned, so
the plugin manager finds it through the real `agentlib` entry-point group, exactly as after
`pip install`; putting the directory on PYTHONPATH does the same for a subprocess.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path


def make_plugin(site: Path, dist: str, entry_point: str, source: str,
                version: str = "0.3.0") -> str:
    """Write a plugin distribution into `site`; return its (unique) module name."""
    module = f"agentlib_testplug_{uuid.uuid4().hex[:10]}"
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[agentlib]\n{entry_point} = {module}\n")
    return module


WORKING = '''
    import typer
    from agentlib.llm import Completion
    from agentlib.plugins import hookimpl


    class EchoLLM:
        name = "echo"

        def complete(self, messages, **options):
            return Completion(text="echo: " + messages[-1]["content"])


    def no_eval(source, entry_point, tests):
        return "calls eval()" if "eval(" in source else None


    def hello(name: str = "world") -> None:
        """Say hello (a command added by a plugin)."""
        typer.echo(f"hello, {name}")


    @hookimpl
    def register_llms(register):
        register("echo", lambda settings: EchoLLM())


    @hookimpl
    def register_validators(register):
        register("no-eval", no_eval)


    @hookimpl
    def register_commands(app):
        app.command("hello")(hello)


    @hookimpl
    def register_repl_commands(register):
        register("shout", lambda session, arg: arg.upper(), "Repeat the arguments in capitals.")


    @hookimpl
    def register_module_packs(register):
        register("tiny", lambda: [{"name": "twice", "source": "def twice(x):\\n    return 2 * x\\n",
                                   "tests": ["assert twice(2) == 4"]}])
'''

FAILS_TO_IMPORT = '''
    import agentlib_this_module_does_not_exist
'''

RAISES_IN_HOOK = '''
    from agentlib.plugins import hookimpl


    @hookimpl
    def register_llms(register):
        raise RuntimeError("the backend's config file is missing")
'''

WRONG_ARGUMENT = '''
    from agentlib.plugins import hookimpl


    @hookimpl
    def register_llms(registrar):
        registrar("x", lambda settings: None)
'''

UNKNOWN_HOOK = '''
    from agentlib.plugins import hookimpl


    @hookimpl
    def register_time_machines(register):
        pass
'''

STEALS_A_NAME = '''
    from agentlib.plugins import hookimpl


    @hookimpl
    def register_llms(register):
        register("local", lambda settings: None)
'''

RAISING_VALIDATOR = '''
    from agentlib.plugins import hookimpl


    def validate(source, entry_point, tests):
        raise ZeroDivisionError("oops")


    @hookimpl
    def register_validators(register):
        register("flaky", validate)
'''
