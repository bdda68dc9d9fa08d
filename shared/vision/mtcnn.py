"""MTCNN (Zhang et al. 2016; MIT weights of ipazc/mtcnn 1.0.0 as ONNX): P-, R- and O-Net.

Input: RGB, (x - 127.5) / 128, NHWC in normal row-major order (the catalogue's conversion;
the original Keras port expected transposed images). Outputs are read by name
(``bbox_reg``, ``prob``, ``landmarks``). Five landmarks, in image order: eye on the
image left, eye on the image right, nose tip, mouth corner on the image left, mouth corner
on the image right.

``MTCNN.detect`` is the classic three-stage cascade; ``MTCNN.refine`` runs only the O-Net
on boxes proposed by another detector (verification, box regression and 5 landmarks).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from shared.vision.blazeface import Detections
from shared.vision.geometry import nms, resize


def _normalise(chips: np.ndarray) -> np.ndarray:
    return (chips.astype(np.float32) - 127.5) * 0.0078125


def _run(session: ort.InferenceSession, x: np.ndarray, *names: str) -> list[np.ndarray]:
    return session.run(list(names), {session.get_inputs()[0].name: x})


def crop_boxes(rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut integer boxes (zero-padded outside the image) and resize each to size x size."""
    h, w = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(np.asarray(boxes)[:, :4].astype(np.int64)):
        bw, bh = max(1, x1 - x0), max(1, y1 - y0)
        patch = np.zeros((bh, bw, 3), np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        out[k] = resize(patch, size, size)
    return out


def to_square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += (w - side) / 2
    boxes[:, 1] += (h - side) / 2
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes[:, 0:4] += reg[:, 0:4] * np.stack([w, h, w, h], 1)
    return boxes


class MTCNN:
    """The three MTCNN networks with the standard pyramid pipeline."""

    def __init__(
        self,
        pnet: ort.InferenceSession,
        rnet: ort.InferenceSession,
        onet: ort.InferenceSession,
        *,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        scale_factor: float = 0.709,
    ) -> None:
        self.pnet, self.rnet, self.onet = pnet, rnet, onet
        self.thresholds = thresholds
        self.scale_factor = scale_factor

    # --- stage 1 --------------------------------------------------------------------
    def _pnet_boxes(self, rgb: np.ndarray, min_face: float, max_side: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        scale = 12.0 / min_face
        found = []
        while min(h, w) * scale >= 12:
            sw, sh = int(np.ceil(w * scale)), int(np.ceil(h * scale))
            if max(sw, sh) <= max_side:
                x = _normalise(resize(rgb, sw, sh)[None])
                reg, prob = _run(self.pnet, x, "bbox_reg", "prob")
                prob, reg = prob[0, :, :, 1], reg[0]
                ys, xs = np.nonzero(prob >= self.thresholds[0])
                if ys.size:
                    cells = np.stack([xs, ys], 1).astype(np.float32)
                    q0 = np.fix((2 * cells + 1) / scale)
                    q1 = np.fix((2 * cells + 12) / scale)
                    boxes = np.hstack([q0, q1, prob[ys, xs, None], reg[ys, xs]])
                    found.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
            scale *= self.scale_factor
        if not found:
            return np.zeros((0, 5), np.float32)
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        boxes = np.hstack([regress(boxes[:, :4], boxes[:, 5:9]), boxes[:, 4:5]])
        return np.hstack([np.fix(to_square(boxes[:, :4])), boxes[:, 4:5]])

    # --- stage 3 --------------------------------------------------------------------
    def onet_raw(
        self, rgb: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """O-Net on square boxes: (regressed boxes (N, 4), scores (N,), landmarks (N, 5, 2))."""
        if len(boxes) == 0:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        boxes = np.fix(boxes[:, :4])
        x = _normalise(crop_boxes(rgb, boxes, 48))
        reg, pts, prob = _run(self.onet, x, "bbox_reg", "landmarks", "prob")
        w = (boxes[:, 2] - boxes[:, 0])[:, None]
        h = (boxes[:, 3] - boxes[:, 1])[:, None]
        lx = boxes[:, 0:1] + w * pts[:, 0:5]
        ly = boxes[:, 1:2] + h * pts[:, 5:10]
        return regress(boxes, reg), prob[:, 1], np.stack([lx, ly], -1)

    def refine(self, rgb: np.ndarray, boxes: np.ndarray, threshold: float) -> Detections:
        """Verify and refine proposal boxes with the O-Net; keeps those scoring >= threshold."""
        out_boxes, scores, pts = self.onet_raw(rgb, to_square(boxes))
        keep = scores >= threshold
        return Detections(
            out_boxes[keep].astype(np.float32), scores[keep].astype(np.float32), pts[keep]
        )

    def detect(self, rgb: np.ndarray, *, min_face: float = 20, max_side: int = 4096) -> Detections:
        """The full cascade. ``min_face`` in pixels sets the pyramid's finest scale."""
        boxes = self._pnet_boxes(rgb, min_face, max_side)
        if len(boxes) == 0:
            return Detections.empty(5)
        # R-Net with box regression
        x = _normalise(crop_boxes(rgb, boxes, 24))
        reg, prob = _run(self.rnet, x, "bbox_reg", "prob")
        keep = prob[:, 1] > self.thresholds[1]
        boxes = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg = reg[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes = np.fix(to_square(regress(boxes[pick, :4], reg[pick])))
        dets = self.refine(rgb, boxes, self.thresholds[2])
        return dets.take(nms(dets.boxes, dets.scores, 0.7, by_min=True))
