"""Structure-aware hostile images for Hypothesis: valid containers, hostile fields.

Each strategy draws a file field by field (``tests/data/hostile/formats.py``), with
sizes biased to the limits (0, 1, 35/36, 4096, 16384, 2**16-1, 2**31, 2**32-1), chunks
and segments that lie about their length, repeated or missing headers, hostile EXIF,
animation frames larger than their canvas, truncation and trailing junk. It returns
the bytes and the size the header declares (what a header-only check must see), so a
test can assert that a bomb is refused before any decoder runs.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.data.hostile import formats as f

# (colour type, bit depth) pairs the PNG specification allows
PNG_MODES = [(0, d) for d in (1, 2, 4, 8, 16)] + [(2, 8), (2, 16), (4, 8), (4, 16), (6, 8), (6, 16)]
PNG_MODES += [(3, d) for d in (1, 2, 4, 8)]
EDGE_SIDES = (0, 1, 2, 35, 36, 37, 48, 255, 256, 4095, 4096, 4097, 16383, 16384, 16385)
BIG_SIDES = (40_000, 65_535, 65_536, 2**24 - 1, 2**31 - 1, 2**31, 2**32 - 1)


@dataclass(frozen=True)
class Sample:
    data: bytes
    declared: tuple[int, int] | None  # what the header says; None when it says nothing usable
    format: str


def sides(bits: int, seed: int | None = None) -> st.SearchStrategy[int]:
    """A side length that fits ``bits`` bits: often small and valid (``seed``, the size a
    real bitstream was encoded at, when given), otherwise at the limits or anywhere."""
    top = (1 << bits) - 1
    valid = st.just(seed) if seed is not None else st.integers(36, 96)
    return st.one_of(
        valid,
        valid,
        valid,
        st.sampled_from([s for s in (*EDGE_SIDES, *BIG_SIDES) if s <= top]),
        st.integers(0, top),
    )


@st.composite
def _finish(
    draw: st.DrawFn, data: bytes, header_end: int, declared: tuple[int, int] | None, fmt: str
) -> Sample:
    """Sometimes overwrite bytes past the header, cut the file short, or add junk (a ZIP
    header, a script) after its end. A cut inside the header voids ``declared``."""
    out = bytearray(data)
    if len(out) > header_end and draw(st.integers(0, 3)) == 0:
        for _ in range(draw(st.integers(1, 4))):
            out[draw(st.integers(header_end, len(out) - 1))] = draw(st.integers(0, 255))
    how = draw(st.sampled_from(["whole"] * 6 + ["cut", "trailer"]))
    if how == "cut" and len(out) > 1:
        cut = draw(st.integers(1, len(out) - 1))
        del out[cut:]
        if cut < header_end:
            declared = None
    elif how == "trailer":
        out += draw(st.sampled_from([b"PK\x03\x04" + b"\0" * 26, b"<script>x</script>"]))
    return Sample(bytes(out), declared, fmt)


# --- PNG -----------------------------------------------------------------------------------


@st.composite
def _png_ancillary(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["zTXt", "iCCP", "tEXt", "eXIf", "acTL", "fcTL", "junk", "PLTE"]))
    if kind == "zTXt":  # a text chunk that inflates to megabytes
        size = draw(st.sampled_from([10, 1 << 20, (1 << 20) + 1, 8 << 20]))
        return f.png_chunk(b"zTXt", b"Comment\0\0" + f.zero_bomb(size))
    if kind == "iCCP":
        profile = draw(st.sampled_from([f.zero_bomb(4 << 20), zlib.compress(b"junk")]))
        return f.png_chunk(b"iCCP", b"icc\0\0" + profile)
    if kind == "tEXt":
        return f.png_chunk(b"tEXt", b"k\0" + draw(st.binary(max_size=64)))
    if kind == "eXIf":
        return f.png_chunk(b"eXIf", draw(exif_tiff()))
    if kind == "acTL":  # APNG: frame and play counts
        frames, plays = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 3))
        return f.png_chunk(b"acTL", struct.pack(">II", frames, plays))
    if kind == "fcTL":  # an APNG frame larger than the image, or placed outside it
        w, h, x, y = (draw(sides(32)) for _ in range(4))
        body = struct.pack(">IIIIIHHBB", 0, w, h, x, y, 1, 10, 0, 0)
        return f.png_chunk(b"fcTL", body)
    if kind == "PLTE":
        return f.png_chunk(b"PLTE", draw(st.binary(max_size=900)))
    length = draw(st.one_of(st.none(), st.integers(0, 2**32 - 1)))
    return f.png_chunk(b"juNK", draw(st.binary(max_size=64)), length=length)


@st.composite
def png_images(draw: st.DrawFn) -> Sample:
    width, height = draw(sides(32)), draw(sides(32))
    colour, depth = draw(
        st.one_of(
            st.sampled_from(PNG_MODES),
            st.sampled_from(PNG_MODES),
            st.tuples(st.integers(0, 255), st.integers(0, 255)),
        )
    )
    interlace = draw(st.sampled_from([0, 0, 0, 0, 1, 7]))
    ihdr = f.png_chunk(
        b"IHDR",
        f.png_ihdr(width, height, depth, colour, interlace),
        crc_ok=draw(st.integers(0, 9)) > 0,
    )
    chunks = [ihdr]
    if colour == 3:
        entries = draw(st.integers(0, 300))
        chunks.append(f.png_chunk(b"PLTE", (bytes(range(256)) * 3)[: 3 * entries]))
    chunks += draw(st.lists(_png_ancillary(), max_size=2))
    small = 0 < width <= 160 and 0 < height <= 160
    if small and colour in f.PNG_CHANNELS and depth in (1, 2, 4, 8, 16):
        raw = f.png_scanlines(width, height, depth, colour, draw(st.integers(0, 255)))
        if draw(st.integers(0, 3)) == 0:
            raw = raw[: draw(st.integers(0, len(raw)))]
        idat = zlib.compress(raw)
    else:
        idat = draw(st.one_of(st.binary(max_size=256), st.just(f.zero_bomb(1 << 22))))
    cut = draw(st.integers(1, 3))
    step = max(1, len(idat) // cut)
    chunks += [f.png_chunk(b"IDAT", idat[i : i + step]) for i in range(0, len(idat), step)]
    if draw(st.integers(0, 3)) == 0:  # a second header after the data (ignored by readers)
        chunks.append(f.png_chunk(b"IHDR", f.png_ihdr(draw(sides(32)), draw(sides(32)))))
    if draw(st.integers(0, 4)):
        chunks.append(f.png_chunk(b"IEND", b""))
    data = f.PNG_SIGNATURE + b"".join(chunks)
    return draw(_finish(data, 33, (width, height), "PNG"))


# --- GIF -----------------------------------------------------------------------------------


@st.composite
def _gif_extension(draw: st.DrawFn) -> tuple[bytes, bool]:
    """An extension block, and whether its sub-block structure is well formed."""
    kind = draw(st.sampled_from(["control", "loop", "comment", "plain", "app", "bad"]))
    if kind == "control":
        transparent = draw(st.one_of(st.none(), st.integers(0, 255)))
        return f.gif_control(draw(st.integers(0, 65535)), transparent), True
    if kind == "loop":
        return f.gif_loop(draw(st.integers(0, 65535))), True
    if kind == "comment":
        return f.gif_extension(0xFE, draw(st.binary(max_size=600))), True
    if kind == "plain":
        return f.gif_extension(0x01, draw(st.binary(min_size=12, max_size=40))), True
    if kind == "app":
        return f.gif_extension(0xFF, b"XMP DataXMP" + draw(st.binary(max_size=64))), True
    return b"\x21" + draw(st.binary(max_size=16)), False  # broken sub-blocks


@st.composite
def gif_images(draw: st.DrawFn) -> Sample:
    width, height = draw(sides(16)), draw(sides(16))
    version = draw(st.sampled_from([b"GIF87a", b"GIF89a"]))
    table_bits = draw(st.one_of(st.none(), st.integers(0, 7)))
    out = bytearray(f.gif_screen(width, height, version=version, table_bits=table_bits))
    intact = True  # False once the block structure before the first frame is broken
    if table_bits is not None:
        table = f.gif_table(table_bits)
        if draw(st.integers(0, 9)) == 0:
            table = table[: draw(st.integers(0, len(table) - 1))]
            intact = False
        out += table
    declared: tuple[int, int] | None = (width, height)
    header_end = len(out)
    frames = draw(st.one_of(st.just(1), st.integers(0, 3)))
    for index in range(frames):
        extensions = draw(st.lists(_gif_extension(), max_size=2))
        if index == 0 and not all(ok for _, ok in extensions):
            intact = False  # a broken extension may swallow the descriptor
        out += b"".join(e for e, _ in extensions)
        if draw(st.booleans()):  # a frame inside the screen
            left = draw(st.integers(0, max(0, min(width, 0xFFFF) - 1)))
            top = draw(st.integers(0, max(0, min(height, 0xFFFF) - 1)))
            w = draw(st.integers(min(1, width - left), max(0, width - left)))
            h = draw(st.integers(min(1, height - top), max(0, height - top)))
        else:  # anywhere, any size: Pillow grows the canvas to hold the first frame
            left, top, w, h = (draw(sides(16)) for _ in range(4))
        local = draw(st.one_of(st.none(), st.integers(0, 7)))
        out += f.gif_descriptor(left, top, w, h, local_table_bits=local)
        if index == 0:
            declared = (max(width, left + w), max(height, top + h))
            header_end = len(out)
        if local is not None:
            out += f.gif_table(local)
        if w <= 96 and h <= 96 and draw(st.integers(0, 3)):
            pixels = f.gif_pixels(w, h, index)
            code_size = draw(st.one_of(st.just(pixels[0]), st.integers(0, 255)))
            out += bytes([code_size]) + pixels[1:]
        else:
            out += bytes([draw(st.integers(0, 12))]) + f.sub_blocks(draw(st.binary(max_size=300)))
    if draw(st.integers(0, 4)):
        out += b"\x3b"
    return draw(_finish(bytes(out), header_end, declared if intact else None, "GIF"))


# --- BMP -----------------------------------------------------------------------------------


@st.composite
def bmp_images(draw: st.DrawFn) -> Sample:
    valid_header = st.sampled_from([12, *f.BMP_INFO_SIZES])
    header = draw(
        st.one_of(valid_header, valid_header, st.integers(0, 200), st.integers(0, 2**32 - 1))
    )
    bits = 16 if header == 12 else 32
    width = draw(sides(bits))
    height = draw(sides(bits))
    if header != 12 and draw(st.booleans()):
        height = -height  # top-down
    valid_bpp = st.sampled_from([1, 4, 8, 16, 24, 32])
    bpp = draw(st.one_of(valid_bpp, valid_bpp, st.integers(0, 65535)))
    compression = draw(st.one_of(st.just(0), st.just(0), st.sampled_from([1, 2, 3, 4, 5, 6, 99])))
    colours = draw(st.one_of(st.just(0), st.just(0), st.integers(0, 300), st.integers(0, 2**32)))
    offset = draw(st.one_of(st.none(), st.none(), st.integers(0, 2**32 - 1), st.integers(0, 2000)))
    small = 0 < abs(width) * abs(height) <= 128 * 128
    pixels = None if small and compression == 0 else draw(st.binary(max_size=2048))
    data = f.bmp(
        width, height, bpp=bpp, compression=compression, header_size=header,
        colours_used=colours, pixel_offset=offset, pixels=pixels,
    )  # fmt: skip
    if header == 12:
        declared = (width & 0xFFFF, height & 0xFFFF)
    else:
        # as Pillow reads it: the width unsigned, a negative height as top-down rows
        signed_height = struct.unpack("<i", struct.pack("<I", height & 0xFFFFFFFF))[0]
        declared = (width & 0xFFFFFFFF, abs(signed_height))
    return draw(_finish(data, 26, declared, "BMP"))


# --- WebP ----------------------------------------------------------------------------------


@st.composite
def _bitstream(draw: st.DrawFn, width: int, height: int) -> bytes:
    """A VP8L or VP8 chunk declaring ``width`` x ``height``, with a real or random body."""
    if draw(st.booleans()):
        junk = b"\x2f" + draw(st.binary(min_size=4, max_size=64))
        payload = None if draw(st.integers(0, 3)) else junk
        return f.riff_chunk(b"VP8L", f.vp8l(width, height, payload))
    payload = None if draw(st.integers(0, 3)) else f.webp_seed(False)[:10] + draw(st.binary())
    return f.riff_chunk(b"VP8 ", f.vp8(width, height, payload))


@st.composite
def webp_images(draw: st.DrawFn) -> Sample:
    layout = draw(st.sampled_from(["simple", "extended", "animated"]))
    if layout == "simple":
        width, height = draw(sides(14, 48)), draw(sides(14, 40))
        body = draw(_bitstream(width, height))
        lossy = body[:4] == b"VP8 "
        declared = (width & 0x3FFF, height & 0x3FFF) if lossy else _minus_one(width, height, 14)
    else:
        width, height = draw(sides(24, 48)), draw(sides(24, 40))
        flags = draw(st.integers(0, 255)) if draw(st.integers(0, 3)) == 0 else 0
        if layout == "animated":
            flags |= 0x02
        body = f.riff_chunk(b"VP8X", f.vp8x(width, height, flags))
        declared = _minus_one(width, height, 24)
        if draw(st.integers(0, 3)) == 0:
            body += f.riff_chunk(b"ICCP", draw(st.binary(max_size=64)))
        if layout == "animated":
            body += f.riff_chunk(b"ANIM", draw(st.binary(min_size=6, max_size=6)))
            for _ in range(draw(st.integers(0, 3))):
                x, y = draw(st.sampled_from([0, 2, 4, 2**24 - 2])), draw(st.integers(0, 8))
                w, h = draw(sides(24, 48)), draw(sides(24, 40))
                inner = draw(_bitstream(min(w, 0x3FFF), min(h, 0x3FFF)))
                body += f.riff_chunk(b"ANMF", f.anmf(x, y, w, h, inner))
        else:
            if draw(st.integers(0, 3)) == 0:
                body += f.riff_chunk(b"ALPH", draw(st.binary(max_size=64)))
            body += draw(_bitstream(draw(sides(14, 48)), draw(sides(14, 40))))
        if draw(st.integers(0, 3)) == 0:
            body += f.riff_chunk(b"EXIF", draw(exif_tiff()))
    if draw(st.integers(0, 5)) == 0:  # a chunk that lies about its size
        body = body[:4] + struct.pack("<I", draw(st.integers(0, 2**32 - 1))) + body[8:]
    riff = draw(st.one_of(st.none(), st.none(), st.none(), st.integers(0, 2**32 - 1)))
    data = f.webp(body, riff_size=riff)
    return draw(_finish(data, 30, declared, "WEBP"))


def _minus_one(width: int, height: int, bits: int) -> tuple[int, int]:
    mask = (1 << bits) - 1
    return ((width - 1) & mask) + 1, ((height - 1) & mask) + 1


# --- JPEG ----------------------------------------------------------------------------------


@st.composite
def exif_tiff(draw: st.DrawFn) -> bytes:
    """A TIFF/EXIF block with a hostile orientation, counts, offsets and IFD loops."""
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        tag = draw(st.sampled_from([f.ORIENTATION, f.ORIENTATION, f.EXIF_IFD, 0x8825, 0x010F]))
        kind = draw(st.one_of(st.sampled_from([3, 4]), st.integers(0, 20)))
        count = draw(st.one_of(st.just(1), st.integers(0, 2**32 - 1)))
        value = draw(st.one_of(st.integers(0, 9), st.sampled_from([999, 65535]), st.integers()))
        entries.append((tag, kind, count, value))
    return f.tiff_ifd(
        entries,
        little=draw(st.booleans()),
        ifd_offset=draw(st.one_of(st.just(8), st.integers(0, 2**32 - 1))),
        count_field=draw(st.one_of(st.none(), st.integers(0, 65535))),
        magic=draw(st.sampled_from([42, 42, 43, 0])),
    )


@st.composite
def jpeg_images(draw: st.DrawFn) -> Sample:
    segments, scan = f.jpeg_seed(draw(st.sampled_from(["baseline", "progressive", "grey", "cmyk"])))
    out: list[f.Segment] = []
    declared: tuple[int, int] | None = None
    for marker, payload in segments:
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            width, height = draw(sides(16, 48)), draw(sides(16, 40))
            payload = f.sof_payload(width, height, payload)
            if draw(st.integers(0, 3)) == 0:  # precision, components, sampling factors
                mutable = bytearray(payload)
                mutable[draw(st.sampled_from([0, 5, 7, 8]))] = draw(st.integers(0, 255))
                payload = bytes(mutable)
            declared = (width, height)
            out.append((marker, payload))
            if draw(st.integers(0, 3)) == 0:  # a second frame header before the scan
                w2, h2 = draw(sides(16)), draw(sides(16))
                out.append((marker, f.sof_payload(w2, h2, payload)))
                declared = (max(width, w2), max(height, h2))
            continue
        if marker in (0xC4, 0xDB) and draw(st.integers(0, 7)) == 0:
            payload = draw(st.binary(max_size=80))
        out.append((marker, payload))
    for _ in range(draw(st.integers(0, 2))):  # extra segments anywhere before the scan
        extra = draw(
            st.one_of(
                exif_tiff().map(f.exif_app1),
                st.tuples(st.sampled_from([0xDD, 0xFE, 0xE2, 0xEE]), st.binary(max_size=40)),
            )
        )
        out.insert(draw(st.integers(0, len(out))), extra)
    data = f.jpeg(out, scan)
    header_end = len(data) - len(scan) + 2  # up to and with the SOS marker
    if draw(st.integers(0, 6)) == 0:  # a length field that lies
        pos = 4 + draw(st.integers(0, max(0, len(data) - 6)))
        data = data[:pos] + struct.pack(">H", draw(st.integers(0, 65535))) + data[pos + 2 :]
        declared = None
    return draw(_finish(data, header_end, declared, "JPEG"))


ALL_FORMATS = {
    "PNG": png_images(),
    "GIF": gif_images(),
    "BMP": bmp_images(),
    "WEBP": webp_images(),
    "JPEG": jpeg_images(),
}
