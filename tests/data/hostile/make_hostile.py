"""The hostile corpus: every file, how it is made, and what FaceGate must answer to it.

``python -m tests.data.hostile.make_hostile`` writes the small files into
``tests/data/hostile/files/`` and ``manifest.json`` (name, sha256, content type,
expected HTTP status and code, expected blob result). Files larger than
``COMMIT_LIMIT`` are not written: the tests build them at run time with
``build(name)``. ``--check`` verifies the committed files against the manifest.

Everything is generated: from nothing, or from the public-domain astronaut portrait
(tests/data/photos, see PROVENANCE.md) reduced to 256 px.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from tests.data import make_photos as photos
from tests.data.hostile import formats as f

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
MANIFEST = HERE / "manifest.json"
COMMIT_LIMIT = 128 * 1024
MAX_IMAGE_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    build: Callable[[], bytes]
    http: tuple[int, str | None]  # expected status, error code (None on success)
    blob: tuple[str, str | None]  # expected result status, error code
    faces: int | None = None  # expected number of faces on success
    content_type: str = "application/octet-stream"


@cache
def portrait() -> np.ndarray:
    """The astronaut at 256 px: one detectable face, small files."""
    return np.asarray(Image.fromarray(photos.astronaut()).resize((256, 256), Image.LANCZOS))


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def jpeg_face(**options: object) -> bytes:
    return _save(Image.fromarray(portrait()), "JPEG", quality=85, **options)


def png_face_16bit_rgba() -> bytes:
    """RGBA, 16 bits per channel, opaque: rows of big-endian samples."""
    rgb = portrait().astype(np.uint16) * 257
    alpha = np.full((*rgb.shape[:2], 1), 65535, np.uint16)
    rows = np.concatenate([rgb, alpha], axis=2).astype(">u2").reshape(256, -1)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    import zlib

    return f.png(256, 256, depth=16, colour=6, idat=zlib.compress(raw, 9))


def with_zip(image: bytes) -> bytes:
    """A JPEG with a ZIP archive appended: both readers accept it (JPEG+ZIP polyglot)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("payload.txt", "not for the face API")
    return image + buf.getvalue()


def gif_js_polyglot() -> bytes:
    """A GIF whose header is also JavaScript: ``GIF89a/*`` opens a comment that a comment
    extension closes, followed by a script. The '/*' makes the width 10799 px."""
    width, height = struct.unpack("<H", b"/*")[0], 256
    script = b"*/=1;alert(document.domain);//"
    body = f.gif_screen(width, height) + f.gif_table(1)
    body += f.gif_extension(0xFE, script)
    body += f.gif_descriptor(0, 0, width, height) + f.gif_pixels(width, height, 1)
    return body + b"\x3b"


def exif_case(entries: list[tuple[int, int, int, int]], **tiff: object) -> Callable[[], bytes]:
    return lambda: f.jpeg_with_exif(f.tiff_ifd(entries, **tiff), rgb=portrait())


def apng_two_frames() -> bytes:
    first = Image.fromarray(portrait())
    second = Image.fromarray(np.ascontiguousarray(portrait()[::-1]))
    return _save(first, "PNG", save_all=True, append_images=[second])


def animated_webp() -> bytes:
    first = Image.fromarray(portrait())
    second = Image.fromarray(np.full((256, 256, 3), 30, np.uint8))
    return _save(first, "WEBP", save_all=True, append_images=[second], quality=80)


def oversized() -> bytes:
    """Just over 6 MB: JPEG magic, then noise (never decoded)."""
    rng = np.random.default_rng(7)
    return b"\xff\xd8\xff" + rng.integers(0, 256, MAX_IMAGE_BYTES, np.uint8).tobytes()


def _bad(code: str) -> tuple[tuple[int, str], tuple[str, str]]:
    return (400, code), ("failed", code)


BAD_IMAGE = _bad("InvalidImage")
BAD_SIZE = _bad("InvalidImageSize")
FACE = {"http": (200, None), "blob": ("succeeded", None), "faces": 1}
NO_FACE = {"http": (200, None), "blob": ("succeeded", None), "faces": 0}


