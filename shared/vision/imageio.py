"""Safe image decoding: the security boundary between untrusted bytes and the models.

Every image that reaches the vision code comes through :func:`decode_image` (bytes) or
:func:`check_array` (an array a caller already holds). Both return an **RGB** ``uint8``
array of shape ``(height, width, 3)``, C-contiguous -- RGB everywhere in ``shared.vision``;
OpenCV's BGR is never used at an API boundary.

What is refused, and how:

* more than :data:`MAX_BYTES` (6 MB, like Azure Face) or no bytes -> ``InvalidImageSize``
* a format other than JPEG, PNG, BMP, GIF (first frame) or WebP, sniffed from the magic
  bytes (the caller's content type is ignored) -> ``InvalidImage``
* a declared side above :data:`MAX_DECLARED_SIDE` (16384 px) or more than
  :data:`MAX_DECLARED_PIXELS` (40 MP) -> refused from the header, before a single pixel is
  decoded, so a decompression bomb never allocates its canvas -> ``InvalidImageSize``
* a side below :data:`MIN_SIDE` (36 px, the smallest face we detect) -> ``InvalidImageSize``

**Memory:** concurrent decodes in one process share a budget of
:data:`DECODE_BUDGET_PIXELS` declared pixels (granted first come, first served), so a
burst of large images waits instead of exhausting the instance.

**Downscaling (documented, not silent):** an image whose longer side exceeds
:data:`MAX_SIDE` (4096 px) -- a 6 MB phone photo is often 4000-8000 px -- is analysed
downscaled to 4096 px on its longer side (JPEGs are decoded at reduced scale directly).
:func:`decode` returns the factor, and the analyzer reports rectangles and landmarks in
the original image's pixels. If the shorter side would then fall below 36 px the image
is refused.
* truncated, corrupt or undecodable data -> ``InvalidImage``

EXIF orientation (values 2..8) is applied; any other or unreadable orientation is ignored.
Grey, grey+alpha, palette, 16-bit, 32-bit int/float, CMYK and YCbCr images are converted to
RGB; transparent pixels are composited over white. Pillow never sees the process-wide
``LOAD_TRUNCATED_IMAGES`` or ``MAX_IMAGE_PIXELS`` changed, and no Pillow warning escapes:
the code paths that would warn are either refused before Pillow runs (bomb sizes) or avoided.
"""

from __future__ import annotations

import io
import math
import re
import struct
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from shared.errors import InvalidImage, InvalidImageSize

MAX_BYTES = 6 * 1024 * 1024
MAX_SIDE = 4096  # longest side analysed; larger images are downscaled to it
MAX_DECLARED_SIDE = 16384
MAX_DECLARED_PIXELS = 40_000_000
MIN_SIDE = 36

_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def sniff_format(data: bytes) -> str | None:
    """The Pillow format name for the magic bytes at the start of ``data``, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def declared_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) read from the header without decoding, or None if not found.

    Deliberately independent of Pillow so that bomb-sized canvases are refused before
    any decoder runs; Pillow's own header parse is checked again afterwards. Where
    Pillow reads past the first header (a GIF canvas grown to hold the first frame, a
    later IHDR, the last SOFn before the scan) the largest size is taken.
    """
    try:
        if fmt == "PNG":
            return _png_size(data)
        if fmt == "GIF":
            return _gif_size(data)
        if fmt == "BMP":
            header_size = struct.unpack("<I", data[14:18])[0]
            if header_size == 12:  # OS/2 BITMAPCOREHEADER
                return struct.unpack("<HH", data[18:22])
            # Pillow reads the width unsigned and a negative height as top-down rows
            width = struct.unpack("<I", data[18:22])[0]
            height = struct.unpack("<i", data[22:26])[0]
            return width, abs(height)
        if fmt == "WEBP":
            return _webp_size(data)
        if fmt == "JPEG":
            return _jpeg_size(data)
    except (struct.error, IndexError):  # a header cut short
        return None
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """IHDR's size; Pillow applies every IHDR it meets (past IDAT too, when the first
    IHDR's mode is invalid), so the largest of them up to IEND."""
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    pos = 33  # signature + the first IHDR chunk
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IEND":
            break
        if kind == b"IHDR":
            w, h = struct.unpack(">II", data[pos + 8 : pos + 16])
            width, height = max(width, w), max(height, h)
        pos += 12 + length
    return width, height


_GIF_BLOCK = re.compile(rb"[\x21\x2c\x3b]")


