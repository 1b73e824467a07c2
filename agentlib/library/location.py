"""Where a library lives: a location checked before Chroma opens it."""

from __future__ import annotations

import os
from pathlib import Path

from agentlib.errors import StoreError, UsageError

GENERATION_FILE = ".agentlib.generation"
WRITING_MARKER = ".agentlib.writing"
LOW_SPACE_BYTES = 1 << 20
"""Below this much free space a library whose client cannot open counts as on a full disk."""


def check_location(location: str) -> None:
    """Refuse a URL that is not an http(s) server (a typo would become a directory)."""
    if "://" in location and not location.startswith(("http://", "https://")):
        raise UsageError(f"library location {location!r}: only http:// and https:// servers "
                         "or a directory are supported (set --library / AGENTLIB_STORE)")


def check_directory(path: Path, location: str, create: bool) -> None:
    """Refuse a file, and (unless `create`) a directory that holds no library yet."""
    if path.exists() and not path.is_dir():
        raise StoreError(f"library location {location} is a file, not a library directory; "
                         "give a directory (--library / AGENTLIB_STORE)")
    if not create and not (path / "chroma.sqlite3").is_file():
        what = "holds no library" if path.exists() else "does not exist"
        raise StoreError(f"library {location} {what}; check --library / AGENTLIB_STORE "
                         "(`agentlib solve` creates a library on its first task)")


def low_space(path: Path) -> bool:
    """Whether the file system holding `path` is (nearly) full."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_SPACE_BYTES


def generation_token(path: Path) -> str:
    """A token that changes with every write of the library at `path` ('' before the first).

    Every write replaces the generation file (or, on a full disk, touches it), so its inode,
    mtime and size identify the library's latest write; a stat is cheap enough to do before
    every search.
    """
    try:
        st = os.stat(path / GENERATION_FILE)
    except FileNotFoundError:
        return ""
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
