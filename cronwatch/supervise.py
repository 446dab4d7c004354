"""Run cronwatch's own services as child processes and stop them all, whatever happens.

Used by ``cronwatch demo`` and the end-to-end tests: each child gets its own process group and
a log file; :meth:`Supervisor.stop_all` sends SIGTERM, waits, then SIGKILLs what is left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cronwatch.errors import CronwatchError


class StartError(CronwatchError):
    """A child service did not become ready; the message names it and its log file."""


def pick_port(preferred: int) -> int:
    """``preferred`` when it is free on 127.0.0.1, otherwise any free port."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise StartError("no free TCP port on 127.0.0.1")


@dataclass
class Child:
    """One supervised process."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        """The last lines of the child's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    """Starts children, waits for them to be ready, and stops them all."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, args: list[str], *, url: str = "", ready_path: str | None = None,
              env: dict[str, str] | None = None, timeout: float = 60.0, cwd: Path | None = None) -> Child:
        """Start ``args``; when ``ready_path`` is given, wait until ``url + ready_path`` answers 2xx."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env={**os.environ, **(env or {})}, start_new_session=True, cwd=cwd)
        child = Child(name, proc, log, url)
        self.children.append(child)
        if ready_path is not None:
            self.wait_ready(child, url + ready_path, timeout)
        return child

    def wait_ready(self, child: Child, check_url: str, timeout: float) -> None:
        """Poll ``check_url`` until 2xx; a child that exits or times out is a StartError with its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                raise StartError(f"{child.name} exited with status {child.proc.returncode}; "
                                 f"its log ({child.log}):\n{child.tail()}")
            try:
                if httpx.get(check_url, timeout=1.0).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise StartError(f"{child.name} not ready at {check_url} after {timeout:.0f} s; "
                         f"its log ({child.log}):\n{child.tail()}")

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM every child (newest first), wait up to ``grace``, then SIGKILL the rest."""
        for child in reversed(self.children):
            if child.alive():
                try:
                    os.killpg(child.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.proc.wait(5)

    def dead(self) -> list[Child]:
        """Children that have exited."""
        return [c for c in self.children if not c.alive()]


def cronwatch_cmd(*args: str) -> list[str]:
    """argv to run ``cronwatch <args>`` with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "cronwatch", *args]
