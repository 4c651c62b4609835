"""A PNG writer for one-bit greyscale images whose rows the caller already holds as packed bytes (QR labels).

What it saves, as measured (300 labels, best of 5, one core of the shared development VM, 2026-12-06): a label
took 4.4 ms with this writer, 7.0 ms with the same pixels encoded by Pillow and 9.4 ms drawn by qrcode into a Pillow
image and encoded there, of which 3.7 ms are the QR matrix and the serial line either way. Encoding alone is 0.7 ms
here against 3.3 ms in Pillow: without it the 300 labels/s target would need twice the cores.

What it costs in semantics: only one-bit greyscale (bit depth 1, colour type 0), no interlace, filter type 0 (none)
on every row and deflate level 1, so files are a little larger than Pillow's (a label stays under a kilobyte); no
ancillary chunks (no resolution, no gamma, no text); nothing checks that each row has width/8 bytes or that there
are `height` of them: a wrong row length gives a file viewers reject, not an exception here.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Filter type 0 (none) starts every row of the image data.
NO_FILTER = b"\x00"


def row(pixels: bytes, *, times: int = 1) -> bytes:
    """One row of packed one-bit pixels (0 black, 1 white; width/8 bytes) as image data, repeated `times` over."""
    return (NO_FILTER + pixels) * times


def one_bit_png(width: int, height: int, rows: Iterable[bytes]) -> bytes:
    """The PNG file of `rows` (each from row()), `height` of them in all, of `width` pixels (a multiple of 8)."""
    # Bit depth 1, colour type 0 (greyscale), deflate, no filter method beyond 0, no interlace.
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    # Level 1: a label is under a kilobyte at any level, and level 6 took a fifth of its time.
    return b"".join(
        (
            SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 1)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
