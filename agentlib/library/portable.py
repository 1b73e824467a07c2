"""Export and import: a lossless JSONL file, or an installable Python package."""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from agentlib.code import (
    DependencyError,
    dependencies,
    dependency_problems,
    module_closure,
    module_id,
    program_source,
)
from agentlib.errors import StoreError, UsageError
from agentlib.library.insights import from_metadata as insight_from_metadata
from agentlib.library.insights import insight_id, insight_text
from agentlib.library.insights import to_metadata as insight_meta
from agentlib.model import Insight, Module

if TYPE_CHECKING:
    from agentlib.library.store import Library

FORMAT = "agentlib-library"
FORMAT_VERSION = 1


@dataclass
class ImportReport:
    """What an import did with each record of the file."""

    accepted: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    insights_added: int = 0


def export_jsonl(library: "Library", path: Path) -> int:
    """Write every module (any status) and insight to `path`, one JSON record a line."""
    modules = sorted(library.list(status=None), key=lambda m: (m.created_at, m.name, m.version))
    insights = library.insights.list()
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"kind": FORMAT, "version": FORMAT_VERSION,
                              "embedder": library.embedder.name}) + "\n")
        for module in modules:
            out.write(json.dumps({"kind": "module", **module.to_dict()}) + "\n")
        for insight in insights:
            out.write(json.dumps({"kind": "insight", **insight_meta(insight)}) + "\n")
    tmp.replace(path)
    return len(modules) + len(insights)


def _read(path: Path, report: ImportReport) -> tuple[list[Module], list[Insight]]:
    modules, insights = [], []
    module_fields = {f.name for f in fields(Module)}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
    if not lines or json.loads(lines[0]).get("kind") != FORMAT:
        raise StoreError(f"{path}:1: not an agentlib library export (no {FORMAT!r} header); "
                         "make one with `agentlib lib export FILE.jsonl`")
    for number, line in enumerate(lines[1:], start=2):
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
            kind = record.pop("kind")
            if kind == "module":
                module = Module(**{k: v for k, v in record.items() if k in module_fields})
                if module.id != module_id(module.source):
                    raise ValueError("id is not the hash of the source")
                modules.append(module)
            elif kind == "insight":
                insight = insight_from_metadata(record)
                if insight.id != insight_id(insight.taxonomy, insight.condition,
                                            insight.explanation, insight.example):
                    raise ValueError("id is not the hash of the insight's text")
                insights.append(insight)
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, TypeError, KeyError, SyntaxError) as exc:
            report.rejected.append((where, f"unreadable record: {exc}"))
    return modules, insights


def _verify(library: "Library", modules: list[Module], report: ImportReport,
            programs: dict[str, str]) -> list[Module]:
    """Run each module's tests on its closure in the sandbox; keep those that pass (and note
    the program each passed on in `programs`)."""
    from agentlib.model import TestCase
    from agentlib.sandbox import run

    active = {m.name: m for m in library.list()}
    active.update({m.name: m for m in modules if m.status == "active"})
    ok: list[Module] = []
    failed: set[str] = set()
    for module in modules:
        try:
            available = set(active) - {module.name}
            problems = dependency_problems(module.source, module.dependencies, available,
                                           module.name)
            if problems:
                raise ValueError("; ".join(problems))
            module.dependencies = dependencies(module.source, available)
            program = program_source(module_closure(module, active.get))
            if not module.tests:
                raise ValueError("no tests to verify it with")
            verdict = run(program, [TestCase(t) for t in module.tests])
            programs[module.id] = program
            if not verdict.passed:
                first = verdict.failures[0] if verdict.failures else None
                raise ValueError("tests fail in the sandbox: " + (
                    f"{first.test} -> {first.error_type} {first.message}".strip() if first
                    else f"{verdict.ended} {verdict.detail}"))
        except (ValueError, DependencyError) as exc:
            report.rejected.append((f"{module.name} v{module.version}", str(exc)))
            failed.add(module.id)
            continue
        ok.append(module)
    while True:  # an active module whose dependency was rejected is rejected too
        bad = {m.name for m in ok if m.status == "active"
               and any(active[d].id in failed for d in m.dependencies if d in active)}
        bad_ids = {m.id for m in ok if m.name in bad and m.status == "active"}
        if not bad_ids:
            return ok
        for m in ok:
            if m.id in bad_ids:
                report.rejected.append((f"{m.name} v{m.version}", "a dependency was rejected"))
        failed |= bad_ids
        ok = [m for m in ok if m.id not in bad_ids]


