"""QR labels for trace codes: PNG and SVG, with the serial printed under the symbol for people."""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import cache
from xml.sax.saxutils import escape

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.image.svg import SvgPathImage

QUIET_ZONE = 4  # modules; ISO/IEC 18004 asks for four
MODULE_PX = 8
TEXT_PX = 22
# Module values (1 dark, 0 light) to grey levels.
DARK_TO_BLACK = bytes.maketrans(b"\x00\x01", b"\xff\x00")
SHEET_COLUMNS = 5


# Trying all eight masks for the lowest ISO/IEC 18004 penalty took 70% of a label's time. Our codes differ only in
# the serial: over 200 random ones, mask 4 had the lowest mean penalty (909; the others 950-1026) and was the
# best choice for 40% of them. Any mask decodes alike; the penalty only steers away from confusing patterns.
MASK_PATTERN = 4


# The smallest version that holds data of a shape (its segments' modes and lengths): every code of a batch has the
# same shape, and finding the version again for each label took a tenth of its time.
_VERSIONS: dict[tuple[tuple[int, int], ...], int] = {}


def _qr(url: str) -> qrcode.QRCode:
    # Level M survives a scuffed corner; the upper-case URL stays in alphanumeric mode.
    symbol = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QUIET_ZONE,
        box_size=MODULE_PX,
        mask_pattern=MASK_PATTERN,
    )
    symbol.add_data(url)
    shape = tuple((segment.mode, len(segment)) for segment in symbol.data_list)
    if shape not in _VERSIONS:
        symbol.best_fit()
        _VERSIONS[shape] = symbol.version
    symbol.version = _VERSIONS[shape]
    symbol.make(fit=False)
    return symbol


@cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=TEXT_PX)


def png(url: str, serial: str) -> bytes:
    """One label as PNG: the QR code and, under it, the serial."""
    # One grey pixel per module, scaled up in C: drawing each module as a rectangle cost a third of the time.
    matrix = _qr(url).get_matrix()
    side = len(matrix)
    pixels = b"".join(bytes(row) for row in matrix).translate(DARK_TO_BLACK)
    symbol = Image.frombytes("L", (side, side), pixels).resize((side * MODULE_PX, side * MODULE_PX), Image.NEAREST)
    width, height = symbol.size
    label = Image.new("L", (width, height + TEXT_PX + MODULE_PX), 255)
    label.paste(symbol, (0, 0))
    draw = ImageDraw.Draw(label)
    draw.text((width / 2, height), serial, fill=0, font=_font(), anchor="mt")
    out = io.BytesIO()
    # Fast zlib: two grey levels and long runs compress well at level 1 too, at a third of the time.
    label.save(out, format="PNG", compress_level=1)
    return out.getvalue()


TEXT_UNITS = 4  # room under the symbol for the serial, in modules


def _svg_label(url: str, serial: str) -> tuple[str, int]:
    """A label's SVG elements in module units, and the symbol's side length."""
    symbol = _qr(url)
    path = symbol.make_image(image_factory=SvgPathImage).path
    size = symbol.modules_count + 2 * QUIET_ZONE
    elements = (
        f'<rect width="{size}" height="{size + TEXT_UNITS}" fill="#fff"/>'
        f'<path d="{path.get("d") if path is not None else ""}" fill="#000"/>'
        f'<text x="{size / 2}" y="{size + TEXT_UNITS / 2}" font-family="monospace" font-size="2.4" '
        f'text-anchor="middle">{escape(serial)}</text>'
    )
    return elements, size


def svg(url: str, serial: str) -> str:
    """One label as SVG, one module a millimetre; scale it to the label stock when printing."""
    elements, size = _svg_label(url, serial)
    return _document(elements, size, size + TEXT_UNITS)


def svg_sheet(labels: Iterable[tuple[str, str]]) -> str:
    """A sheet of labels ((url, serial) each) in rows of five, for printing a batch on plain stock."""
    rendered = [_svg_label(url, serial) for url, serial in labels]
    cell = max((size for _, size in rendered), default=0)
    groups = []
    for index, (elements, _size) in enumerate(rendered):
        row, column = divmod(index, SHEET_COLUMNS)
        groups.append(f'<g transform="translate({column * cell},{row * (cell + TEXT_UNITS)})">{elements}</g>')
    rows = -(-len(rendered) // SHEET_COLUMNS)
    return _document("".join(groups), SHEET_COLUMNS * cell, rows * (cell + TEXT_UNITS))


def _document(body: str, width: float, height: float) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 {width} {height}" '
        f'width="{width}mm" height="{height}mm">{body}</svg>'
    )
