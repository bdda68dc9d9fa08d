"""The decoder is a security boundary: every input yields an RGB array or one of our errors."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from shared.errors import InvalidImage, InvalidImageSize
from shared.vision.imageio import MAX_BYTES, check_array, decode, decode_image
from tests.data import make_photos


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return make_photos.astronaut()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge canvas (a decompression bomb's header) and no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "GIF", "WEBP"])
def test_supported_formats_decode_to_rgb(astronaut: np.ndarray, fmt: str) -> None:
    rgb = decode_image(make_photos.encode(astronaut, fmt))
    assert rgb.shape == (512, 512, 3)
    assert rgb.dtype == np.uint8
    assert rgb.flags["C_CONTIGUOUS"]


def test_png_is_lossless_and_rgb_ordered(astronaut: np.ndarray) -> None:
    rgb = decode_image(make_photos.ASTRONAUT.read_bytes())
    assert np.array_equal(rgb, astronaut)
    # the astronaut's suit patch / flag region is strongly red somewhere: check channel order
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    assert decode_image(make_photos.encode(red, "PNG"))[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(astronaut: np.ndarray, orientation: int) -> None:
    wide = np.ascontiguousarray(astronaut[:300])  # 512 wide x 300 tall
    rgb = decode_image(make_photos.with_exif_orientation(wide, orientation))
    assert rgb.shape == wide.shape
    assert np.abs(rgb.astype(int) - wide.astype(int)).mean() < 6  # JPEG noise only


def test_absurd_exif_orientation_is_ignored(astronaut: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 999
    data = make_photos.encode(astronaut[:300], "JPEG", exif=exif.tobytes())
    assert decode_image(data).shape == (300, 512, 3)


def test_grey_and_alpha_modes(astronaut: np.ndarray) -> None:
    pil = Image.fromarray(astronaut)
    for mode in ("L", "LA", "RGBA", "P", "1"):
        buf = io.BytesIO()
        pil.convert(mode).save(buf, "PNG")
        rgb = decode_image(buf.getvalue())
        assert rgb.shape == (512, 512, 3), mode
        if mode in ("L", "LA", "1"):
            assert np.array_equal(rgb[..., 0], rgb[..., 2]), mode


def test_transparent_pixels_become_white() -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)  # fully transparent black
    rgb = decode_image(make_photos.encode(rgba, "PNG"))
    assert (rgb == 255).all()


def test_sixteen_bit_png_is_scaled_not_clipped(astronaut: np.ndarray) -> None:
    rgb = decode_image(make_photos.sixteen_bit_png(astronaut))
    grey = np.asarray(Image.fromarray(astronaut).convert("L"))
    assert np.abs(rgb[..., 0].astype(int) - grey.astype(int)).max() <= 1


def test_cmyk_jpeg(astronaut: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(astronaut).convert("CMYK").save(buf, "JPEG", quality=95)
    rgb = decode_image(buf.getvalue())
    assert rgb.shape == (512, 512, 3)
    assert np.abs(rgb.astype(int) - astronaut.astype(int)).mean() < 12


def test_gif_first_frame(astronaut: np.ndarray) -> None:
    hopper = make_photos.grace_hopper()
    rgb = decode_image(make_photos.animated_gif(astronaut, hopper))
    assert (
        np.abs(rgb.astype(int) - astronaut.astype(int)).mean()
        < np.abs(rgb.astype(int) - hopper.astype(int)).mean()
    )


def test_webp_lossless_roundtrip(astronaut: np.ndarray) -> None:
    rgb = decode_image(make_photos.encode(astronaut, "WEBP", lossless=True))
    assert np.array_equal(rgb, astronaut)


@pytest.mark.parametrize(
    "data",
    [b"", b"x"],
    ids=["empty", "one-byte"],
)
def test_empty_and_tiny_inputs(data: bytes) -> None:
    with pytest.raises((InvalidImage, InvalidImageSize)):
        decode_image(data)


def test_zero_bytes_is_a_size_error() -> None:
    with pytest.raises(InvalidImageSize):
        decode_image(b"")


def test_non_image_and_unsupported_formats(astronaut: np.ndarray) -> None:
    for data in (b"%PDF-1.4 hello", b"<svg></svg>", make_photos.encode(astronaut, "TIFF")):
        with pytest.raises(InvalidImage, match="format"):
            decode_image(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_truncated_images(astronaut: np.ndarray, fmt: str) -> None:
    data = make_photos.encode(astronaut, fmt)
    with pytest.raises(InvalidImage):
        decode_image(data[: len(data) // 2])


def test_oversized_bytes() -> None:
    with pytest.raises(InvalidImageSize, match="6 MB"):
        decode_image(b"\xff\xd8\xff" + b"\0" * MAX_BYTES)


def test_decompression_bomb_refused_from_header() -> None:
    with pytest.raises(InvalidImageSize, match="16384"):
        decode_image(_png_header_only(60000, 60000))
    with pytest.raises(InvalidImageSize, match="megapixels"):
        decode_image(_png_header_only(8000, 8000))


def test_large_images_are_downscaled_with_their_factor(astronaut: np.ndarray) -> None:
    big = cv2.resize(astronaut, (4800, 3600), interpolation=cv2.INTER_NEAREST)
    for fmt, options in (("JPEG", {"quality": 80}), ("PNG", {"compress_level": 9})):
        out = decode(make_photos.encode(big, fmt, **options))
        assert max(out.rgb.shape[:2]) == 4096
        assert out.original_size == (big.shape[1], big.shape[0])
        assert out.scale == pytest.approx(4096 / 4800, abs=1e-3)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_too_wide_and_too_thin(fmt: str) -> None:
    for size in ((20000, 1), (17000, 40), (5000, 40)):
        if fmt == "WEBP" and size[0] > 16383:
            continue  # WebP cannot even encode it
        data = make_photos.encode(np.zeros((size[1], size[0], 3), np.uint8), fmt)
        with pytest.raises(InvalidImageSize):
            decode_image(data)


def test_too_small() -> None:
    with pytest.raises(InvalidImageSize, match="minimum"):
        decode_image(make_photos.encode(np.zeros((35, 200, 3), np.uint8), "PNG"))


def test_limits_are_inclusive() -> None:
    assert decode_image(make_photos.encode(np.zeros((36, 36, 3), np.uint8), "PNG")).shape == (
        36,
        36,
        3,
    )
    big = make_photos.encode(np.zeros((40, 4096, 3), np.uint8), "PNG")
    assert decode_image(big).shape == (40, 4096, 3)
    wider = decode(make_photos.encode(np.zeros((64, 4097, 3), np.uint8), "PNG"))
    assert wider.rgb.shape[1] == 4096 and wider.scale < 1


def test_check_array() -> None:
    assert check_array(np.zeros((40, 50), np.uint8)).shape == (40, 50, 3)
    assert check_array(np.zeros((40, 50, 4), np.uint8)).shape == (40, 50, 3)
    with pytest.raises(InvalidImage):
        check_array(np.zeros((40, 50, 3), np.float32))
    with pytest.raises(InvalidImage):
        check_array(np.zeros((40, 50, 2), np.uint8))
    with pytest.raises(InvalidImageSize):
        check_array(np.zeros((20, 50, 3), np.uint8))


def _decode_or_our_error(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the decoder is a failure too
        try:
            rgb = decode_image(data)
        except (InvalidImage, InvalidImageSize):
            return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


_SEEDS = {
    fmt: make_photos.encode(
        np.asarray(Image.fromarray(make_photos.astronaut()).resize((48, 40))), fmt
    )
    for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP")
}
_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@_FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    _decode_or_our_error(data)


@_FUZZ
@given(
    st.sampled_from(sorted(_SEEDS)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 10**6),
)
def test_fuzz_mutated_images(fmt: str, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_SEEDS[fmt])
    for offset, value in edits:
        data[offset % len(data)] = value
    _decode_or_our_error(bytes(data[: max(1, len(data) - cut % len(data))]))
