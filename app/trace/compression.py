"""Decompressing GS1 Digital Link URIs (GS1 Digital Link: Compression), as a conformant resolver must.

A compressed URI carries its element strings as one URI-safe base64 path segment: a bit string of entries, each a
two-hex-digit head (an AI's first two digits, an optimisation code standing for a fixed sequence of AIs, or `F` for a
key=value pair that is not GS1's) followed by the AI's value, encoded by the AI's format: fixed-length numbers as
binary integers, variable-length ones with a length field, alphanumerics with a 3-bit encoding indicator (digits,
lower or upper hexadecimal, base64, 7-bit ASCII). No Python library for this is kept up on PyPI (the one there,
2021, installs top-level `gs1` and `tests` packages); this is written from the standard's description, and tested
against GS1's own vectors (tests/trace/test_compression.py).

The AIs' formats and lengths come from biip's table of the GS1 General Specifications, so they follow biip's
updates; the optimisation codes are the standard's own table.
"""

from __future__ import annotations

import functools
import math
import re

from biip.gs1_application_identifiers import _GS1_APPLICATION_IDENTIFIERS

SAFE_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
HEX = "0123456789ABCDEF"
COMPRESSED = re.compile(r"^[A-Za-z0-9_-]+$")

# The standard's optimisation table: one hex pair (outside 00-99) for a common sequence of AIs. The values follow
# in the AIs' text order, as GS1's toolkit writes and reads them (it sorts each sequence): 1A is 01, 10, 17, 21 and
# 9D is 254, 414, whatever order the table lists them in. URIs compressed by GS1's tools read right only so.
_TABLE: dict[str, tuple[str, ...]] = {
    "0A": ("01", "22"),
    "0B": ("01", "10"),
    "0C": ("01", "21"),
    "0D": ("01", "17"),
    "0E": ("01", "7003"),
    "0F": ("01", "30"),
    "1A": ("01", "10", "21", "17"),
    "1B": ("01", "15"),
    "1C": ("01", "11"),
    "1D": ("01", "16"),
    "1E": ("01", "91"),
    "1F": ("01", "10", "15"),
    # Net weight (2A-2F: 3100-3105) and length (3A-3F: 3200-3205) in kilograms and metres, 0-5 decimals.
    **{
        f"{code}{letter}": ("01", f"{ai}{n}")
        for code, ai in (("2", "310"), ("3", "320"))
        for n, letter in enumerate("ABCDEF")
    },
    "9A": ("8010", "8011"),
    "9B": ("8017", "8019"),
    "9C": ("8018", "8019"),
    "9D": ("414", "254"),
    **{f"A{n}": ("01", f"392{n}") for n in range(10)},
    **{f"C{n}": ("255", f"390{n}") for n in range(10)},
    **{f"C{letter}": ("255", f"394{n}") for n, letter in enumerate("ABCD")},
}
OPTIMISATIONS = {code: tuple(sorted(ais)) for code, ais in _TABLE.items()}


class CompressionError(ValueError):
    """The segment is not a compressed GS1 Digital Link."""


# A value component: numeric or not, its (maximum) length, and whether its length varies.
Component = tuple[bool, int, bool]


def _components(format_: str) -> tuple[Component, ...]:
    # biip writes formats as the General Specifications do: "N2+N14", "N3+N13[+X..17]", "N4+N6[+N6]". The first
    # component is the AI itself; an optional fixed-length part is encoded as a variable-length one.
    parts = re.findall(r"(\[?)\+?([NXYZ])(\.\.)?(\d+)", format_)[1:]
    components: list[Component] = []
    for bracket, kind, dots, length in parts:
        component = (kind == "N", int(length), bool(bracket or dots))
        # Adjacent fixed-length numbers are one number to the compression (ITIP's N14+N2+N2 is its N18).
        if components and component[0] and not component[2] and components[-1][0] and not components[-1][2]:
            component = (True, components.pop()[1] + component[1], False)
        components.append(component)
    return tuple(components)


