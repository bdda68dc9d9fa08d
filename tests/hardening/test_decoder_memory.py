"""A bomb within the limits must not cost several copies of its canvas.

A 40 MP PNG of zeros is a 40-300 KB file. The decoder accepts it (it is within the
pixel limit) and analyses it downscaled to 4096 px; it used to convert the full
canvas first (palette/alpha/16-bit to RGB, each a full-size copy), so one such
request took 850 MB of a 2 GB instance. Now the canvas is shrunk to 4096 px before
any conversion. The peak itself is measured by ``python -m tools.load.bombs``; this
test checks the mechanism: every conversion sees the small image, and the result is
the same picture.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from shared.vision import imageio
from tests.data import make_photos
from tests.data.hostile import formats as f

# (name, encoded file): within the limits, larger than MAX_SIDE
LARGE = {
    "png-rgba16": lambda: f.png_bomb(6000, 5000, depth=16, colour=6),
    "png-palette": lambda: f.png_bomb(9000, 3000, depth=8, colour=3),
    "png-grey16": lambda: f.png_bomb(5000, 6000, depth=16, colour=0),
    "png-grey-alpha": lambda: f.png_bomb(16000, 2000, depth=8, colour=4),
    "bmp-1bit": lambda: f.bmp(8000, 3000, bpp=1),
}


@pytest.mark.parametrize("name", sorted(LARGE))
def test_the_canvas_is_shrunk_before_any_conversion(name: str, monkeypatch) -> None:
    seen: list[tuple[int, int]] = []
    convert = imageio._to_rgb

    def spy(image):
        seen.append(image.size)
        return convert(image)

    monkeypatch.setattr(imageio, "_to_rgb", spy)
    decoded = imageio.decode(LARGE[name]())
    assert len(seen) == 1 and max(seen[0]) == imageio.MAX_SIDE, seen
    assert max(decoded.rgb.shape[:2]) == imageio.MAX_SIDE


def test_shrinking_first_gives_the_same_picture() -> None:
    """Area-averaged by Pillow before conversion ~= converted, then area-averaged by OpenCV."""
    import cv2

    big = cv2.resize(make_photos.astronaut(), (4800, 4800), interpolation=cv2.INTER_NEAREST)
    expected = cv2.resize(big, (4096, 4096), interpolation=cv2.INTER_AREA)
    got = imageio.decode(make_photos.encode(big, "PNG", compress_level=1)).rgb
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 1.0


def test_transparent_pixels_still_become_white_when_shrunk() -> None:
    rgba = np.zeros((64, 5000, 4), np.uint8)
    rgba[:, 2500:] = (200, 10, 10, 255)  # right half opaque red, left half transparent black
    rgb = imageio.decode(make_photos.encode(rgba, "PNG")).rgb
    assert (rgb[:, :1000] == 255).all()
    assert np.abs(rgb[:, -1000:].astype(int) - (200, 10, 10)).max() <= 1


def test_a_palette_image_is_expanded_before_it_is_averaged() -> None:
    from PIL import Image

    image = Image.new("P", (5000, 80))
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.paste(1, (0, 0, 5000, 80))
    image.paste(0, (0, 0, 5000, 40))  # top rows index 0 (black), bottom rows index 1 (white)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    rgb = imageio.decode(buf.getvalue()).rgb
    assert rgb[:10].max() <= 1 and rgb[-10:].min() >= 254


def test_concurrent_large_decodes_share_a_pixel_budget(monkeypatch) -> None:
    """Eight requests each carrying a 40 MP bomb (39 KB) at once: decoding is a request's
    memory peak, so the decodes in flight together may declare at most the budget
    (eight at once took 3.3 GB; python -m tools.load.bombs measures it)."""
    import threading
    import time

    data = f.png_bomb(16384, 2441)  # 40 MP of zeros, within the limits
    in_flight = {"now": 0, "peak": 0}
    lock = threading.Lock()
    decode = imageio._decode_with_pillow

    def spy(blob: bytes, fmt: str):
        with lock:
            in_flight["now"] += 16384 * 2441
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        try:
            time.sleep(0.2)  # hold the decode open, so that unbounded ones would overlap
            return decode(blob, fmt)
        finally:
            with lock:
                in_flight["now"] -= 16384 * 2441

    monkeypatch.setattr(imageio, "_decode_with_pillow", spy)
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(imageio.decode(data))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8  # every one decoded, none refused: they queued
    assert in_flight["peak"] <= imageio.DECODE_BUDGET_PIXELS


def test_small_images_do_not_wait_for_each_other() -> None:
    """Ordinary photos fit the budget many times over: it only bounds the large ones."""
    assert imageio.DECODE_BUDGET_PIXELS >= 5 * 12_000_000  # five 12 MP phone photos at once
    assert imageio.DECODE_BUDGET_PIXELS >= imageio.MAX_DECLARED_PIXELS  # any image fits alone