def import_jsonl(library: "Library", path: Path) -> ImportReport:
    """Add the modules and insights of an export; modules only if their tests pass here.

    Verification and embedding run without the write lock; the commit re-checks that each
    name is still free and each program unchanged (`agentlib.library.bulk.commit_new`).
    """
    from agentlib.library.bulk import STORED_MEANWHILE, commit_new
    from agentlib.library.text import embedding_text

    library.conn.refuse_writes()
    report = ImportReport()
    modules, insights = _read(path, report)
    stored = {m.id for m in library.list(status=None)}
    active = {m.name: m.id for m in library.list()}
    fresh = []
    for module in modules:
        if module.id in stored:
            report.already_present.append(module.name)
        elif module.status == "active" and module.name in active:
            report.rejected.append((f"{module.name} v{module.version}",
                                    f"an active module {module.name} already exists "
                                    f"({active[module.name]}); `agentlib lib rm` it first"))
        else:
            fresh.append(module)
    programs: dict[str, str] = {}
    accepted = _verify(library, fresh, report, programs)
    vectors = [list(v) for v in library.embedder.embed([embedding_text(m) for m in accepted])] \
        if accepted else []
    refused = commit_new(library, accepted, vectors, [programs.get(m.id) for m in accepted])
    for module in accepted:
        if refused.get(module.id) == STORED_MEANWHILE:
            report.already_present.append(module.name)
        elif module.id in refused:
            report.rejected.append((f"{module.name} v{module.version}", refused[module.id]))
    report.accepted = [m.name for m in accepted if m.id not in refused]
    known = {i.id for i in library.insights.list()}
    new_insights = [i for i in insights if i.id not in known]
    if new_insights:
        metas = [insight_meta(i) for i in new_insights]
        texts = [insight_text(m) for m in metas]
        vectors = [list(v) for v in library.embedder.embed(texts)]
        with library.write_transaction():  # `add`: an insight stored meanwhile stays as it is
            library.insights.collection.add(ids=[i.id for i in new_insights], metadatas=metas,
                                            documents=texts, embeddings=vectors)
    report.insights_added = len(new_insights)
    return report


def verification_note(module: Module) -> str:
    """How the module was verified, as comment lines (`# VERIFICATION: …`)."""
    from agentlib.verify.summary import summary, warnings_of

    lines = [f"VERIFICATION: {summary(module.verification)}"]
    lines += [f"  warning: {w}" for w in warnings_of(module.verification)]
    return "".join("# " + " ".join(line.split()) + "\n" for line in lines)


def export_package(library: "Library", directory: Path, package: str = "agentlib_modules",
                   version: str = "0.1.0", *, overwrite: bool = False) -> int:
    """Write an installable package of the active modules with a pytest file of their tests.

    `directory` must be new or empty; with `overwrite`, a previous export there (a
    directory holding a pyproject.toml) is removed first, never another directory.
    """
    if not package.isidentifier():
        raise StoreError(f"package name {package!r} is not a Python identifier")
    modules = library.list()
    if not modules:
        raise StoreError(f"the library at {library.location} has no active modules to export")
    if directory.is_dir() and any(directory.iterdir()):
        if not overwrite:
            raise UsageError(f"{directory} is not empty; pass --overwrite to replace the "
                             "export there, or choose a new directory")
        if not (directory / "pyproject.toml").is_file():
            raise UsageError(f"{directory} holds no previous export (no pyproject.toml); "
                             "--overwrite replaces only an export, choose a new directory")
        shutil.rmtree(directory)
    root = directory / package
    (directory / "tests").mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{package.replace('_', '-')}"
        version = "{version}"
        description = "Verified functions exported from an agentlib library"
        requires-python = ">=3.9"

        [tool.setuptools]
        packages = ["{package}"]
        """))
    names = [m.name for m in modules]
    for module in modules:
        imports = "".join(f"from {package}.{dep} import {dep}\n" for dep in module.dependencies)
        header = f'"""{module.name}: verified by agentlib (task {module.task_id or "-"})."""\n'
        header += verification_note(module)
        (root / f"{module.name}.py").write_text(
            header + "\n" + imports + ("\n\n" if imports else "") + module.source.strip() + "\n")
    (root / "__init__.py").write_text(
        '"""Functions exported from an agentlib library."""\n\n'
        + "".join(f"from {package}.{n} import {n}\n" for n in names)
        + f"\n__all__ = {names!r}\n")
    tests = [f'"""Every test stored with the modules of {package}."""\n\n'
             f"from {package} import {', '.join(names)}  # noqa: F401\n"]
    for module in modules:
        for i, test in enumerate(module.tests):
            tests.append(f"\n\ndef test_{module.name}_{i}():\n"
                         + textwrap.indent(test.strip(), "    ") + "\n")
    (directory / "tests" / f"test_{package}.py").write_text("".join(tests))
    return len(modules)