# Where the General Specifications changed a format after the compression standard fixed its table, the
# compression's format decides how the bits read.
COMPRESSION_FORMATS: dict[str, tuple[Component, ...]] = {
    **{f"723{n}": ((False, 30, True),) for n in range(10)},
    "8007": ((False, 24, True),),
    "8013": ((False, 30, True),),
}
FORMATS = {
    ai: COMPRESSION_FORMATS.get(ai) or _components(entry.format) for ai, entry in _GS1_APPLICATION_IDENTIFIERS.items()
}
# How many digits an AI has, by its first two (all AIs sharing two leading digits have one length).
AI_LENGTHS = {ai[:2]: len(ai) for ai in _GS1_APPLICATION_IDENTIFIERS}


def _value_bits(digits: int) -> int:
    # The standard's bit counts, with its +0.01 so exact powers of two round up, as encoders compute them.
    return math.ceil(digits * math.log2(10) + 0.01)


def _length_bits(maximum: int) -> int:
    return math.ceil(math.log2(maximum) + 0.01)


class _Bits:
    def __init__(self, segment: str) -> None:
        self.bits = "".join(format(SAFE_BASE64.index(char), "06b") for char in segment)
        self.cursor = 0

    def take(self, count: int) -> int:
        if self.cursor + count > len(self.bits):
            raise CompressionError("the compressed data ends early")
        chunk = self.bits[self.cursor : self.cursor + count]
        self.cursor += count
        return int(chunk, 2) if chunk else 0

    def remaining(self) -> int:
        return len(self.bits) - self.cursor

    def hex_digit(self) -> str:
        return HEX[self.take(4)]

    def text(self, encoding: int, length: int) -> str:
        if encoding == 0:  # digits, as one binary number
            return str(self.take(_value_bits(length))).zfill(length) if length else ""
        if encoding in (1, 2):
            text = "".join(self.hex_digit() for _ in range(length))
            return text.lower() if encoding == 1 else text
        if encoding == 3:
            return "".join(SAFE_BASE64[self.take(6)] for _ in range(length))
        if encoding == 4:
            return "".join(chr(self.take(7)) for _ in range(length))
        raise CompressionError(f"unknown encoding {encoding}")


def _value(bits: _Bits, ai: str) -> str:
    if ai not in FORMATS:
        raise CompressionError(f"unknown AI ({ai})")
    value = ""
    for numeric, length, variable in FORMATS[ai]:
        if numeric and not variable:
            value += str(bits.take(_value_bits(length))).zfill(length)
        elif numeric:
            digits = bits.take(_length_bits(length))
            number = bits.take(_value_bits(digits))
            value += str(number).zfill(digits) if digits else ""
        elif not variable:
            value += bits.text(bits.take(3), length)
        else:
            encoding = bits.take(3)
            value += bits.text(encoding, bits.take(_length_bits(length)))
    return value


@functools.lru_cache(maxsize=1024)
def decompress(segment: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The element strings ((AI, value), in order) and the other key=value pairs a compressed segment holds."""
    if not COMPRESSED.match(segment):
        raise CompressionError("not URI-safe base64")
    bits = _Bits(segment)
    elements: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    # The last bits are padding to whole base64 characters: fewer than a head's eight.
    while bits.remaining() > 8:
        first, second = bits.hex_digit(), bits.hex_digit()
        head = first + second
        if head.isdigit():
            if head not in AI_LENGTHS:
                raise CompressionError(f"no AI begins with {head}")
            ai = head + "".join(bits.hex_digit() for _ in range(AI_LENGTHS[head] - 2))
            if not ai.isdigit():
                raise CompressionError(f"AI {ai} is not numeric")
            elements.append((ai, _value(bits, ai)))
        elif head in OPTIMISATIONS:
            elements.extend((ai, _value(bits, ai)) for ai in OPTIMISATIONS[head])
        elif first == "F":
            # A key of up to 127 base64 characters: its length is the second digit's 4 bits and 3 more.
            key_length = HEX.index(second) << 3 | bits.take(3)
            key = "".join(SAFE_BASE64[bits.take(6)] for _ in range(key_length))
            encoding = bits.take(3)
            others.append((key, bits.text(encoding, bits.take(7))))
        else:
            raise CompressionError(f"no optimisation {head}")
    if not elements:
        raise CompressionError("no element strings")
    return tuple(elements), tuple(others)
