"""Accuracy metrics used by bench.eval (pure numpy; reusable by later reports)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from shared.vision.geometry import iou_matrix

MATCH_IOU = 0.3  # hand-drawn boxes (dlib, WIDER) are looser or tighter than ours
MIN_FACE = 36  # px: the smallest face the product promises to find


# --- detection --------------------------------------------------------------------------


@dataclass
class DetectionCount:
    found: int = 0
    expected: int = 0
    false: int = 0
    detected: int = 0

    def add(self, other: DetectionCount) -> None:
        self.found += other.found
        self.expected += other.expected
        self.false += other.false
        self.detected += other.detected

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else float("nan")

    @property
    def false_rate(self) -> float:
        """False detections as a share of all detections (1 - precision)."""
        return self.false / self.detected if self.detected else 0.0


def greedy_match(gt: np.ndarray, boxes: np.ndarray, min_iou: float = MATCH_IOU) -> dict[int, int]:
    """One-to-one matching of ground truth to detections by descending IoU: {gt: det}."""
    iou = iou_matrix(gt, boxes)
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < min_iou:
            break
        if i not in pairs and j not in used:
            pairs[i] = j
            used.add(j)
    return pairs


def xywh_to_xyxy(boxes: Sequence[Sequence[float]]) -> np.ndarray:
    out = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    out[:, 2:] += out[:, :2]
    return out


def score_boxes(gt_xywh: Sequence[Sequence[float]], boxes: np.ndarray) -> DetectionCount:
    gt = xywh_to_xyxy(gt_xywh)
    pairs = greedy_match(gt, boxes)
    return DetectionCount(len(pairs), len(gt), len(boxes) - len(pairs), len(boxes))


def score_count(expected: int, detected: int) -> DetectionCount:
    return DetectionCount(min(expected, detected), expected, max(0, detected - expected), detected)


def score_wider(entry: dict, boxes: np.ndarray) -> dict[str, DetectionCount]:
    """Recall on WIDER FACE easy / medium / all faces for a stretched 416x416 copy.

    The copies were stretched from 1024xH with H unknown: x scales by ``x_scale``, the
    y scale is estimated as the H (>= original_height_min) that best aligns the ground
    truth with the detections. A detection matching no ground-truth face (any subset,
    including invalid ones) is a false detection.
    """
    gt = xywh_to_xyxy(entry["boxes_xywh_original"])
    size_y = entry["image_size"][1]
    gt[:, [0, 2]] *= entry["x_scale"]
    best: tuple[int, dict[int, int], np.ndarray] = (-1, {}, gt)
    for height in np.arange(entry["original_height_min"], 2 * 1024 + 1, 4.0):
        cand = gt.copy()
        cand[:, [1, 3]] *= size_y / height
        pairs = greedy_match(cand, boxes)
        if len(pairs) > best[0]:
            best = (len(pairs), pairs, cand)
    pairs = best[1]
    out = {}
    width = gt[:, 2] - gt[:, 0]  # in the analysed 416 px image
    for subset in ("easy", "medium"):
        idx = entry[f"gt_index_{subset}"]
        out[subset] = DetectionCount(sum(1 for i in idx if i in pairs), len(idx), 0, 0)
        big = [i for i in idx if width[i] >= MIN_FACE]
        out[f"{subset}_min_face"] = DetectionCount(sum(1 for i in big if i in pairs), len(big))
    out["all"] = DetectionCount(len(pairs), len(gt), len(boxes) - len(pairs), len(boxes))
    return out


# --- verification -----------------------------------------------------------------------


def pairs_for(identities: Sequence[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every same-identity pair and as many random different-identity pairs (fixed seed).

    Returns (pairs (P, 2) of indices, same (P,) bool).
    """
    ids = np.asarray(identities)
    n = len(ids)
    same = [(i, j) for i in range(n) for j in range(i + 1, n) if ids[i] == ids[j]]
    rng = np.random.default_rng(seed)
    diff: set[tuple[int, int]] = set()
    all_diff = sum(1 for i in range(n) for j in range(i + 1, n) if ids[i] != ids[j])
    target = min(len(same), all_diff)
    while len(diff) < target:
        i, j = sorted(rng.choice(n, 2, replace=False).tolist())
        if ids[i] != ids[j]:
            diff.add((i, j))
    pairs = np.array(same + sorted(diff), np.int64).reshape(-1, 2)
    labels = np.array([True] * len(same) + [False] * len(diff))
    return pairs, labels


@dataclass
class Verification:
    pairs: int
    accuracy: float  # at the given decision threshold
    eer: float
    tar: dict[float, float]  # FAR -> TAR
    best_accuracy: float
    best_threshold: float


def verification(scores: np.ndarray, same: np.ndarray, threshold: float) -> Verification:
    """Scores are similarities (higher = more alike)."""
    scores = np.asarray(scores, np.float64)
    same = np.asarray(same, bool)
    acc = float(((scores >= threshold) == same).mean()) if len(same) else float("nan")
    cands = np.unique(np.concatenate([scores, [np.inf]]))
    accs = [((scores >= t) == same).mean() for t in cands]
    k = int(np.argmax(accs))
    tar = {far: tar_at_far(scores, same, far) for far in (1e-2, 1e-3)}
    return Verification(len(same), acc, eer(scores, same), tar, float(accs[k]), float(cands[k]))


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """TAR at the strictest threshold whose false-accept rate is <= far."""
    genuine, impostor = scores[same], scores[~same]
    if len(genuine) == 0 or len(impostor) == 0:
        return float("nan")
    allowed = int(np.floor(far * len(impostor)))
    ordered = np.sort(impostor)[::-1]
    thr = ordered[allowed] if allowed < len(ordered) else -np.inf
    return float((genuine > thr).mean())


def eer(scores: np.ndarray, same: np.ndarray) -> float:
    genuine, impostor = scores[same], scores[~same]
    if len(genuine) == 0 or len(impostor) == 0:
        return float("nan")
    best = (2.0, 1.0)
    for t in np.unique(scores):
        frr = (genuine < t).mean()
        far = (impostor >= t).mean()
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2)
    return float(best[1])


# --- attributes --------------------------------------------------------------------------


def group_by(values: Iterable[tuple[str, float]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for key, value in values:
        out.setdefault(key, []).append(value)
    return out


def worst_best(per_group: dict[str, float], higher_is_better: bool) -> tuple[str, str, float]:
    """(worst group, best group, gap) over groups with a finite value."""
    items = [(k, v) for k, v in per_group.items() if np.isfinite(v)]
    if not items:
        return "-", "-", float("nan")
    items.sort(key=lambda kv: kv[1], reverse=higher_is_better)
    best, worst = items[0], items[-1]
    return worst[0], best[0], abs(best[1] - worst[1])
