"""Byte-level builders for the five image formats the decoder accepts.

They write containers field by field, so a caller can put any value in any
field (a 60000 px width, a chunk that lies about its length, a second SOF, an
EXIF IFD that points at itself) and still get a file whose structure is valid
around the hostile field. Used by the hostile corpus (``make_hostile.py``) and
by the structure-aware fuzzers in ``tests/hardening``. Pure: no hypothesis.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache, lru_cache

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type -> channels
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

# --- PNG -----------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes, *, crc_ok: bool = True, length: int | None = None) -> bytes:
    """One chunk; ``length`` overrides the length field (a chunk that lies about its size)."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    if not crc_ok:
        crc ^= 0x5A5A5A5A
    size = len(data) if length is None else length & 0xFFFFFFFF
    return struct.pack(">I", size) + kind + data + struct.pack(">I", crc)


def png_ihdr(width: int, height: int, depth: int = 8, colour: int = 2, interlace: int = 0) -> bytes:
    return struct.pack(
        ">IIBBBBB", width & 0xFFFFFFFF, height & 0xFFFFFFFF, depth, colour, 0, 0, interlace
    )


def png_row_bytes(width: int, depth: int, colour: int) -> int:
    return (width * PNG_CHANNELS.get(colour, 1) * depth + 7) // 8


def png_scanlines(width: int, height: int, depth: int, colour: int, fill: int = 0) -> bytes:
    """Raw (uncompressed) image data: filter byte 0 and ``fill`` bytes on every row."""
    size = png_row_bytes(width, depth, colour)
    if (size + 1) * height > 1 << 30:
        raise ValueError(f"{width}x{height} raw scanlines would take over 1 GB; deflate them")
    row = b"\0" + bytes([fill]) * size
    return row * height


def png(
    width: int,
    height: int,
    *,
    depth: int = 8,
    colour: int = 2,
    idat: bytes | None = None,
    before_idat: tuple[bytes, ...] = (),
    after_idat: tuple[bytes, ...] = (),
    iend: bool = True,
) -> bytes:
    """A PNG with zero pixels (compressed) unless ``idat`` (already compressed) is given."""
    if idat is None:
        idat = zlib.compress(png_scanlines(width, height, depth, colour), 9)
    plte = ()
    if colour == 3 and not any(c[4:8] == b"PLTE" for c in before_idat):
        plte = (png_chunk(b"PLTE", bytes(range(48))),)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", png_ihdr(width, height, depth, colour))
        + b"".join((*plte, *before_idat))
        + png_chunk(b"IDAT", idat)
        + b"".join(after_idat)
        + (png_chunk(b"IEND", b"") if iend else b"")
    )


@cache
def zero_bomb(size: int) -> bytes:
    """``size`` zero bytes, deflated (about 1000:1)."""
    compressor = zlib.compressobj(9)
    block = b"\0" * (1 << 20)
    out = []
    left = size
    while left > 0:
        out.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    out.append(compressor.flush())
    return b"".join(out)


