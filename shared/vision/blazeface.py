"""MediaPipe BlazeFace detectors (Apache-2.0): short-range 128 px, full-range 192 px.

Input: RGB scaled to [-1, 1], NHWC, letterboxed (top-left) to a square. Output per anchor:
16 regression values (box centre dx, dy, w, h, then six keypoints: both eyes, nose tip,
mouth centre, both ear tragions) in input pixels, and one logit. Anchors follow MediaPipe's
SSD calculator with fixed anchor size (every anchor is 1x1, centred in its cell).

The networks are fully convolutional: a copy whose input height and width are free
(``blazeface_full_any``) runs on any rectangle whose sides are multiples of ``ALIGN``, with
one anchor grid cell per stride of input pixels, so a large region is one run instead of
several overlapping squares (``run_any``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from shared.vision.geometry import nms, resize


@dataclass(frozen=True)
class Detections:
    """Boxes (N, 4) x0, y0, x1, y1 in image pixels, scores (N,), keypoints (N, K, 2)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray

    @staticmethod
    def empty(k: int = 6) -> Detections:
        return Detections(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, k, 2))
        )

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.keypoints[index])

    @staticmethod
    def concat(parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        return Detections(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.keypoints for p in parts]),
        )


def ssd_anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """Anchor centres (A, 2) in [0, 1] for MediaPipe's SSD layout."""
    centres = []
    for stride, count in zip(strides, per_cell, strict=True):
        grid = size // stride
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], -1).reshape(-1, 2)
        centres.append(np.repeat(cells, count, axis=0))
    return np.concatenate(centres).astype(np.float32)


def grid_anchors(
    height: int, width: int, strides: tuple[int, ...], per_cell: tuple[int, ...]
) -> np.ndarray:
    """Anchor centres (A, 2) in input pixels for a height x width input (multiples of the
    largest stride), in the networks' output order (finest stride first, row-major)."""
    centres = []
    for stride, count in zip(strides, per_cell, strict=True):
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        cells = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], -1).reshape(-1, 2)
        centres.append(np.repeat(cells, count, axis=0))
    return np.concatenate(centres).astype(np.float32)


ALIGN = 32  # sides of a free-size input are padded to multiples of this (the deepest stride)
SHORT_RANGE = {"size": 128, "strides": (8, 16), "per_cell": (2, 6)}
FULL_RANGE = {"size": 192, "strides": (4,), "per_cell": (1,)}


class BlazeFace:
    """One BlazeFace network. ``infer(rgb)`` returns all faces above ``score_threshold``."""

    def __init__(
        self,
        session: ort.InferenceSession,
        *,
        size: int,
        strides: tuple[int, ...],
        per_cell: tuple[int, ...],
        score_threshold: float = 0.5,
        nms_iou: float = 0.3,
    ) -> None:
        self.session = session
        self.size = size
        self.anchors = ssd_anchors(size, strides, per_cell)
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.input_name = session.get_inputs()[0].name
        self.strides, self.per_cell = strides, per_cell
        # free input height and width (symbolic dims): one run can cover any rectangle
        self.any_size = not all(isinstance(d, int) for d in session.get_inputs()[0].shape[1:3])
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    def run_any(self, net_rgb: np.ndarray, threshold: float) -> Detections:
        """Faces in an RGB image already at network scale (any size; a free-size network
        only), in its pixels: padded right/bottom to multiples of ALIGN, one run, NMS."""
        h, w = net_rgb.shape[:2]
        ph, pw = -(-h // ALIGN) * ALIGN, -(-w // ALIGN) * ALIGN
        x = np.full((1, ph, pw, 3), -1.0, np.float32)  # black padding, as the letterbox
        x[0, :h, :w] = net_rgb.astype(np.float32) * (1 / 127.5) - 1.0
        regs, logits = self._outputs(self.session.run(None, {self.input_name: x}))
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
        idx = np.flatnonzero(scores >= threshold)
        if idx.size == 0:
            return Detections.empty()
        grid = self._grids.get((ph, pw))
        if grid is None:
            grid = self._grids.setdefault(
                (ph, pw), grid_anchors(ph, pw, self.strides, self.per_cell)
            )
        anchors, r = grid[idx], regs[idx]
        cx, cy = r[:, 0] + anchors[:, 0], r[:, 1] + anchors[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        kps = r[:, 4:].reshape(-1, 6, 2) + anchors[:, None, :]
        dets = Detections(boxes.astype(np.float32), scores[idx].astype(np.float32), kps)
        return dets.take(nms(dets.boxes, dets.scores, self.nms_iou))

    @staticmethod
    def _outputs(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        regs = [o.reshape(-1, 16) for o in outputs if o.shape[-1] == 16]
        logits = [o.reshape(-1) for o in outputs if o.shape[-1] == 1]
        # multi-output graphs list the finer stride first; sort by anchor count to be sure
        regs.sort(key=len, reverse=True)
        logits.sort(key=len, reverse=True)
        return np.concatenate(regs), np.concatenate(logits)

    def raw(self, square_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on an already square RGB image: (regressors (A, 16), logits (A,))."""
        return self.forward(resize(square_rgb, self.size, self.size))

    def forward(self, net_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on an RGB image of its input size: (regressors, logits)."""
        x = net_rgb.astype(np.float32) * (1 / 127.5) - 1.0
        return self._outputs(self.session.run(None, {self.input_name: x[None]}))

    def letterbox(self, rgb: np.ndarray, side: int) -> np.ndarray:
        """``rgb`` as the top-left of a ``side`` px square, at the network's input size.

        When the image's sides scale to whole pixels (a 640x480 photo does) only the image
        is resized, not the padding: the same pixels for less work."""
        h, w = rgb.shape[:2]
        k = self.size / side
        sw, sh = w * k, h * k
        if abs(sw - round(sw)) > 1e-6 or abs(sh - round(sh)) > 1e-6:
            square = np.zeros((side, side, 3), np.uint8)
            square[:h, :w] = rgb
            return resize(square, self.size, self.size)
        out = np.zeros((self.size, self.size, 3), np.uint8)
        out[: round(sh), : round(sw)] = resize(rgb, round(sw), round(sh))
        return out

    def infer(self, rgb: np.ndarray, threshold: float | None = None) -> Detections:
        """Detect faces in the whole image, letterboxed to the network's square input."""
        side = max(rgb.shape[:2])
        return self.decode(*self.forward(self.letterbox(rgb, side)), side, threshold)

    def decode(
        self, regs: np.ndarray, logits: np.ndarray, side: float, threshold: float | None = None
    ) -> Detections:
        """Decode raw outputs for a square input of ``side`` image pixels, with NMS."""
        thr = self.score_threshold if threshold is None else threshold
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
        idx = np.flatnonzero(scores >= thr)
        if idx.size == 0:
            return Detections.empty()
        anchors = self.anchors[idx]
        r = regs[idx] / self.size
        cx, cy = r[:, 0] + anchors[:, 0], r[:, 1] + anchors[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) * side
        kps = (r[:, 4:].reshape(-1, 6, 2) + anchors[:, None, :]) * side
        dets = Detections(boxes.astype(np.float32), scores[idx].astype(np.float32), kps)
        return dets.take(nms(dets.boxes, dets.scores, self.nms_iou))
