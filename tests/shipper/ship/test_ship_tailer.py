"""The tailer against real files: globs, identity, rotation in both styles, deletion, restarts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shiphelpers import LineParser, append

from shipper.model import RawLine
from shipper.tail.checkpoint import CheckpointStore, FileState
from shipper.tail.discovery import expand, find_by_identity
from shipper.tail.reader import LineReader
from shipper.tail.tailer import InputFiles, Tailer, Tracked

pytestmark = pytest.mark.timeout(60)


def _tailer(patterns: list[str]) -> Tailer:
    parser = LineParser()
    return Tailer([InputFiles(patterns)], lambda _i, path, key: parser.decoder(path, key), rotate_wait=0.0,
                  eof_line_timeout=0.0)


def _drain(tailer: Tailer, t: Tracked, now: float = 1.0) -> list[str]:
    out: list[str] = []
    while True:
        lines, n = tailer.read(t, now)
        out.extend(line.text for line in lines)
        if not n and not lines:
            return out


def _read_all(tailer: Tailer, now: float = 1.0) -> dict[str, list[str]]:
    return {t.state.path: _drain(tailer, t, now) for t in tailer.all_files() if not t.released}


def test_reader_offsets_crlf_and_partial_line(tmp_path: Path) -> None:
    """Lines come with exact byte offsets, CRLF is stripped, and an unterminated line waits until taken."""
    f = tmp_path / "a.log"
    f.write_bytes(b"one\r\nt\xc3\xa9\n\xffbad\nlast")
    fd = os.open(f, os.O_RDONLY)
    try:
        r = LineReader(fd, 0)
        lines, n = r.read(0.0)
        assert n == f.stat().st_size
        assert [(x.text, x.offset, x.end) for x in lines] == [("one", 0, 5), ("té", 5, 9), ("\ufffdbad", 9, 14)]
        assert r.consumed == 14
        last = r.take_partial(0.0)
        assert last == RawLine("last", 14, 18, 0.0)
        assert r.consumed == 18
    finally:
        os.close(fd)


def test_reader_cuts_overlong_lines(tmp_path: Path) -> None:
    """A line longer than the limit is handed out cut, and the rest of it is skipped, not buffered."""
    f = tmp_path / "a.log"
    f.write_bytes(b"x" * 100 + b"\nnext\n")
    fd = os.open(f, os.O_RDONLY)
    try:
        r = LineReader(fd, 0, max_line_bytes=10)
        out: list[RawLine] = []
        while True:
            lines, n = r.read(0.0, chunk=16)
            out.extend(lines)
            if not n:
                break
        assert [x.text for x in out] == ["x" * 10, "next"]
        assert out[1].offset == 101
    finally:
        os.close(fd)


def test_glob_with_double_star_and_exclude(tmp_path: Path) -> None:
    """``**`` matches files at any depth and exclude patterns remove names."""
    for rel in ("a.log", "x/b.log", "x/y/c.log", "x/y/c.log.1", "x/old.log"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("l\n")
    got = expand([str(tmp_path / "**" / "*.log")], ["old.*"])
    assert got == sorted(str(tmp_path / r) for r in ("a.log", "x/b.log", "x/y/c.log"))


def test_rename_rotation_reads_old_file_to_its_end(tmp_path: Path) -> None:
    """After ``mv app.log app.log.1`` the old file is read to its end, then released; the new one is read too."""
    f = tmp_path / "app.log"
    append(f, "a1", "a2")
    tailer = _tailer([str(tmp_path / "*.log")])
    tailer.scan(1.0)
    assert _read_all(tailer) == {str(f): ["a1", "a2"]}
    append(f, "a3")
    os.rename(f, tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", "a4")  # the writer still holds the old file
    append(f, "b1")
    tailer.scan(2.0)
    got = _read_all(tailer, 2.0)
    assert got == {str(tmp_path / "app.log.1"): ["a3", "a4"], str(f): ["b1"]}
    old = [t for t in tailer.files.values() if not t.matched]
    assert len(old) == 1 and tailer.release_ready(old[0], 10.0)
    tailer.release(old[0])
    assert [t.state.path for t in tailer.files.values()] == [str(f)]


def test_copytruncate_starts_a_new_generation(tmp_path: Path) -> None:
    """A file truncated in place (even if it grew back past the old offset) is read again from 0 with a new key."""
    f = tmp_path / "app.log"
    append(f, "first generation line")
    tailer = _tailer([str(f)])
    tailer.scan(1.0)
    (t,) = tailer.files.values()
    assert _drain(tailer, t) == ["first generation line"]
    old_key = t.state.key
    with open(f, "r+b") as fh:
        fh.truncate(0)
    append(f, "second generation, longer than the first one was")
    superseded = tailer.scan(2.0)
    assert superseded == [t]
    (t2,) = tailer.files.values()
    assert t2.state.key != old_key and t2.state.offset == 0
    assert _drain(tailer, t2) == ["second generation, longer than the first one was"]


def test_deleted_file_is_released(tmp_path: Path) -> None:
    """A deleted file is read to its end and its descriptor closed."""
    f = tmp_path / "app.log"
    append(f, "x")
    tailer = _tailer([str(tmp_path / "*.log")])
    tailer.scan(1.0)
    (t,) = tailer.files.values()
    f.unlink()
    tailer.scan(2.0)
    assert t.deleted and _drain(tailer, t) == ["x"]
    assert tailer.release_ready(t, 10.0)
    tailer.release(t)
    assert t.fd == -1 and not tailer.files


def test_file_renamed_while_stopped_is_found_by_identity(tmp_path: Path) -> None:
    """A checkpointed file renamed to a name no glob matches is found in its directory and read to its end."""
    f = tmp_path / "app.log"
    append(f, "a1")
    tailer = _tailer([str(tmp_path / "*.log")])
    tailer.scan(1.0)
    (t,) = tailer.files.values()
    _drain(tailer, t)
    t.reader.line_start = t.reader.offset  # everything read was acknowledged
    states = tailer.states()
    tailer.close()
    append(f, "a2")
    os.rename(f, tmp_path / "app.log.1")
    append(f, "new")
    st = os.stat(tmp_path / "app.log.1")
    assert find_by_identity(str(tmp_path), st.st_dev, st.st_ino) == str(tmp_path / "app.log.1")
    again = _tailer([str(tmp_path / "*.log")])
    again.restore(states)
    again.scan(5.0)
    got = _read_all(again, 5.0)
    assert got == {str(tmp_path / "app.log.1"): ["a2"], str(f): ["new"]}
    assert {t.state.key for t in again.files.values()} >= {states[0].key}


def test_inode_reuse_is_a_new_file(tmp_path: Path) -> None:
    """A checkpoint whose device and inode now belong to other content is not resumed (no lines skipped)."""
    f = tmp_path / "app.log"
    append(f, "old content that was shipped")
    st = f.stat()
    stale = FileState("old-key", str(f), st.st_dev, st.st_ino, 10, "0" * 16, 20)
    tailer = _tailer([str(f)])
    tailer.restore([stale])
    tailer.scan(1.0)
    (t,) = tailer.files.values()
    assert t.state.key != "old-key" and t.reader.offset == 0


def test_checkpoint_roundtrip_and_corruption(tmp_path: Path) -> None:
    """Checkpoints survive a save/load round trip, and a corrupt file is an error naming it."""
    store = CheckpointStore(tmp_path / "state")
    states = [FileState("k", "/x.log", 1, 2, 30, "ab" * 8, 30, 0)]
    store.save(states)
    assert store.load() == states
    store.path.write_text("{not json")
    try:
        store.load()
    except Exception as exc:
        assert str(store.path) in str(exc) and "corrupt" in str(exc)
    else:
        raise AssertionError("corrupt checkpoint accepted")


def test_idle_files_are_closed_and_reopened_on_change(tmp_path: Path) -> None:
    """A file idle for ``close_inactive`` gives back its descriptor; when it grows it is reopened where it was."""
    f = tmp_path / "app.log"
    append(f, "one")
    tailer = _tailer([str(f)])
    tailer.close_inactive = 1.0
    tailer.scan(0.0)
    (t,) = tailer.files.values()
    assert _drain(tailer, t, 0.0) == ["one"]
    t.reader.line_start = t.reader.offset
    assert not tailer.sleep_ready(t, 0.5) and tailer.sleep_ready(t, 1.5)
    tailer.sleep(t)
    assert t.fd == -1 and not tailer.files
    tailer.scan(2.0)
    assert not tailer.files  # unchanged: stays closed
    assert [s.offset for s in tailer.states()] == [4]
    append(f, "two")
    tailer.scan(3.0)
    (t2,) = tailer.files.values()
    assert t2.state.key == t.state.key
    assert _drain(tailer, t2, 3.0) == ["two"]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=400).map(lambda b: b.replace(b"\x00", b"\n")), chunk=st.integers(1, 64))
def test_reader_offsets_match_the_bytes_whatever_the_chunking(data: bytes, chunk: int) -> None:
    """Any bytes read in any chunk size give lines whose offsets cover the file exactly, in order."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "a.log"
        f.write_bytes(data)
        fd = os.open(f, os.O_RDONLY)
        try:
            r = LineReader(fd, 0)
            out: list[RawLine] = []
            while True:
                lines, n = r.read(0.0, chunk)
                out.extend(lines)
                if not n:
                    break
            last = r.take_partial(0.0)
            if last is not None:
                out.append(last)
        finally:
            os.close(fd)
    pos = 0
    for line in out:
        assert line.offset == pos
        raw = data[line.offset:line.end]
        assert raw.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", "replace") == line.text
        pos = line.end
    assert pos == len(data)