def png_bomb(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """A real decompression bomb: every pixel present, all zero, so it deflates ~1000:1."""
    rows = height * (1 + png_row_bytes(width, depth, colour))
    return png(width, height, depth=depth, colour=colour, idat=zero_bomb(rows))


# --- GIF -----------------------------------------------------------------------------------


def gif_screen(
    width: int,
    height: int,
    *,
    version: bytes = b"GIF89a",
    table_bits: int | None = 1,
    background: int = 0,
) -> bytes:
    """Header and logical screen descriptor; the global table (``gif_table``) must follow
    when ``table_bits`` is not None."""
    flags = 0x70
    if table_bits is not None:
        flags |= 0x80 | (table_bits & 7)
    return version + struct.pack("<HHBBB", width & 0xFFFF, height & 0xFFFF, flags, background, 0)


def gif_table(table_bits: int) -> bytes:
    table = (bytes(range(256)) * 3)[: 3 * 2 ** ((table_bits & 7) + 1)]
    return table


def sub_blocks(data: bytes) -> bytes:
    """Data as GIF sub-blocks (at most 255 bytes each) and the terminator."""
    out = bytearray()
    for start in range(0, len(data), 255):
        piece = data[start : start + 255]
        out += bytes([len(piece)]) + piece
    return bytes(out) + b"\0"


def gif_extension(label: int, data: bytes) -> bytes:
    return b"\x21" + bytes([label & 0xFF]) + sub_blocks(data)


def gif_control(delay: int = 10, transparent: int | None = None) -> bytes:
    flags = 1 if transparent is not None else 0
    body = struct.pack("<BHB", flags, delay & 0xFFFF, (transparent or 0) & 0xFF)
    return b"\x21\xf9\x04" + body + b"\0"


def gif_loop(count: int = 0) -> bytes:
    return b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", count & 0xFFFF) + b"\0"


def gif_descriptor(
    left: int, top: int, width: int, height: int, *, local_table_bits: int | None = None
) -> bytes:
    flags = 0
    if local_table_bits is not None:
        flags = 0x80 | (local_table_bits & 7)
    return b"\x2c" + struct.pack(
        "<HHHHB", left & 0xFFFF, top & 0xFFFF, width & 0xFFFF, height & 0xFFFF, flags
    )


@lru_cache(maxsize=1024)
def gif_pixels(width: int, height: int, shade: int = 0) -> bytes:
    """Valid LZW image data (code size byte + sub-blocks) for a ``width`` x ``height`` frame."""
    image = Image.new("P", (max(1, width), max(1, height)), shade % 4)
    image.putpalette(bytes(range(12)))
    buf = io.BytesIO()
    image.save(buf, "GIF")
    data = buf.getvalue()
    pos = data.index(b"\x2c", 13)
    while True:  # skip extensions Pillow may have written before the descriptor
        if data[pos] == 0x2C:
            break
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    pos += 10
    if data[pos - 1] & 0x80:
        pos += 3 * 2 ** ((data[pos - 1] & 7) + 1)
    end = pos + 1
    while data[end]:
        end += data[end] + 1
    return data[pos : end + 1]


def gif(
    width: int,
    height: int,
    frames: tuple[tuple[int, int, int, int], ...] | None = None,
    *,
    trailer: bool = True,
    extensions: bytes = b"",
) -> bytes:
    """A GIF with a logical screen of ``width`` x ``height`` and the given frames
    (left, top, width, height); one full-screen frame by default."""
    if frames is None:
        frames = ((0, 0, width, height),)
    out = bytearray(gif_screen(width, height) + gif_table(1) + extensions)
    for i, (left, top, w, h) in enumerate(frames):
        out += gif_control(10)
        out += gif_descriptor(left, top, w, h)
        small = w * h <= 512 * 512
        out += gif_pixels(w, h, i) if small else b"\x02" + sub_blocks(b"\x00" * 32)
    if trailer:
        out += b"\x3b"
    return bytes(out)


# --- BMP -----------------------------------------------------------------------------------

BMP_INFO_SIZES = (40, 52, 56, 64, 108, 124)


def bmp(
    width: int,
    height: int,
    *,
    bpp: int = 24,
    compression: int = 0,
    header_size: int = 40,
    colours_used: int = 0,
    pixel_offset: int | None = None,
    palette: bytes | None = None,
    pixels: bytes | None = None,
) -> bytes:
    """A Windows BMP; width/height are signed (negative height: top-down rows)."""
    if header_size == 12:
        dib = struct.pack("<IHHHH", 12, width & 0xFFFF, height & 0xFFFF, 1, bpp & 0xFFFF)
    else:
        dib = struct.pack(
            "<IiiHHIIiiII",
            header_size & 0xFFFFFFFF,
            _i32(width),
            _i32(height),
            1,
            bpp & 0xFFFF,
            compression & 0xFFFFFFFF,
            0,
            2835,
            2835,
            colours_used & 0xFFFFFFFF,
            0,
        )
        if header_size > 40:
            masks = struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000)
            dib += (masks + b"\0" * 256)[: min(header_size, 124) - 40]
    if palette is None:
        palette = b""
        if 0 < bpp <= 8:
            entries = colours_used if 0 < colours_used <= 256 else 2**bpp
            palette = bytes(range(256)) * 4
            palette = palette[: 4 * entries]
    if pixels is None:
        row = ((abs(width) * bpp + 31) // 32) * 4 if 0 < abs(width) < 1 << 16 else 4
        rows = abs(height) if 0 < abs(height) < 1 << 16 else 1
        pixels = b"\x80" * min(row * rows, 1 << 22)
    offset = 14 + len(dib) + len(palette) if pixel_offset is None else pixel_offset
    total = 14 + len(dib) + len(palette) + len(pixels)
    return (
        b"BM"
        + struct.pack("<IHHI", total & 0xFFFFFFFF, 0, 0, offset & 0xFFFFFFFF)
        + dib
        + palette
        + pixels
    )


def _i32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


# --- WebP ----------------------------------------------------------------------------------


def riff_chunk(kind: bytes, data: bytes, *, length: int | None = None) -> bytes:
    size = len(data) if length is None else length & 0xFFFFFFFF
    return kind + struct.pack("<I", size) + data + (b"\0" if len(data) % 2 else b"")


def webp(chunks: bytes, *, riff_size: int | None = None) -> bytes:
    size = 4 + len(chunks) if riff_size is None else riff_size & 0xFFFFFFFF
    return b"RIFF" + struct.pack("<I", size) + b"WEBP" + chunks


@cache
def webp_seed(lossless: bool) -> bytes:
    """The payload of the VP8L (lossless) or VP8 (lossy) chunk of a real 48x40 WebP."""
    rgb = np.zeros((40, 48, 3), np.uint8)
    rgb[10:30, 12:36] = (200, 120, 40)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "WEBP", lossless=lossless, quality=80)
    data = buf.getvalue()
    size = struct.unpack("<I", data[16:20])[0]
    return data[20 : 20 + size]


