"""Golden records: a small real input and the ORIGINAL runtime's output, saved as .npz.

The input is stored as uint8 pixels plus ``scale``/``offset`` (and layout), so a record is
small and the float tensor is rebuilt bit-identically at test time by :func:`float_input`.
The test (tests/models/test_golden.py) needs only numpy + onnxruntime.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tools.models.specs import GoldenInput

# closeness asserted at build and test time: max|ours - original| <= RTOL * max|original|
RTOL = 1e-4


def load_astronaut(skimage_root: Path) -> np.ndarray:
    """The NASA astronaut portrait (public domain) from the pinned scikit-image wheel, RGB."""
    bgr = cv2.imread(str(skimage_root / "skimage" / "data" / "astronaut.png"), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError("astronaut.png missing from the scikit-image wheel")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def make_pixels(photo: np.ndarray, spec: GoldenInput) -> np.ndarray:
    """The uint8 crop (H, W, C) the golden input is made of."""
    x0, y0, x1, y1 = spec.box
    crop = cv2.resize(photo[y0:y1, x0:x1], spec.size, interpolation=cv2.INTER_AREA)
    if spec.grey:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None]
    return np.ascontiguousarray(crop)


def float_input(pixels: np.ndarray, scale: float, offset: float, layout: str) -> np.ndarray:
    """Batch of one float32 tensor from stored pixels; the same function at build and test."""
    x = pixels.astype(np.float32) * np.float32(scale) + np.float32(offset)
    if layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None], dtype=np.float32)


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    ref = np.asarray(ref, np.float32)
    ours = np.asarray(ours, np.float32).reshape(ref.shape)
    return float(np.max(np.abs(ours - ref)) / max(float(np.max(np.abs(ref))), 1e-12))


def save(
    path: Path,
    spec: GoldenInput,
    pixels: np.ndarray,
    input_name: str,
    outputs: dict[str, np.ndarray],
    runtime: str,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"out/{k}": np.asarray(v, np.float32) for k, v in outputs.items()}
    np.savez_compressed(
        path,
        pixels=pixels,
        scale=np.float64(spec.scale),
        offset=np.float64(spec.offset),
        layout=np.str_(spec.layout),
        input_name=np.str_(input_name),
        runtime=np.str_(runtime),
        **arrays,
    )
