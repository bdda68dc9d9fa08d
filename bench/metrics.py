"""Accuracy metrics used by bench.eval (pure numpy; reusable by later reports)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
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


def wider_matches(entry: dict, boxes: np.ndarray) -> tuple[dict[int, int], np.ndarray]:
    """Match WIDER ground truth to detections on a stretched 416x416 copy: ({gt: det}, gt xyxy).

    The copies were stretched from 1024xH with H unknown: x scales by ``x_scale``, the
    y scale is estimated as the H (>= original_height_min) that best aligns the ground
    truth with the detections (the same search for every detector scored).
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
    return best[1], best[2]


def score_wider(entry: dict, boxes: np.ndarray) -> dict[str, DetectionCount]:
    """Recall on WIDER FACE easy / medium / all faces for a stretched 416x416 copy.

    A detection matching no ground-truth face (any subset, including invalid ones) is a
    false detection.
    """
    pairs, gt = wider_matches(entry, boxes)
    out = {}
    width = gt[:, 2] - gt[:, 0]  # in the analysed 416 px image
    for subset in ("easy", "medium"):
        idx = entry[f"gt_index_{subset}"]
        out[subset] = DetectionCount(sum(1 for i in idx if i in pairs), len(idx), 0, 0)
        big = [i for i in idx if width[i] >= MIN_FACE]
        out[f"{subset}_min_face"] = DetectionCount(sum(1 for i in big if i in pairs), len(big))
    out["all"] = DetectionCount(len(pairs), len(gt), len(boxes) - len(pairs), len(boxes))
    return out


def face_sizes(entry: dict, boxes: np.ndarray) -> list[tuple[float, bool]]:
    """(face width in analysed pixels, found?) for every valid face of a box-labelled photo.

    WIDER entries use the fitted stretch and skip faces flagged invalid; photos labelled
    only with a count have no sizes and give [].
    """
    if entry.get("gt_index_easy") is not None:
        pairs, gt = wider_matches(entry, boxes)
        invalid = entry.get("invalid") or [0] * len(gt)
        return [(float(gt[i, 2] - gt[i, 0]), i in pairs) for i in range(len(gt)) if not invalid[i]]
    if entry.get("boxes_xywh"):
        gt = xywh_to_xyxy(entry["boxes_xywh"])
        pairs = greedy_match(gt, boxes)
        return [(float(gt[i, 2] - gt[i, 0]), i in pairs) for i in range(len(gt))]
    return []


SIZE_BINS = (0, 16, 24, 36, 64, 128, 10**6)  # face width, px


def recall_by_size(
    sizes: Iterable[tuple[float, bool]], bins: Sequence[float] = SIZE_BINS
) -> list[tuple[str, int, int]]:
    """[(bin label, found, total)] over face-width bins."""
    out = []
    sizes = list(sizes)
    for lo, hi in itertools.pairwise(bins):
        inside = [found for width, found in sizes if lo <= width < hi]
        label = f">= {lo}" if hi >= 10**6 else f"{lo}-{hi}"
        out.append((label, sum(inside), len(inside)))
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
    genuine: int = 0
    impostor: int = 0
    correct: int = 0  # pairs decided right at the threshold


def verification(scores: np.ndarray, same: np.ndarray, threshold: float) -> Verification:
    """Scores are similarities (higher = more alike)."""
    scores = np.asarray(scores, np.float64)
    same = np.asarray(same, bool)
    correct = int(((scores >= threshold) == same).sum())
    acc = correct / len(same) if len(same) else float("nan")
    cands = np.unique(np.concatenate([scores, [np.inf]]))
    accs = [((scores >= t) == same).mean() for t in cands]
    k = int(np.argmax(accs))
    tar = {far: tar_at_far(scores, same, far) for far in (1e-2, 1e-3)}
    return Verification(
        len(same),
        acc,
        eer(scores, same),
        tar,
        float(accs[k]),
        float(cands[k]),
        int(same.sum()),
        int((~same).sum()),
        correct,
    )


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """TAR at the strictest threshold whose false-accept rate is <= far."""
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    genuine, impostor = scores[same], scores[~same]
    if len(genuine) == 0 or len(impostor) == 0:
        return float("nan")
    allowed = int(np.floor(far * len(impostor)))
    ordered = np.sort(impostor)[::-1]
    thr = ordered[allowed] if allowed < len(ordered) else -np.inf
    return float((genuine > thr).mean())


