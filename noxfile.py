"""nox sessions; each delegates to ./dev so there is one way to install and run things."""

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Install everything, fetch the small model, run the test suite."""
    session.run("./dev", "test", *session.posargs, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package and tests."""
    session.run("./dev", "setup", external=True)
    session.run(".venv/bin/ruff", "check", "agentlib", "tests", external=True)


@nox.session
def demo(session: nox.Session) -> None:
    """Install, fetch the default model, solve a task and then reuse it."""
    session.run("./dev", "demo", external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Run a benchmark: `nox -s bench -- sandbox` (see `agentlib bench --help`)."""
    session.run("./dev", "bench", *(session.posargs or ["--help"]), external=True)
