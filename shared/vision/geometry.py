"""Small geometric helpers shared by the model wrappers: NMS, resizing, similarity warps."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, *, by_min: bool = False) -> np.ndarray:
    """Greedy non-maximum suppression. ``boxes`` are (N, 4) x0, y0, x1, y1. Returns indices.

    ``by_min`` measures overlap as intersection / smaller area (suppresses a box nested in
    a larger one, e.g. a face detected both whole and as a half-face at two scales).
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x0, y0, x1, y1 = boxes.T
    area = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter
        overlap = inter / np.maximum(denom, 1e-9)
        order = rest[overlap <= iou]
    return np.asarray(keep, np.int64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) x0, y0, x1, y1 boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    w = np.maximum(
        0.0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    )
    h = np.maximum(
        0.0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    )
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize with area averaging when shrinking (no aliasing), bilinear when enlarging."""
    shrinking = width < image.shape[1] or height < image.shape[0]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, shift) mapping src->dst.

    Umeyama's closed form, like dlib's ``find_similarity_transform``; returns a 2x3 matrix.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / max(var_s, 1e-12)
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


def warp(image: np.ndarray, matrix: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Affine-warp ``image`` into a ``size`` chip, pre-shrinking to avoid aliasing.

    When the transform shrinks by more than 2x, the image is first reduced with area
    averaging (as dlib's chip extraction does with its image pyramid), then warped bilinearly.
    """
    width, height = (size, size) if isinstance(size, int) else size
    matrix = np.asarray(matrix, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.5:
        factor = min(1.0, 2.0 * scale)
        small = cv2.resize(
            image,
            (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor))),
            interpolation=cv2.INTER_AREA,
        )
        fx = small.shape[1] / image.shape[1]
        fy = small.shape[0] / image.shape[0]
        matrix = matrix @ np.diag([1 / fx, 1 / fy, 1.0])
        image = small
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def square_crop_matrix(box: np.ndarray, scale: float, size: int) -> np.ndarray:
    """The 2x3 matrix mapping a square of side ``scale * max(w, h)`` around a box to a chip."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    k = size / max(side, 1e-6)
    return np.array([[k, 0, size / 2 - k * cx], [0, k, size / 2 - k * cy]], np.float64)


def face_square(rgb: np.ndarray, face: Any, scale: float, size: int) -> np.ndarray:
    """The square crop of ``scale`` x the face box at ``size`` px, made once per face."""
    return face.crop(
        ("square", scale, size), lambda: warp(rgb, square_crop_matrix(face.box, scale, size), size)
    )


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))