def det_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds ascending, FAR, FRR) at every distinct score: accept when score >= t."""
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    genuine, impostor = np.sort(scores[same]), np.sort(scores[~same])
    thresholds = np.unique(scores)
    frr = np.searchsorted(genuine, thresholds, side="left") / max(len(genuine), 1)
    far = 1.0 - np.searchsorted(impostor, thresholds, side="left") / max(len(impostor), 1)
    return thresholds, far, frr


def eer(scores: np.ndarray, same: np.ndarray) -> float:
    """Equal error rate: (FAR + FRR) / 2 at the threshold where they are closest."""
    same = np.asarray(same, bool)
    if same.all() or not same.any():
        return float("nan")
    _, far, frr = det_curve(scores, same)
    k = int(np.argmin(np.abs(far - frr)))
    return float((far[k] + frr[k]) / 2)


# --- confidence intervals -----------------------------------------------------------------

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (95% by default); (nan, nan) when n == 0."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def bootstrap_mean(values: Sequence[float], reps: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of a mean (e.g. an MAE from absolute errors)."""
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (reps, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def bootstrap_pairs(
    scores: np.ndarray,
    same: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    reps: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of a verification statistic (TAR@FAR, EER).

    Genuine and impostor scores are resampled separately, so every replicate keeps the
    numbers of each (pairs sharing a photo are treated as independent: the interval is
    if anything too narrow).
    """
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    genuine, impostor = scores[same], scores[~same]
    if len(genuine) == 0 or len(impostor) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.ones(len(genuine), bool), np.zeros(len(impostor), bool)])
    stats = []
    for _ in range(reps):
        g = genuine[rng.integers(0, len(genuine), len(genuine))]
        i = impostor[rng.integers(0, len(impostor), len(impostor))]
        stats.append(statistic(np.concatenate([g, i]), labels))
    return float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))


# --- open-set identification ------------------------------------------------------------


@dataclass
class OpenSetSplit:
    """Which photos are enrolled (gallery), and which are searched (known / unknown probes)."""

    gallery: dict[str, list[int]]  # enrolled identity -> photo indices
    known_probes: list[int]  # other photos of enrolled identities
    unknown_probes: list[int]  # every photo of an identity that is not enrolled


def open_set_split(
    identities: Sequence[str], known_fraction: float = 0.5, per_identity: int = 1, seed: int = 0
) -> OpenSetSplit:
    """Enrol a seeded share of the identities that have >= 2 photos; hold the rest out.

    Each enrolled identity gets ``per_identity`` seeded photos in the gallery (at least
    one photo is always left to search); every photo of a held-out identity, including
    identities with a single photo, is an unknown probe.
    """
    rng = np.random.default_rng(seed)
    by_id: dict[str, list[int]] = {}
    for index, identity in enumerate(identities):
        by_id.setdefault(identity, []).append(index)
    multi = sorted(i for i, idx in by_id.items() if len(idx) >= 2)
    order = [multi[k] for k in rng.permutation(len(multi))]
    known = set(order[: round(known_fraction * len(multi))])
    gallery: dict[str, list[int]] = {}
    known_probes: list[int] = []
    unknown_probes: list[int] = []
    for identity in sorted(by_id):
        photos = by_id[identity]
        if identity not in known:
            unknown_probes.extend(photos)
            continue
        take = min(per_identity, len(photos) - 1)
        chosen = sorted(rng.choice(photos, take, replace=False).tolist())
        gallery[identity] = chosen
        known_probes.extend(p for p in photos if p not in chosen)
    return OpenSetSplit(gallery, sorted(known_probes), sorted(unknown_probes))


@dataclass
class Identification:
    known_probes: int
    rank1: int  # known probes whose best candidate is the right person (no threshold)
    identified: int  # ... and that candidate scores >= the threshold (open-set DIR)
    unknown_probes: int
    rejected: int  # unknown probes with no candidate >= the threshold

    @property
    def rank1_rate(self) -> float:
        return self.rank1 / self.known_probes if self.known_probes else float("nan")

    @property
    def identified_rate(self) -> float:
        return self.identified / self.known_probes if self.known_probes else float("nan")

    @property
    def rejection_rate(self) -> float:
        return self.rejected / self.unknown_probes if self.unknown_probes else float("nan")


def identify_open_set(
    similarity: np.ndarray, identities: Sequence[str], split: OpenSetSplit, threshold: float
) -> Identification:
    """Score every probe against every enrolled person (best of that person's photos).

    ``similarity`` is (N, N) over all photos, higher = more alike; a photo with no face
    should hold a score below any threshold.
    """
    people = sorted(split.gallery)
    if not people:
        return Identification(len(split.known_probes), 0, 0, len(split.unknown_probes), 0)
    columns = [split.gallery[p] for p in people]

    def best(probe: int) -> tuple[str, float]:
        person_scores = [float(np.max(similarity[probe, cols])) for cols in columns]
        k = int(np.argmax(person_scores))
        return people[k], person_scores[k]

    rank1 = identified = 0
    for probe in split.known_probes:
        person, score = best(probe)
        if person == identities[probe]:
            rank1 += 1
            identified += score >= threshold
    rejected = sum(best(probe)[1] < threshold for probe in split.unknown_probes)
    return Identification(
        len(split.known_probes), rank1, int(identified), len(split.unknown_probes), int(rejected)
    )


# --- false matches between different people, per demographic group -------------------


def false_matches(similarity: np.ndarray, threshold: float) -> tuple[int, int]:
    """(false matches, pairs) over the distinct pairs of one group of different people."""
    upper = np.triu_indices(len(similarity), 1)
    values = similarity[upper]
    return int((values >= threshold).sum()), len(values)


def bootstrap_false_match_rate(
    cells: Sequence[np.ndarray], threshold: float, reps: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% interval of a pooled false-match rate, resampling the PEOPLE of each cell.

    ``cells`` are similarity matrices of groups whose pairs are pooled (e.g. the two
    genders of one race). Resampling people rather than pairs respects the fact that one
    face takes part in many pairs; the pair of a person with their own copy is dropped.
    """
    rng = np.random.default_rng(seed)
    rates = []
    for _ in range(reps):
        hits = total = 0
        for matrix in cells:
            n = len(matrix)
            if n < 2:
                continue
            idx = rng.integers(0, n, n)
            sub = matrix[np.ix_(idx, idx)] >= threshold
            keep = np.triu(idx[:, None] != idx[None, :], 1)
            hits += int(sub[keep].sum())
            total += int(keep.sum())
        rates.append(hits / total if total else np.nan)
    return float(np.nanpercentile(rates, 2.5)), float(np.nanpercentile(rates, 97.5))


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


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, nan when undefined (0/0) and inf for x/0."""
    if not (np.isfinite(numerator) and np.isfinite(denominator)):
        return float("nan")
    if denominator == 0:
        return float("nan") if numerator == 0 else float("inf")
    return float(numerator / denominator)


def confusion(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts (len(classes), len(classes)): row = true class, column = predicted class."""
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), np.int64)
    for t, p in zip(truth, predicted, strict=True):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return matrix