def vp8l(width: int, height: int, payload: bytes | None = None) -> bytes:
    """A VP8L chunk payload declaring ``width`` x ``height`` (14 bits each, stored minus one)."""
    body = bytearray(payload if payload is not None else webp_seed(True))
    bits = int.from_bytes(body[1:5], "little")
    bits &= ~((1 << 28) - 1)
    bits |= ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
    body[1:5] = bits.to_bytes(4, "little")
    return bytes(body)


def vp8(width: int, height: int, payload: bytes | None = None) -> bytes:
    """A VP8 key frame payload declaring ``width`` x ``height`` (14 bits + 2 scale bits)."""
    body = bytearray(payload if payload is not None else webp_seed(False))
    body[6:10] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
    return bytes(body)


def vp8x(width: int, height: int, flags: int = 0) -> bytes:
    """A VP8X chunk payload: canvas of ``width`` x ``height`` (24 bits each, minus one)."""
    return (
        bytes([flags & 0xFF, 0, 0, 0])
        + ((width - 1) & 0xFFFFFF).to_bytes(3, "little")
        + ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
    )


def anmf(x: int, y: int, width: int, height: int, frame: bytes, duration: int = 100) -> bytes:
    """An ANMF (animation frame) payload wrapping a VP8/VP8L chunk."""
    return (
        ((x // 2) & 0xFFFFFF).to_bytes(3, "little")
        + ((y // 2) & 0xFFFFFF).to_bytes(3, "little")
        + ((width - 1) & 0xFFFFFF).to_bytes(3, "little")
        + ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
        + (duration & 0xFFFFFF).to_bytes(3, "little")
        + b"\0"
        + frame
    )


# --- JPEG ----------------------------------------------------------------------------------

Segment = tuple[int, bytes]  # (marker, payload without the length field)


def jpeg_segment(marker: int, payload: bytes, *, length: int | None = None) -> bytes:
    size = len(payload) + 2 if length is None else length & 0xFFFF
    return bytes([0xFF, marker & 0xFF]) + struct.pack(">H", size) + payload


@cache
def jpeg_seed(kind: str = "baseline") -> tuple[tuple[Segment, ...], bytes]:
    """(segments before the scan, SOS segment + entropy data + EOI) of a real small JPEG.

    ``kind``: baseline (48x40 RGB), progressive, grey, cmyk.
    """
    rgb = np.zeros((40, 48, 3), np.uint8)
    rgb[8:32, 10:38] = (180, 90, 30)
    image = Image.fromarray(rgb)
    options: dict[str, object] = {"quality": 85}
    if kind == "progressive":
        options["progressive"] = True
    elif kind == "grey":
        image = image.convert("L")
    elif kind == "cmyk":
        image = image.convert("CMYK")
    buf = io.BytesIO()
    image.save(buf, "JPEG", **options)
    return split_jpeg(buf.getvalue())


def split_jpeg(data: bytes) -> tuple[tuple[Segment, ...], bytes]:
    segments: list[Segment] = []
    pos = 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == 0xDA:
            return tuple(segments), data[pos:]
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    raise ValueError("no scan in this JPEG")


def sof_payload(width: int, height: int, template: bytes) -> bytes:
    """An SOFn payload like ``template`` but declaring ``width`` x ``height``."""
    return template[:1] + struct.pack(">HH", height & 0xFFFF, width & 0xFFFF) + template[5:]


def jpeg(segments: tuple[Segment, ...] | list[Segment], scan: bytes) -> bytes:
    return b"\xff\xd8" + b"".join(jpeg_segment(m, p) for m, p in segments) + scan


def jpeg_with_size(width: int, height: int, kind: str = "baseline") -> bytes:
    """A real small JPEG whose SOF now declares ``width`` x ``height``."""
    segments, scan = jpeg_seed(kind)
    patched = [(m, sof_payload(width, height, p) if 0xC0 <= m <= 0xC3 else p) for m, p in segments]
    return jpeg(patched, scan)


# --- EXIF ----------------------------------------------------------------------------------

ORIENTATION = 0x0112
EXIF_IFD = 0x8769


def tiff_ifd(
    entries: list[tuple[int, int, int, int]],
    *,
    little: bool = True,
    ifd_offset: int = 8,
    count_field: int | None = None,
    magic: int = 42,
) -> bytes:
    """A TIFF header plus one IFD; entries are (tag, type, count, value) with inline values."""
    order = "<" if little else ">"
    head = (b"II" if little else b"MM") + struct.pack(order + "HI", magic, ifd_offset & 0xFFFFFFFF)
    count = len(entries) if count_field is None else count_field
    body = struct.pack(order + "H", count & 0xFFFF)
    for tag, kind, n, value in entries:
        if kind == 3 and n == 1:  # SHORT, left-justified in the 4-byte value field
            raw = struct.pack(order + "HH", value & 0xFFFF, 0)
        else:
            raw = struct.pack(order + "I", value & 0xFFFFFFFF)
        body += struct.pack(order + "HHI", tag & 0xFFFF, kind & 0xFFFF, n & 0xFFFFFFFF) + raw
    body += struct.pack(order + "I", 0)
    padding = b"\0" * max(0, ifd_offset - 8) if 8 <= ifd_offset <= 64 else b""
    return head + padding + body


def exif_app1(tiff: bytes) -> Segment:
    return (0xE1, b"Exif\0\0" + tiff)


def jpeg_with_exif(tiff: bytes, kind: str = "baseline", rgb: np.ndarray | None = None) -> bytes:
    """A JPEG (the seed, or ``rgb`` encoded) with an APP1 EXIF segment holding ``tiff``."""
    if rgb is None:
        segments, scan = jpeg_seed(kind)
    else:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=90)
        segments, scan = split_jpeg(buf.getvalue())
    return jpeg([segments[0], exif_app1(tiff), *segments[1:]], scan)
