"""Derived test photos, made from the two public-domain portraits at test time.

Nothing generated here is committed (see PROVENANCE.md). ``python -m tests.data.make_photos
OUTDIR`` writes every derived image out so a person can look at them.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parent / "photos"
ASTRONAUT = PHOTOS / "astronaut.png"
GRACE_HOPPER = PHOTOS / "grace_hopper.jpg"


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def astronaut() -> np.ndarray:
    return load_rgb(ASTRONAUT)


def grace_hopper() -> np.ndarray:
    return load_rgb(GRACE_HOPPER)


def encode(rgb: np.ndarray, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **options)
    return buf.getvalue()


# --- augmentations ---------------------------------------------------------------------


def flip(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def exposure(rgb: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre (positive = counter-clockwise), same canvas, grey border."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderValue=(128, 128, 128))


def turned(rgb: np.ndarray, amount: float = 0.35) -> np.ndarray:
    """A crude head turn: shrink the image's right half in perspective (the face seems to
    turn towards the image right, i.e. the subject turns to their left)."""
    h, w = rgb.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32(
        [
            [0, 0],
            [w * (1 - amount), h * amount / 2],
            [w * (1 - amount), h * (1 - amount / 2)],
            [0, h],
        ]
    )
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(rgb, m, (w, h), borderValue=(128, 128, 128))


def composite(sizes: tuple[int, ...] = (400, 300, 220, 160)) -> np.ndarray:
    """One canvas holding the portraits at the given sizes (one face each), side by side.

    Tiles alternate astronaut / Grace Hopper (flipped on every second pass), so the faces
    have distinct sizes and a known order from largest to smallest.
    """
    sources = [astronaut(), grace_hopper()]
    tiles = []
    for i, size in enumerate(sizes):
        tile = sources[i % 2]
        if (i // 2) % 2:
            tile = flip(tile)
        tiles.append(cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA))
    gap = 40
    width = sum(sizes) + gap * (len(sizes) + 1)
    height = max(sizes) + 2 * gap
    canvas = np.full((height, width, 3), 200, np.uint8)
    x = gap
    for tile in tiles:
        canvas[gap : gap + tile.shape[0], x : x + tile.shape[1]] = tile
        x += tile.shape[1] + gap
    return canvas


def with_exif_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    """A JPEG whose pixels are stored rotated, with the EXIF tag that undoes it."""
    stored = {
        6: np.rot90(rgb, 1),  # displayed = stored rotated 90 deg clockwise
        8: np.rot90(rgb, -1),
        3: np.rot90(rgb, 2),
    }.get(orientation, rgb)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(np.ascontiguousarray(stored), "JPEG", quality=92, exif=exif.tobytes())


def animated_gif(first: np.ndarray, second: np.ndarray) -> bytes:
    frames = [Image.fromarray(first), Image.fromarray(second)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def sixteen_bit_png(rgb: np.ndarray) -> bytes:
    grey = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.uint16) * 257
    return encode(grey, "PNG")


def derived() -> dict[str, np.ndarray]:
    a = astronaut()
    return {
        "composite4": composite(),
        "astronaut_flip": flip(a),
        "astronaut_blur3": blur(a, 3.0),
        "astronaut_blur12": blur(a, 12.0),
        "astronaut_dark": exposure(a, 0.12),
        "astronaut_bright": exposure(a, 1.6, 60),
        "astronaut_rot20": rotate(a, 20),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.data.make_photos OUTDIR")
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, rgb in derived().items():
        Image.fromarray(rgb).save(out / f"{name}.png")
    (out / "astronaut_exif6.jpg").write_bytes(with_exif_orientation(astronaut(), 6))
    (out / "astronaut_16bit.png").write_bytes(sixteen_bit_png(astronaut()))
    (out / "animated.gif").write_bytes(animated_gif(astronaut(), grace_hopper()))
    print(f"wrote derived photos to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
