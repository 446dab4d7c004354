"""Which files the inputs mean: glob patterns (``**`` included) minus exclude patterns; pure but for the glob."""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Sequence


def excluded(path: str, exclude: Sequence[str]) -> bool:
    """True when ``path`` (or its file name) matches one of the ``exclude`` patterns."""
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(path, pat) or fnmatch.fnmatchcase(name, pat) for pat in exclude)


def expand(patterns: Sequence[str], exclude: Sequence[str] = ()) -> list[str]:
    """Regular files matching any of ``patterns`` and none of ``exclude``, sorted, each once."""
    seen: set[str] = set()
    out: list[str] = []
    for pattern in patterns:
        for path in glob.glob(os.path.expanduser(pattern), recursive=True):
            if path in seen or excluded(path, exclude) or not os.path.isfile(path):
                continue
            seen.add(path)
            out.append(path)
    out.sort()
    return out


def find_by_identity(directory: str, dev: int, ino: int) -> str | None:
    """The path in ``directory`` of the file with device ``dev`` and inode ``ino``, if any."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            if entry.inode() == ino and entry.is_file(follow_symlinks=False) and entry.stat().st_dev == dev:
                return entry.path
        except OSError:
            continue
    return None
