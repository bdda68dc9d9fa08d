"""Structure-aware fuzzing of the image decoder (shared.vision.imageio).

tests/vision/test_imageio.py already throws random bytes and random byte edits at
the decoder. Here every case is a well-formed container of one of the five formats
with hostile fields (see tests/hardening/images.py), so the fuzzer gets past the
magic bytes and the header parse into Pillow's chunk, frame and EXIF handling.

Properties, for every case:
- the decoder returns an RGB uint8 array within the documented bounds, or raises
  InvalidImage / InvalidImageSize; nothing else, and no warning escapes but the
  notices of Pillow's format readers about malformed metadata (counted);
- a declared size over the limits is refused (InvalidImageSize, or InvalidImage when
  a later header is cut short) before Pillow is even asked to open the file: a bomb
  never reaches a decoder.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidImage, InvalidImageSize
from shared.vision import imageio
from tests.hardening.fuzzing import fuzz_settings, outcome, target
from tests.hardening.images import ALL_FORMATS, Sample

pytestmark = pytest.mark.fuzz


def _over_limits(size: tuple[int, int]) -> bool:
    width, height = size
    return (
        max(width, height) > imageio.MAX_DECLARED_SIDE
        or width * height > imageio.MAX_DECLARED_PIXELS
    )


def check_decoder(sample: Sample, name: str) -> None:
    """The decoder's contract on one hostile file; ``name`` is the target, for the figures."""
    bomb = sample.declared is not None and _over_limits(sample.declared)
    opened = mock.patch.object(imageio.Image, "open", wraps=imageio.Image.open)
    with warnings.catch_warnings(record=True) as caught, opened as pillow_open:
        warnings.simplefilter("always")
        try:
            decoded = imageio.decode(sample.data)
        except InvalidImageSize:
            if bomb:
                assert pillow_open.call_count == 0, "Pillow opened a declared bomb"
            outcome(name, "bomb refused from header" if bomb else "InvalidImageSize")
            return
        except InvalidImage:  # e.g. a bomb whose later header is cut short: still refused
            if bomb:
                assert pillow_open.call_count == 0, "Pillow opened a declared bomb"
            outcome(name, "bomb refused as corrupt" if bomb else "InvalidImage")
            return
        finally:
            _check_warnings(caught, name)
    assert not bomb, f"a declared {sample.declared} bomb was decoded"
    rgb = decoded.rgb
    assert isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags["C_CONTIGUOUS"]
    height, width = rgb.shape[:2]
    assert min(width, height) >= imageio.MIN_SIDE
    assert max(width, height) <= imageio.MAX_SIDE
    assert 0 < decoded.scale <= 1.0
    full_w, full_h = decoded.original_size
    assert full_w * full_h <= imageio.MAX_DECLARED_PIXELS
    assert abs(width - full_w * decoded.scale) <= 1.0
    outcome(name, "decoded")


def _check_warnings(caught: list[warnings.WarningMessage], name: str) -> None:
    """No DecompressionBombWarning (it would mean a bomb reached Pillow) and nothing from
    anywhere but Pillow's format readers, whose UserWarnings about malformed metadata
    (corrupt EXIF, an invalid APNG control chunk) are harmless notices: the metadata is
    ignored, and Python's default filter shows each once per process. They are counted."""
    for warning in caught:
        plugin = Path(warning.filename).name.endswith("ImagePlugin.py")
        notice = warning.category is UserWarning and plugin
        assert notice, f"a {warning.category.__name__} escaped the decoder: {warning.message}"
        outcome(name, f"Pillow notice ({Path(warning.filename).stem})")


@fuzz_settings()
@given(ALL_FORMATS["PNG"])
@target("decoder/png")
def test_fuzz_png(sample: Sample) -> None:
    check_decoder(sample, "decoder/png")


@fuzz_settings()
@given(ALL_FORMATS["GIF"])
@target("decoder/gif")
def test_fuzz_gif(sample: Sample) -> None:
    check_decoder(sample, "decoder/gif")


@fuzz_settings()
@given(ALL_FORMATS["BMP"])
@target("decoder/bmp")
def test_fuzz_bmp(sample: Sample) -> None:
    check_decoder(sample, "decoder/bmp")


@fuzz_settings()
@given(ALL_FORMATS["WEBP"])
@target("decoder/webp")
def test_fuzz_webp(sample: Sample) -> None:
    check_decoder(sample, "decoder/webp")


@fuzz_settings()
@given(ALL_FORMATS["JPEG"])
@target("decoder/jpeg")
def test_fuzz_jpeg(sample: Sample) -> None:
    check_decoder(sample, "decoder/jpeg")


@fuzz_settings()
@given(st.sampled_from(sorted(ALL_FORMATS)).flatmap(ALL_FORMATS.__getitem__), st.data())
@target("decoder/sniffing")
def test_fuzz_format_is_sniffed_not_trusted(sample: Sample, data: st.DataObject) -> None:
    """Another format's magic bytes on top of a file, or the file behind junk: still only
    our errors (content types are never trusted, magic bytes decide)."""
    magic = data.draw(
        st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"RIFF"])
    )
    spliced = data.draw(st.sampled_from(["prefix", "replace", "behind-junk"]))
    if spliced == "prefix":
        body = magic + sample.data
    elif spliced == "replace":
        body = magic + sample.data[len(magic) :]
    else:
        body = b"<html>" + sample.data
    check_decoder(Sample(body, None, sample.format), "decoder/sniffing")
