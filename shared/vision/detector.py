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
from shared.vision.geometry import nms, resize
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
    max_input: int = 384  # longest side (network px) of one run of the free-size network
    # BlazeFace score for a proposal from the free-size network's finer levels: one run over
    # a whole level scores the smallest faces a little lower than 192 px tiles did (a 30 px
    # labelled face fell below 0.5); the O-Net still decides (docs/vision.md)
    free_size_threshold: float = 0.45


@dataclass(frozen=True)
class Window:
    """An image region (x0, y0, x1, y1), the scale it is analysed at (network px / px) and
    whether the free-size network runs it (else the fixed one, on a letterboxed square)."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float
    free_size: bool = False


MIN_REPORTED = 12  # px: smaller boxes are noise whatever min_face asks for


class FaceDetector:
    """``detect(rgb)`` -> Detections with 5 landmarks, sorted largest first."""

    def __init__(
        self,
        proposer: BlazeFace,
        refiner: MTCNN | None,
        config: DetectorConfig | None = None,
        close_up: BlazeFace | None = None,
        free_size: BlazeFace | None = None,
    ) -> None:
        self.proposer = proposer  # the whole image, letterboxed to its square input
        self.refiner = refiner
        self.close_up = close_up  # short-range net, run once on the whole image
        if free_size is not None and not free_size.any_size:
            raise ValueError("free_size must be a network with free input height and width")
        self.free_size = free_size  # the proposer with free input sides: the finer levels
        self.config = config or DetectorConfig()

    def windows(self, height: int, width: int) -> list[Window]:
        """Image regions and the scale (network px per image px) each is analysed at.

        The whole image at the network's size is one window. When a ``min_face``
        face would span fewer than ``smallest_in_net`` network pixels there, finer levels
        are added: the finest at the scale where it spans that many, coarser ones only where
        the face sizes one level covers (up to the tiles' overlap, so a face always lies whole
        in some tile) would not reach the next. A level is cut into tiles of at most
        ``max_input`` network pixels a side with the free-size network (one run covers a
        640x480 photo's level), or into squares of the network's size without it. When the
        coarsest free-size level is a single run over the whole image, it replaces the
        whole-image window (it sees the same faces, at most twice as large).
        """
        cfg = self.config
        net = self.proposer.size
        side = max(height, width)
        out = [Window(0, 0, width, height, net / side)]
        free = self.free_size is not None
        limit = cfg.max_input if free else net
        overlap = cfg.tile_overlap * net  # network px
        scale = cfg.smallest_in_net / cfg.min_face
        scale = min(scale, net / int(cfg.min_face * net / cfg.smallest_in_net))  # px rounding
        growth = max(1.5, overlap / cfg.smallest_in_net)
        while scale > net / side and len(out) < cfg.max_tiles:
            span = int(limit / scale)  # image px one run covers at this level
            step = max(1, int((limit - overlap) / scale))
            for y0 in _starts(height, span, step):
                for x0 in _starts(width, span, step):
                    x1, y1 = min(x0 + span, width), min(y0 + span, height)
                    out.append(Window(x0, y0, x1, y1, scale, free))
            scale /= growth
        out = out[: cfg.max_tiles]
        coarsest = out[-1]
        if coarsest.free_size and (coarsest.x1 - coarsest.x0, coarsest.y1 - coarsest.y0) == (
            width,
            height,
        ):
            # the coarsest free-size level is one run over the whole image at less than
            # twice the whole-image scale: the fixed network's letterboxed pass adds nothing
            # (the same faces on 627 eval and synthetic photos, docs/vision.md)
            out = out[1:]
        return out

    def _run(self, rgb: np.ndarray, window: Window) -> Detections:
        """BlazeFace on one window, in image pixels."""
        crop = rgb[window.y0 : window.y1, window.x0 : window.x1]
        if window.free_size and self.free_size is not None:
            h, w = crop.shape[:2]
            size = (max(1, round(w * window.scale)), max(1, round(h * window.scale)))
            threshold = self.config.free_size_threshold
            dets = self.free_size.run_any(resize(crop, *size), threshold)
            fx, fy = size[0] / w, size[1] / h
        else:  # a fixed square input: letterbox the window's square, as MediaPipe does
            threshold = self.config.proposal_threshold
            side = round(self.proposer.size / window.scale)
            net_rgb = self.proposer.letterbox(crop, side)
            dets = self.proposer.decode(*self.proposer.forward(net_rgb), side, threshold)
            fx = fy = 1.0
        if not len(dets):
            return dets
        k = np.array([1 / fx, 1 / fy], np.float32)
        shift = np.array([window.x0, window.y0], np.float32)
        return Detections(
            dets.boxes * np.tile(k, 2) + np.tile(shift, 2),
            dets.scores,
            dets.keypoints * k + shift,
        )

    def proposals(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        found = [self._run(rgb, window) for window in self.windows(h, w)]
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


def _starts(length: int, tile: int, step: int) -> list[int]:
    if tile >= length:
        return [0]
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
