"""The one-bit PNG writer: what it writes, Pillow reads back pixel for pixel."""

import io

from PIL import Image

from app.infra import png


def test_a_one_bit_png_reads_back_as_the_rows_it_was_given():
    # 16 x 3: a black-then-white row twice over, then a white-then-black row.
    rows = [png.row(b"\x00\xff", times=2), png.row(b"\xff\x00")]

    image = Image.open(io.BytesIO(png.one_bit_png(16, 3, rows)))

    assert (image.format, image.mode, image.size) == ("PNG", "1", (16, 3))
    assert image.tobytes() == b"\x00\xff" * 2 + b"\xff\x00"
