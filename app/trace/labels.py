"""QR labels for trace codes: PNG and SVG, with the serial printed under the symbol for people."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from xml.sax.saxutils import escape

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.image.svg import SvgPathImage

from app.infra import png as png_writer

QUIET_ZONE = 4  # modules; ISO/IEC 18004 asks for four
# Eight pixels a module: in a one-bit PNG each module of a row is then exactly one byte.
MODULE_PX = 8
TEXT_PX = 22
# Module values (1 dark, 0 light) to the byte of eight one-bit pixels (0 black, 1 white) that draws them.
MODULE_TO_BYTE = bytes.maketrans(b"\x00\x01", b"\xff\x00")
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


@cache
def _glyph(character: str) -> Image.Image:
    """One character of the serial line, drawn once: FreeType drawing each serial took an eighth of a label request."""
    font = _font()
    glyph = Image.new("1", (max(1, round(font.getlength(character))), TEXT_PX + MODULE_PX), 1)
    ImageDraw.Draw(glyph).text((0, 0), character, fill=0, font=font)
    return glyph


def _serial_line(serial: str, width: int) -> bytes:
    """The one-bit rows under the symbol with the serial centred in them."""
    glyphs = [_glyph(character) for character in serial]
    line = Image.new("1", (width, TEXT_PX + MODULE_PX), 1)
    x = (width - sum(glyph.width for glyph in glyphs)) // 2
    for glyph in glyphs:
        line.paste(glyph, (x, 0))
        x += glyph.width
    return line.tobytes()


def png(url: str, serial: str) -> bytes:
    """One label as a one-bit PNG: the QR code and, under it, the serial.

    The scanlines are written straight from the module matrix: drawing the symbol into an image and having
    Pillow encode it took half of a label's time, for rows that are a module row's bytes eight times over.
    """
    matrix = _qr(url).get_matrix()
    width = len(matrix) * MODULE_PX
    row_bytes = width // 8
    rows = [png_writer.row(bytes(modules).translate(MODULE_TO_BYTE), times=MODULE_PX) for modules in matrix]
    text = _serial_line(serial, width)
    rows.extend(png_writer.row(text[start : start + row_bytes]) for start in range(0, len(text), row_bytes))
    return png_writer.one_bit_png(width, width + TEXT_PX + MODULE_PX, rows)


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
