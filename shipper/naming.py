"""Pure naming rules the sink and ``shipper parse --with-meta`` share: daily index and document id.

The index day comes from the event's own ``@timestamp`` (UTC unless a zone is configured), so
backfills land in the right day. The ``_id`` is a hash of the source identity, the byte offset
and the content, so resending after a crash overwrites instead of duplicating.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from datetime import UTC, datetime, tzinfo
from typing import Any


def index_day(timestamp: str, tz: tzinfo | None = None) -> str:
    """``2026-11-22T17:30:00.000Z`` → ``2026.11.22`` (or the day in ``tz``)."""
    if tz is None and len(timestamp) >= 10 and timestamp.endswith("Z") and timestamp[4] == "-":
        return timestamp[0:4] + "." + timestamp[5:7] + "." + timestamp[8:10]
    dt = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(tz or UTC).strftime("%Y.%m.%d")


def index_name(doc: dict[str, Any], prefix: str, tz: tzinfo | None = None) -> str:
    """``<prefix>-YYYY.MM.DD`` for ``doc`` by its ``@timestamp``."""
    return f"{prefix}-{index_day(doc['@timestamp'], tz)}"


def doc_id(source: str, offset: int, content: bytes | str) -> str:
    """Deterministic id: the same source, offset and content always give the same id."""
    return DocIds(source)(offset, content)


ID_FORMAT = b"%08x%s%x"  # see DocIds
OFFSET_SEED = 0xFFFFFFFF


class DocIds:
    """Document ids of one source: ``<8 hex: CRC-32 of the content, seeded with the offset>``
    ``<16 hex: hash of the source><offset in hex>``.

    Distinct (source, offset) pairs never share an id: the offset is spelled out and the source
    hash has 64 bits. The content's CRC tells apart two records that sit at the same offset of the
    same source (a file rewritten in place), and, seeded with the offset, it makes the first eight
    digits vary from record to record even for identical lines: per-input ``sample`` uses them. No
    cryptographic strength is needed (the ids are not secrets and the inputs are our users' own
    files); a CRC costs half of a keyed hash per line.
    """

    __slots__ = ("prefix",)

    def __init__(self, source: str) -> None:
        self.prefix = hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest().encode()

    def __call__(self, offset: int, content: bytes | str) -> str:
        """The id of the record at ``offset`` with ``content``."""
        data = content.encode("utf-8", "replace") if isinstance(content, str) else content
        return (ID_FORMAT % (zlib.crc32(data, offset & OFFSET_SEED), self.prefix, offset)).decode()


FINGERPRINT_BYTES = 1024  # how much of a file's head identifies its content (beside device+inode)


def fingerprint(head: bytes) -> str:
    """Hash of a file's first bytes (at most ``FINGERPRINT_BYTES``): 16 hex digits."""
    return hashlib.blake2b(head[:FINGERPRINT_BYTES], digest_size=8).hexdigest()


def source_key(dev: int, ino: int, head: bytes) -> str:
    """The id source of a file: ``<dev>-<inode>-<fingerprint>`` (hex); pure."""
    return f"{dev:x}-{ino:x}-{fingerprint(head)}"


def source_for_path(path: str) -> str:
    """The stable identity string of the file at ``path`` that document ids are built from.

    The tailer computes the same string when it first sees a file and keeps it in its checkpoint,
    so ids stay stable while a short file grows; for a file that no longer grows the two agree.
    """
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        head = fh.read(FINGERPRINT_BYTES)
    return source_key(st.st_dev, st.st_ino, head)
