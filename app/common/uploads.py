"""Receiving an uploaded file: its type checked by content, its size bounded, stored under a random name.

Inspection photos and list attachments share this. The client's Content-Type and file name prove nothing about the
bytes, so the type comes from the file's signature; the name on disk is random, so a name like `../../etc/passwd`
goes nowhere. The bytes go to a `.part` file first and reach their final name only when the caller keeps them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileType:
    signature: bytes
    content_type: str
    suffix: str


JPEG = FileType(b"\xff\xd8\xff", "image/jpeg", ".jpg")
PNG = FileType(b"\x89PNG\r\n\x1a\n", "image/png", ".png")
# ISO 32000: "%PDF-" opens the file (readers tolerate junk before it; we do not).
PDF = FileType(b"%PDF-", "application/pdf", ".pdf")
LONGEST_SIGNATURE = 8


@dataclass
class Received:
    """A file written to its `.part` name: its checked type, size and digest; `keep()` gives it its final name."""

    directory: Path
    file_type: FileType
    size: int
    sha256: str
    stored_name: str
    part_path: Path
    kept: bool = field(default=False)

    @property
    def content_type(self) -> str:
        return self.file_type.content_type

    def keep(self) -> Path:
        """Move the file to its final name; it stays unless the `receive` block then fails."""
        final = self.directory / self.stored_name
        self.part_path.replace(final)
        self.kept = True
        return final


@contextmanager
def receive(
    stream: IO[bytes],
    *,
    directory: Path,
    types: Sequence[FileType],
    max_bytes: int,
    unsupported: Exception,
    too_large: Exception,
) -> Iterator[Received]:
    """Write `stream` under `directory` if it starts with one of `types`' signatures and fits in `max_bytes`.

    Raises `unsupported` or `too_large` (the caller's own errors, with its own codes) and then keeps nothing.
    Leaving the block normally keeps the file only if `keep()` was called; leaving it by an exception removes
    the file even then, so a failed INSERT leaves no orphan behind.
    """
    head = stream.read(LONGEST_SIGNATURE)
    file_type = next((found for found in types if head.startswith(found.signature)), None)
    if file_type is None:
        raise unsupported
    directory.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + file_type.suffix
    part_path = directory / f"{stored_name}.part"
    digest, size = hashlib.sha256(head), len(head)
    try:
        with part_path.open("xb") as out:
            out.write(head)
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                digest.update(chunk)
                out.write(chunk)
        if size > max_bytes:
            raise too_large
        received = Received(directory, file_type, size, digest.hexdigest(), stored_name, part_path)
        try:
            yield received
        except BaseException:
            if received.kept:
                (directory / stored_name).unlink(missing_ok=True)
            raise
    finally:
        part_path.unlink(missing_ok=True)
