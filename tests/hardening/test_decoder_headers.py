"""Bombs are refused from the header, before Pillow parses anything.

The decoder reads the declared size itself and refuses a bomb before any decoder
runs. Pillow, though, reads more than the first header: it grows a GIF's canvas to
hold the first frame (skipping junk bytes on the way), takes the last IHDR it meets
(past IDAT, when the first IHDR's mode is invalid) and the last SOFn before the
scan, and reads a BMP's width as unsigned. Each case here hides a bomb where only
Pillow looked; the header check must see it too, so the decoder refuses it with
InvalidImageSize, Pillow never opens it and no DecompressionBombWarning escapes.
"""

from __future__ import annotations

import struct
import warnings
from unittest import mock

import pytest

from shared.errors import InvalidImage, InvalidImageSize
from shared.vision import imageio
from tests.data.hostile import formats as f

BOMB = (10_000, 10_000)  # 100 MP: Pillow would only warn (its error starts at 179 MP)


def _gif_frame_beyond_screen() -> bytes:
    return f.gif(48, 40, ((0, 0, *BOMB),))


def _gif_junk_before_frame() -> bytes:
    frame = f.gif_descriptor(0, 0, *BOMB) + b"\x02" + f.sub_blocks(b"\0" * 10)
    return f.gif_screen(48, 40) + f.gif_table(1) + b"\x00\x07" + frame + b";"


def _jpeg_second_sof() -> bytes:
    segments, scan = f.jpeg_seed()
    out = []
    for marker, payload in segments:
        out.append((marker, payload))
        if marker == 0xC0:
            out.append((marker, f.sof_payload(*BOMB, payload)))
    return f.jpeg(out, scan)


def _png_second_ihdr() -> bytes:
    return f.png(48, 40, before_idat=(f.png_chunk(b"IHDR", f.png_ihdr(*BOMB)),))


def _png_ihdr_after_idat() -> bytes:
    """A first IHDR with an invalid mode makes Pillow treat IDAT as an unknown chunk and
    keep reading: a later IHDR becomes the header (found by the long fuzz run)."""
    return (
        f.PNG_SIGNATURE
        + f.png_chunk(b"IHDR", f.png_ihdr(48, 40, depth=0, colour=0))
        + f.png_chunk(b"IDAT", b"\0")
        + f.png_chunk(b"IHDR", f.png_ihdr(*BOMB))
        + f.png_chunk(b"IEND", b"")
    )


def _bmp_negative_width() -> bytes:
    return f.bmp(-48, 40)  # Pillow reads the width as unsigned: 4294967248 px


HIDDEN_BOMBS = {
    "gif-frame-beyond-screen": _gif_frame_beyond_screen,
    "gif-junk-before-frame": _gif_junk_before_frame,
    "jpeg-second-sof": _jpeg_second_sof,
    "png-second-ihdr": _png_second_ihdr,
    "png-ihdr-after-idat": _png_ihdr_after_idat,
    "bmp-negative-width": _bmp_negative_width,
}


@pytest.mark.parametrize("name", sorted(HIDDEN_BOMBS))
def test_a_bomb_hidden_past_the_first_header_is_refused_before_pillow(name: str) -> None:
    data = HIDDEN_BOMBS[name]()
    fmt = imageio.sniff_format(data)
    assert fmt is not None
    width, height = imageio.declared_size(data, fmt) or (0, 0)
    assert width * height > imageio.MAX_DECLARED_PIXELS, "the header check misses the bomb"
    with (
        warnings.catch_warnings(),
        mock.patch.object(imageio.Image, "open", side_effect=AssertionError("Pillow ran")),
    ):
        warnings.simplefilter("error")
        with pytest.raises(InvalidImageSize):
            imageio.decode(data)


def test_header_walks_still_read_ordinary_files() -> None:
    """The deeper walks agree with the first header on ordinary files of every format."""
    assert imageio.declared_size(f.gif(48, 40, ((0, 0, 48, 40), (4, 4, 20, 20))), "GIF") == (
        48,
        40,
    )
    assert imageio.declared_size(f.gif(48, 40, ((10, 10, 20, 20),)), "GIF") == (48, 40)
    assert imageio.declared_size(f.jpeg(*f.jpeg_seed("progressive")), "JPEG") == (48, 40)
    assert imageio.declared_size(f.png(48, 40), "PNG") == (48, 40)
    assert imageio.declared_size(f.bmp(48, -40), "BMP") == (48, 40)
    for data in (f.gif(48, 40), f.jpeg(*f.jpeg_seed()), f.png(48, 40), f.bmp(48, -40)):
        assert imageio.decode(data).rgb.shape == (40, 48, 3)


def test_a_gif_whose_first_frame_grows_the_canvas_within_limits_still_decodes() -> None:
    data = f.gif(40, 40, ((0, 0, 60, 50),))
    assert imageio.declared_size(data, "GIF") == (60, 50)
    assert imageio.decode(data).rgb.shape == (50, 60, 3)


def test_truncated_headers_are_corrupt_not_crashes() -> None:
    for data in (
        _png_second_ihdr()[:40],
        _gif_frame_beyond_screen()[:20],
        _gif_frame_beyond_screen()[:10],  # no packed-fields byte (found by the fuzzer)
        _jpeg_second_sof()[:30],
        struct.pack("<2s", b"BM") + b"\0" * 10,
    ):
        fmt = imageio.sniff_format(data)
        assert fmt is not None
        size = imageio.declared_size(data, fmt)
        assert size is None or all(isinstance(v, int) and v >= 0 for v in size)
        with pytest.raises(InvalidImage):
            imageio.decode(data)