def _cases() -> list[Case]:
    cases = [
        # sizes
        Case("zero-bytes.bin", "0 bytes", lambda: b"", (400, "BadArgument"),
             ("failed", "InvalidImageSize")),
        Case("one-byte.jpg", "one byte", lambda: b"\xff", *BAD_IMAGE),
        Case("png-1x1.png", "a 1x1 PNG", lambda: f.png(1, 1), *BAD_SIZE),
        Case("png-35x35.png", "just under the 36 px minimum", lambda: f.png(35, 35), *BAD_SIZE),
        Case("png-36x36.png", "exactly the minimum", lambda: f.png(36, 36), **NO_FACE),
        Case("png-20000x1.png", "20000x1 (a side over 16384)", lambda: f.png(20000, 1),
             *BAD_SIZE),
        Case("gif-20000x1.gif", "20000x1 GIF", lambda: f.gif(20000, 1), *BAD_SIZE),
        Case("jpeg-20000x1.jpg", "a JPEG whose SOF declares 20000x1",
             lambda: f.jpeg_with_size(20000, 1), *BAD_SIZE),
        Case("oversized.jpg", "6 MB + 3 bytes", oversized, (413, "PayloadTooLarge"),
             ("failed", "InvalidImageSize")),
        # decompression bombs
        Case("png-bomb-header.png", "IHDR 60000x60000, no pixels", lambda: f.png(60000, 60000,
             idat=b""), *BAD_SIZE),
        Case("png-bomb-256mp.png", "16000x16000 of zeros deflated (256 MP, ~250 KB)",
             lambda: f.png_bomb(16000, 16000), *BAD_SIZE),
        Case("png-bomb-ihdr-twice.png", "a second IHDR of 10000x10000 before IDAT",
             lambda: f.png(48, 40, before_idat=(f.png_chunk(b"IHDR", f.png_ihdr(10000, 10000)),)),
             *BAD_SIZE),
        Case("png-bomb-ztxt.png", "a zTXt chunk that inflates to 8 MB", lambda: f.png(
             48, 40, before_idat=(f.png_chunk(b"zTXt", b"c\0\0" + f.zero_bomb(8 << 20)),)),
             *BAD_IMAGE),
        Case("png-40mp-within-limits.png", "16384x2441 of zeros: allowed, analysed at 4096 px",
             lambda: f.png_bomb(16384, 2441), **NO_FACE),
        Case("gif-bomb-screen.gif", "logical screen 65535x65535",
             lambda: f.gif_screen(65535, 65535) + f.gif_table(1) + b"\x3b", *BAD_SIZE),
        Case("gif-bomb-frame.gif", "48x40 screen, first frame 10000x10000",
             lambda: f.gif(48, 40, ((0, 0, 10000, 10000),)), *BAD_SIZE),
        Case("jpeg-bomb-second-sof.jpg", "a second SOF of 10000x10000 before the scan",
             lambda: f.jpeg([*f.jpeg_seed()[0], (0xC0, f.sof_payload(
                 10000, 10000, dict(f.jpeg_seed()[0])[0xC0]))], f.jpeg_seed()[1]), *BAD_SIZE),
        Case("webp-bomb-canvas.webp", "VP8X canvas 16777216x16777216", lambda: f.webp(
             f.riff_chunk(b"VP8X", f.vp8x(1 << 24, 1 << 24)) + f.riff_chunk(b"VP8L", f.vp8l(
                 48, 40))), *BAD_SIZE),
        Case("bmp-negative-width.bmp", "width -48 (read as 4294967248)", lambda: f.bmp(-48, 40),
             *BAD_SIZE),
        # truncated and corrupt
        Case("jpeg-truncated.jpg", "a face JPEG cut in half", lambda: jpeg_face()[
             : len(jpeg_face()) // 2], *BAD_IMAGE),
        Case("png-truncated.png", "a PNG cut inside IDAT", lambda: f.png(256, 256)[:-40],
             *BAD_IMAGE),
        Case("png-bad-crc.png", "IHDR with a wrong CRC", lambda: f.PNG_SIGNATURE + f.png_chunk(
             b"IHDR", f.png_ihdr(48, 40), crc_ok=False) + f.png(48, 40)[33:], *BAD_IMAGE),
        Case("gif-no-frames.gif", "a GIF with a screen and no image", lambda: f.gif_screen(
             48, 40) + f.gif_table(1) + b"\x3b", *BAD_IMAGE),
        Case("bmp-bogus-header.bmp", "DIB header size 77", lambda: f.bmp(48, 40, header_size=77),
             *BAD_IMAGE),
        # polyglots and wrong content types
        Case("polyglot-jpeg-zip.jpg", "a face JPEG with a ZIP archive appended",
             lambda: with_zip(jpeg_face()), **FACE, content_type="application/zip"),
        Case("polyglot-gif-js.gif", "GIF89a/* ... */=alert(): a GIF that is also a script",
             gif_js_polyglot, **NO_FACE, content_type="application/javascript"),
        Case("html-as-png.png", "HTML sent as image/png", lambda: b"<html><script>alert(1)"
             b"</script></html>", *BAD_IMAGE, content_type="image/png"),
        Case("svg.svg", "SVG (not supported)", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"'
             b' width="64" height="64"/>', *BAD_IMAGE, content_type="image/svg+xml"),
        Case("pdf.pdf", "a PDF header", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", *BAD_IMAGE,
             content_type="application/pdf"),
        Case("tiff.tif", "the portrait as TIFF (not supported)", lambda: _save(Image.fromarray(
             portrait()), "TIFF"), *BAD_IMAGE, content_type="image/tiff"),
        Case("png-as-text-html.png", "a face PNG sent as text/html", lambda: _save(
             Image.fromarray(portrait()), "PNG"), **FACE, content_type="text/html"),
        # modes and animation
        Case("jpeg-cmyk.jpg", "CMYK JPEG (Adobe APP14)", lambda: _save(Image.fromarray(
             portrait()).convert("CMYK"), "JPEG", quality=90), **FACE),
        Case("png-16bit-grey.png", "16-bit greyscale PNG", lambda: photos.sixteen_bit_png(
             portrait()), **FACE),
        Case("png-16bit-rgba.png", "16-bit RGBA PNG", png_face_16bit_rgba, **FACE),
        Case("png-1bit.png", "1-bit black and white", lambda: _save(Image.fromarray(
             portrait()).convert("1"), "PNG"), http=(200, None), blob=("succeeded", None)),
        Case("gif-animated.gif", "animated GIF: the portrait, then a flipped one",
             lambda: photos.animated_gif(portrait(), np.ascontiguousarray(portrait()[::-1])),
             **FACE),
        Case("png-animated.png", "APNG with two frames", apng_two_frames, **FACE),
        Case("webp-animated.webp", "animated WebP: the portrait, then grey", animated_webp,
             **FACE),
        # EXIF
        Case("exif-orientation-999.jpg", "EXIF orientation 999",
             exif_case([(f.ORIENTATION, 3, 1, 999)]), **FACE),
        Case("exif-orientation-as-long.jpg", "orientation stored as LONG 6, count 2**31",
             exif_case([(f.ORIENTATION, 4, 2**31, 6)]), **FACE),
        Case("exif-ifd-loop.jpg", "an Exif IFD pointer to itself", exif_case(
             [(f.EXIF_IFD, 4, 1, 8), (f.ORIENTATION, 3, 1, 1)]), **FACE),
        Case("exif-offset-beyond.jpg", "IFD offset 4 GB, entry count 65535", exif_case(
             [(f.ORIENTATION, 3, 1, 6)], ifd_offset=2**32 - 1, count_field=65535), **FACE),
        Case("exif-orientation-6.jpg", "orientation 6 with the pixels stored rotated",
             lambda: photos.with_exif_orientation(portrait(), 6), **FACE),
    ]  # fmt: skip
    return cases


CASES: dict[str, Case] = {case.name: case for case in _cases()}


def build(name: str) -> bytes:
    """The bytes of one case: from files/ when committed, else generated."""
    path = FILES / name
    if path.exists():
        return path.read_bytes()
    return CASES[name].build()


def manifest_entry(case: Case, data: bytes) -> dict:
    return {
        "name": case.name,
        "what": case.what,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "committed": len(data) <= COMMIT_LIMIT,
        "contentType": case.content_type,
        "http": {"status": case.http[0], "code": case.http[1]},
        "blob": {"status": case.blob[0], "code": case.blob[1]},
        "faces": case.faces,
    }


def write() -> list[dict]:
    FILES.mkdir(exist_ok=True)
    entries = []
    for case in CASES.values():
        data = case.build()
        entry = manifest_entry(case, data)
        path = FILES / case.name
        if entry["committed"]:
            path.write_bytes(data)
        else:
            path.unlink(missing_ok=True)
        entries.append(entry)
    MANIFEST.write_text(json.dumps(entries, indent=1) + "\n")
    return entries


def check() -> list[str]:
    """Problems with the committed corpus (empty when the files match the manifest)."""
    problems = []
    entries = {e["name"]: e for e in json.loads(MANIFEST.read_text())}
    if set(entries) != set(CASES):
        problems.append(f"manifest and cases differ: {sorted(set(entries) ^ set(CASES))}")
    for name, entry in entries.items():
        path = FILES / name
        if entry["committed"]:
            if not path.exists():
                problems.append(f"{name}: missing")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                problems.append(f"{name}: sha256 differs from the manifest")
        elif path.exists():
            problems.append(f"{name}: too large to commit, but present")
    return problems


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        problems = check()
        print("\n".join(problems) or "corpus matches the manifest")
        return 1 if problems else 0
    entries = write()
    kept = [e for e in entries if e["committed"]]
    print(
        f"wrote {len(kept)} files ({sum(e['bytes'] for e in kept) / 1024:.0f} KB) and "
        f"manifest.json; {len(entries) - len(kept)} large cases are built at test time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
