"""The detector's window plan and its free-size network, with the real models."""

from __future__ import annotations

import numpy as np
import pytest

from shared.vision import Analyzer
from shared.vision.blazeface import FULL_RANGE, BlazeFace
from shared.vision.catalog import Catalog
from shared.vision.detector import FaceDetector
from shared.vision.geometry import resize
from tests.data import make_photos as mp


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return Analyzer(Catalog(threads=1)).detector


def test_a_640x480_photo_is_one_free_size_run(detector: FaceDetector) -> None:
    # a 36 px face spans the network's 16 px at the finer level, and that one run over the
    # whole photo replaces the letterboxed whole-image pass
    (level,) = detector.windows(480, 640)
    assert level.free_size
    assert (level.x0, level.y0, level.x1, level.y1) == (0, 0, 640, 480)
    assert 36 * level.scale == pytest.approx(16, abs=0.01)
    fixed = FaceDetector(detector.proposer, detector.refiner, detector.config)
    # without the free-size network: the whole image + four overlapping 192 px tiles
    windows = fixed.windows(480, 640)
    assert len(windows) == 5
    assert (windows[0].x1, windows[0].y1, windows[0].scale) == (640, 480, 0.3)
    # a photo small enough for the whole-image pass alone keeps it
    (whole,) = detector.windows(300, 400)
    assert not whole.free_size and (whole.x1, whole.y1) == (400, 300)


def test_large_photos_are_runs_of_at_most_max_input(detector: FaceDetector) -> None:
    limit = detector.config.max_input + 1
    # 4096x3072: no free-size level covers the photo in one run, so the whole-image pass stays
    whole, *levels = detector.windows(3072, 4096)
    assert not whole.free_size and (whole.x1, whole.y1) == (4096, 3072)
    for w in levels:
        assert w.free_size and max(w.x1 - w.x0, w.y1 - w.y0) * w.scale <= limit
    # 1920x1080: the coarsest level is one run over the photo, at most twice the scale of
    # the letterboxed whole-image pass it replaces
    windows = detector.windows(1080, 1920)
    assert all(w.free_size and max(w.x1 - w.x0, w.y1 - w.y0) * w.scale <= limit for w in windows)
    coarsest = windows[-1]
    assert (coarsest.x0, coarsest.y0, coarsest.x1, coarsest.y1) == (0, 0, 1920, 1080)
    assert 192 / 1920 < coarsest.scale <= 2 * 192 / 1920


def test_free_size_network_decodes_like_the_fixed_one(detector: FaceDetector) -> None:
    rgb = resize(mp.astronaut(), 192, 192)
    fixed = detector.proposer.decode(*detector.proposer.raw(rgb), 192, 0.5)
    free = detector.free_size.run_any(rgb, 0.5)
    assert len(fixed) == len(free) == 1
    np.testing.assert_allclose(free.boxes, fixed.boxes, atol=0.05)
    np.testing.assert_allclose(free.keypoints, fixed.keypoints, atol=0.05)
    np.testing.assert_allclose(free.scores, fixed.scores, atol=1e-4)
    with pytest.raises(ValueError):
        FaceDetector(detector.proposer, None, free_size=detector.proposer)


def test_small_faces_in_a_640x480_photo_are_found(detector: FaceDetector) -> None:
    """Three faces of about 30-45 px: too small for the whole-image pass alone."""
    strip = mp.composite((170, 160, 150))
    canvas = np.full((480, 640, 3), 200, np.uint8)
    canvas[100 : 100 + strip.shape[0]] = strip
    found = detector.detect(canvas)
    widths = sorted(float(b[2] - b[0]) for b in found.boxes)
    assert len(found) == 3, widths
    assert widths[0] >= 20 and widths[-1] <= 60
    whole_only = BlazeFace(detector.proposer.session, **FULL_RANGE).infer(canvas, 0.5)
    assert len(whole_only) < 3  # the finer level is what finds them
