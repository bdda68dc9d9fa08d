"""Face detection: multi-scale tiled BlazeFace proposals, verified and refined by MTCNN's O-Net.

Proposals come from BlazeFace full-range (192 px; faces from ~2% of the frame, but it
misses faces that fill the frame) on a tile pyramid, plus one pass of BlazeFace
short-range (128 px; close-up faces) on the whole image.

Why a cascade (measured on the eval set, see docs/vision.md): BlazeFace is fast but sees
the image at 128-256 px, so small faces in large photos vanish; MTCNN's pyramid finds them
but costs ~20x more. Here the BlazeFace network runs on the whole image and, when faces of
``min_face`` pixels would be too small for it, on overlapping tiles of a pyramid; the O-Net
(48 px) then re-scores every proposal, regresses a tighter box and gives the five standard
landmarks. A proposal the O-Net rejects is kept only when BlazeFace itself is very sure
(profile faces, which the O-Net was not trained on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.vision.blazeface import BlazeFace, Detections
from shared.vision.geometry import nms
from shared.vision.mtcnn import MTCNN


@dataclass(frozen=True)
class DetectorConfig:
    min_face: int = 36  # smallest face side (px) that must be found
    smallest_in_net: float = 16.0  # smallest face the network finds reliably, in input px
    tile_overlap: float = 0.3  # share of a tile overlapping its neighbour
    proposal_threshold: float = 0.5  # BlazeFace score for a proposal
    onet_threshold: float = 0.6  # O-Net score to accept a proposal
    keep_without_onet: float = 0.9  # BlazeFace score that is trusted even if O-Net says no
    nms_iou: float = 0.3
    max_tiles: int = 64


MIN_REPORTED = 12  # px: smaller boxes are noise whatever min_face asks for


class FaceDetector:
    """``detect(rgb)`` -> Detections with 5 landmarks, sorted largest first."""

    def __init__(
        self,
        proposer: BlazeFace,
        refiner: MTCNN | None,
        config: DetectorConfig | None = None,
        close_up: BlazeFace | None = None,
    ) -> None:
        self.proposer = proposer
        self.refiner = refiner
        self.close_up = close_up  # short-range net, run once on the whole image
        self.config = config or DetectorConfig()

    def windows(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """Square windows (x0, y0, side) covering the image at every needed scale.

        The whole image is always one window. When a ``min_face`` face would span fewer
        than ``smallest_in_net`` network pixels there, tiles are added: the finest level
        is the largest tile in which it still spans that many, and coarser levels are
        added only where the face sizes one level covers (up to ``tile_overlap`` of its
        side, so a face always lies whole in some tile) would not reach the next.
        """
        cfg = self.config
        net = self.proposer.size
        side = max(height, width)
        out = [(0, 0, side)]
        finest = max(net, int(cfg.min_face * net / cfg.smallest_in_net))
        growth = max(1.5, cfg.tile_overlap * net / cfg.smallest_in_net)
        tile = finest
        while tile < side and len(out) < cfg.max_tiles:
            for y0 in _starts(height, tile, cfg.tile_overlap):
                for x0 in _starts(width, tile, cfg.tile_overlap):
                    out.append((x0, y0, tile))
            tile = int(tile * growth)
        return out[: cfg.max_tiles]

    def proposals(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        found = []
        for x0, y0, side in self.windows(h, w):
            crop = rgb[y0 : y0 + side, x0 : x0 + side]
            square = np.zeros((side, side, 3), np.uint8)
            square[: crop.shape[0], : crop.shape[1]] = crop
            dets = self.proposer.decode(
                *self.proposer.raw(square), side, self.config.proposal_threshold
            )
            if len(dets):
                shift = np.array([x0, y0], np.float32)
                found.append(
                    Detections(dets.boxes + np.tile(shift, 2), dets.scores, dets.keypoints + shift)
                )
        if self.close_up is not None:
            found.append(self.close_up.infer(rgb, self.config.proposal_threshold))
        dets = Detections.concat(found)
        return dets.take(nms(dets.boxes, dets.scores, self.config.nms_iou))

    def detect(self, rgb: np.ndarray, max_faces: int = 100) -> Detections:
        cfg = self.config
        props = self.proposals(rgb)
        if self.refiner is None or len(props) == 0:
            dets = Detections(props.boxes, props.scores, _five_from_blazeface(props.keypoints))
        else:
            boxes, scores, points = self.refiner.onet_raw(rgb, _onet_square(props.boxes))
            accept = scores >= cfg.onet_threshold
            trusted = ~accept & (props.scores >= cfg.keep_without_onet)
            keep = accept | trusted
            boxes = np.where(accept[:, None], boxes, props.boxes)
            points = np.where(accept[:, None, None], points, _five_from_blazeface(props.keypoints))
            conf = np.where(accept, np.maximum(scores, props.scores), props.scores)
            dets = Detections(boxes[keep], conf[keep].astype(np.float32), points[keep])
            dets = dets.take(nms(dets.boxes, dets.scores, cfg.nms_iou))
        dets = dets.take(nms(dets.boxes, dets.scores, 0.7, by_min=True))
        size = np.minimum(dets.boxes[:, 2] - dets.boxes[:, 0], dets.boxes[:, 3] - dets.boxes[:, 1])
        dets = dets.take(np.flatnonzero(size >= MIN_REPORTED))
        area = (dets.boxes[:, 2] - dets.boxes[:, 0]) * (dets.boxes[:, 3] - dets.boxes[:, 1])
        order = np.argsort(-area, kind="stable")[:max_faces]
        return dets.take(order)


def _starts(length: int, tile: int, overlap: float) -> list[int]:
    if tile >= length:
        return [0]
    step = max(1, int(tile * (1 - overlap)))
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


ONET_SCALE = 1.2  # O-Net crops are ~1.2x a BlazeFace box ...
ONET_SHIFT_Y = -0.08  # ... and centred a little higher (measured on the dlib boxes)


def _onet_square(boxes: np.ndarray) -> np.ndarray:
    """BlazeFace boxes -> the square MTCNN-style crops the O-Net was trained on."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + ONET_SHIFT_Y * side
    half = side * ONET_SCALE / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], 1)


def _five_from_blazeface(kps: np.ndarray) -> np.ndarray:
    """Approximate the 5 standard points from BlazeFace's eyes, nose and mouth centre.

    BlazeFace has no mouth corners: they are placed on the eye-to-eye direction through the
    mouth centre, at 0.4 of the inter-ocular distance either side (a typical face).
    """
    if len(kps) == 0:
        return np.zeros((0, 5, 2))
    # BlazeFace order: subject's right eye (image left), left eye, nose tip, mouth centre
    right, left, nose, mouth = kps[:, 0], kps[:, 1], kps[:, 2], kps[:, 3]
    axis = left - right
    half = 0.4 * axis
    return np.stack([right, left, nose, mouth - half, mouth + half], 1)
