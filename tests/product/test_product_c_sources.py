"""The compiled parts (``*/_speedups.c``) compile cleanly with the compiler's warnings as errors.

``setup.py`` builds them with the default flags, which hide warnings; this catches a new one.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(REPO.glob("*/_speedups.c"))


def test_there_are_two() -> None:
    assert [p.relative_to(REPO).as_posix() for p in SOURCES] == ["alerter/_speedups.c", "shipper/_speedups.c"]
    setup = (REPO / "setup.py").read_text()
    for path in SOURCES:
        assert path.relative_to(REPO).as_posix() in setup


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_compiles_without_warnings(path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler (scripts/install-system-deps.sh installs gcc)"
    include = sysconfig.get_paths()["include"]
    flags = ["-fsyntax-only", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
             "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
    done = subprocess.run([cc, *flags, f"-I{include}", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