def test_unreadable_file_is_reported_once(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the shipper may not open is warned about once, not at every scan, and picked up once it can be."""
    f = tmp_path / "secret.log"
    append(f, "x")
    real_open = os.open
    denied = {str(f)}

    def guarded_open(path: str, flags: int, *args: int) -> int:
        if str(path) in denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", guarded_open)
    tailer = _tailer([str(tmp_path / "*.log")])
    for i in range(3):
        tailer.scan(float(i))
    assert [r.message for r in caplog.records].count("cannot open log file") == 1
    assert not tailer.files
    denied.clear()
    tailer.scan(5.0)
    assert len(tailer.files) == 1


def _lines_of(data: bytes, chunk: int, compiled: bool, max_line: int) -> list[tuple[str, int, int, float]]:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "a.log"
        f.write_bytes(data)
        fd = os.open(f, os.O_RDONLY)
        try:
            r = LineReader(fd, 0, max_line_bytes=max_line)
            if not compiled:
                r.split = None
            else:
                assert r.split is not None  # built by the install (shipper/_speedups.c)
            out: list[RawLine] = []
            now = 1.5
            while True:
                lines, n = r.read(now, chunk)
                out.extend(lines)
                now += 1
                if not n:
                    break
        finally:
            os.close(fd)
    assert all(type(line) is RawLine for line in out)
    return [(line.text, line.offset, line.end, line.read_time) for line in out]


@settings(max_examples=200, deadline=None)
@given(data=st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b"\xe6\x95\xb0", b"\xff", b"\xe6\x95", b"x" * 30,
                                      b"\xf0\x9f\x99\x82", b"\x00"]), max_size=120).map(b"".join),
       chunk=st.integers(1, 80), max_line=st.sampled_from([16, 1 << 20]))
def test_compiled_split_equals_the_python_split(data: bytes, chunk: int, max_line: int) -> None:
    """The compiled line splitter gives the same lines (text, offsets, read time) for any bytes and chunking:
    CR LF, a lone CR, invalid and cut UTF-8, NUL, over-long lines."""
    with pytest.MonkeyPatch.context() as mp:  # (compared also in a run with the switch set)
        mp.delenv("CRONWATCH_NO_EXTENSIONS", raising=False)
        assert _lines_of(data, chunk, True, max_line) == _lines_of(data, chunk, False, max_line)