def _gif_size(data: bytes) -> tuple[int, int]:
    """The logical screen, grown to hold the first frame, walking the blocks as Pillow does
    (extensions skipped by their sub-blocks, unknown bytes one at a time)."""
    width, height = struct.unpack("<HH", data[6:10])
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    end = len(data)
    while pos < end:
        block = data[pos]
        if block == 0x3B:  # trailer: no frame
            break
        if block == 0x21:  # extension: label, then sub-blocks up to an empty one
            pos += 2
            while pos < end and data[pos]:
                pos += data[pos] + 1
            pos += 1
            continue
        if block == 0x2C:  # the first image descriptor
            left, top, w, h = struct.unpack("<HHHH", data[pos + 1 : pos + 9])
            return max(width, left + w), max(height, top + h)
        found = _GIF_BLOCK.search(data, pos + 1)  # Pillow skips unknown bytes one by one
        if found is None:
            break
        pos = found.start()
    return width, height


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments up to the scan; the largest size any SOFn declares
    (Pillow applies every SOFn before the scan, so the last one wins there)."""
    pos, end = 2, len(data)
    width = height = -1
    while pos + 2 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x00, 0x01, 0xD8, *range(0xD0, 0xD8)):  # standalone markers
            pos += 2
            continue
        if marker in (0xD9, 0xDA) or pos + 4 > end:  # end of image, start of scan
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _SOF_MARKERS:
            h, w = struct.unpack(">HH", data[pos + 5 : pos + 9])
            width, height = max(width, w), max(height, h)
        if length < 2:
            return None
        pos += 2 + length
    return (width, height) if width >= 0 else None


class _PixelBudget:
    """Declared pixels that may be decoding at once in this process, granted in order.

    Decoding is a request's memory peak (a 40 MP PNG of 300 KB needs about 470 MB; eight
    at once took 3.3 GB), so concurrent decodes share a budget: large images queue
    instead of exhausting the instance, ordinary photos fit many times over.
    """

    def __init__(self, pixels: int) -> None:
        self.pixels = pixels
        self._free = pixels
        self._turns: deque[object] = deque()
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        need = min(pixels, self.pixels)
        turn = object()
        with self._changed:
            self._turns.append(turn)  # first come, first served: a large one is not starved
            self._changed.wait_for(lambda: self._turns[0] is turn and self._free >= need)
            self._turns.popleft()
            self._free -= need
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._free += need
                self._changed.notify_all()


DECODE_BUDGET_PIXELS = 64_000_000
_BUDGET = _PixelBudget(DECODE_BUDGET_PIXELS)


@dataclass(frozen=True)
class Decoded:
    """Decoded pixels and how they relate to the original image."""

    rgb: np.ndarray  # (H, W, 3) uint8 RGB, longer side <= MAX_SIDE
    scale: float  # analysed pixels per original pixel (1.0 unless downscaled)
    original_size: tuple[int, int]  # (width, height) after EXIF orientation


def _check_declared(width: int, height: int) -> None:
    if width > MAX_DECLARED_SIDE or height > MAX_DECLARED_SIDE:
        raise InvalidImageSize(
            f"The declared image size {width}x{height} px exceeds the limit of "
            f"{MAX_DECLARED_SIDE} px on a side."
        )
    if width * height > MAX_DECLARED_PIXELS:
        raise InvalidImageSize(
            f"The declared image size {width}x{height} px exceeds the limit of "
            f"{MAX_DECLARED_PIXELS // 1_000_000} megapixels."
        )
    _check_min(width, height, "The declared image size")


def _check_min(width: int, height: int, what: str) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidImageSize(
            f"{what} {width}x{height} px is below the minimum of {MIN_SIDE} px on a side."
        )


def decode_image(data: bytes) -> np.ndarray:
    """Decode untrusted image bytes to an RGB uint8 array (H, W, 3). See the module doc."""
    return decode(data).rgb


def decode(data: bytes) -> Decoded:
    """Decode untrusted image bytes; pixels plus the downscaling factor. See the module doc."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidImage("Image data must be bytes.")
    data = bytes(data)
    if not data:
        raise InvalidImageSize("The image is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise InvalidImageSize(
            f"The image is {len(data)} bytes; the limit is {MAX_BYTES} bytes (6 MB)."
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise InvalidImage(
            "Unsupported or unrecognised image format; use JPEG, PNG, BMP, GIF or WebP."
        )
    size = declared_size(data, fmt)
    if size is None:
        raise InvalidImage(f"The {fmt} header is corrupt or incomplete.")
    _check_declared(*size)
    try:
        with _BUDGET.hold(size[0] * size[1]):
            decoded = _decode_with_pillow(data, fmt)
    except (InvalidImage, InvalidImageSize):
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidImageSize("The image declares too many pixels.") from exc
    except MemoryError as exc:
        raise InvalidImageSize("The image is too large to decode.") from exc
    except Exception as exc:  # Pillow raises many types on hostile input; all mean "corrupt"
        raise InvalidImage(f"The {fmt} image is truncated or corrupt.") from exc
    height, width = decoded.rgb.shape[:2]
    _check_min(width, height, "The image as analysed")
    return decoded


def _decode_with_pillow(data: bytes, fmt: str) -> Decoded:
    with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
        _check_declared(*probe.size)
        probe.verify()  # structural checks (PNG CRCs etc.) without keeping pixels
    with Image.open(io.BytesIO(data), formats=[fmt]) as im:
        im.seek(0)  # first frame of an animation
        full_w, full_h = im.size
        factor = min(1.0, MAX_SIDE / max(full_w, full_h))
        if factor < 1.0 and fmt == "JPEG":
            # decode at 1/2, 1/4 or 1/8 scale directly, never below the target size
            im.draft("RGB", (math.ceil(full_w * factor), math.ceil(full_h * factor)))
        im.load()
        orientation = _orientation(im)
        small = _shrink(im)
        if small is not im:
            im.close()  # frees the full canvas before the conversions
        rgb = _to_rgb(small)
    for step in _TRANSPOSE.get(orientation, ()):
        rgb = rgb.transpose(step)
    array = np.asarray(rgb, dtype=np.uint8)
    if orientation in (5, 6, 7, 8):
        full_w, full_h = full_h, full_w
    if max(array.shape[:2]) > MAX_SIDE:
        k = MAX_SIDE / max(array.shape[:2])
        size = (max(1, round(array.shape[1] * k)), max(1, round(array.shape[0] * k)))
        array = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
    scale = array.shape[1] / full_w
    return Decoded(np.ascontiguousarray(array), scale, (full_w, full_h))


def _shrink(im: Image.Image) -> Image.Image:
    """Downscale (area average) to MAX_SIDE before any conversion, if the image is larger.

    Every conversion after decoding copies the whole canvas, so a 40 MP image converted
    at full size needs several times its 160 MB (a 300 KB PNG cost 850 MB); shrunk first,
    the copies are small. Palettes are expanded first (averaging indices is meaningless);
    Pillow averages alpha images premultiplied.
    """
    width, height = im.size
    if max(width, height) <= MAX_SIDE:
        return im
    k = MAX_SIDE / max(width, height)
    size = (max(1, round(width * k)), max(1, round(height * k)))
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode == "1":
        im = im.convert("L")
    return im.resize(size, Image.Resampling.BOX)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation, or 1 when absent, unreadable or out of range."""
    try:
        value = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF must not make a good image unreadable
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; alpha is composited over white."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_grey_to_rgb(im)
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "RGB":
        return im
    return im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX ...


def _high_depth_grey_to_rgb(im: Image.Image) -> Image.Image:
    """16-bit / 32-bit grey -> 8-bit RGB, scaled by the type's range (not clipped)."""
    values = np.asarray(im)
    if im.mode.startswith("I;16"):
        scaled = values.astype(np.float32) / 257.0
    elif im.mode == "I":
        top = float(values.max()) if values.size else 0.0
        scaled = values.astype(np.float32) * (255.0 / 65535.0 if top > 255 else 1.0)
    else:  # "F": assume 0..1 if it fits, else 0..255
        top = float(np.nanmax(values)) if values.size else 0.0
        scaled = np.nan_to_num(values, nan=0.0) * (255.0 if top <= 1.0 else 1.0)
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))


def check_array(image: np.ndarray) -> np.ndarray:
    """Validate an in-memory image: RGB uint8 (H, W, 3) within the same size limits.

    Grey (H, W) and RGBA (H, W, 4) arrays are accepted and converted.
    """
    if not isinstance(image, np.ndarray):
        raise InvalidImage("The image must be bytes or a numpy array.")
    if image.dtype != np.uint8:
        raise InvalidImage(f"Image arrays must be uint8, not {image.dtype}.")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InvalidImage(f"Image arrays must be (H, W, 3) RGB; got shape {image.shape}.")
    if image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255.0
        image = np.rint(image[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    height, width = image.shape[:2]
    if width > MAX_SIDE or height > MAX_SIDE:
        raise InvalidImageSize(f"Image arrays may be at most {MAX_SIDE} px on a side.")
    _check_min(width, height, "The image")
    return np.ascontiguousarray(image)
