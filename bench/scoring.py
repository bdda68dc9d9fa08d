"""Turn a system's raw outputs (bench.systems.SystemRun) into the report's figures.

Every figure comes with its sample size and a 95% interval: Wilson for proportions,
percentile bootstrap (1000 replicates, seed 0) for MAE, EER and TAR@FAR, and a bootstrap
over people for false-match rates. The same functions score FaceGate and the peer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench import metrics
from bench.dataset import Dataset, Entry
from bench.ours import AttributeRecord
from bench.systems import SystemRun

FARS = (1e-2, 1e-3)
ID_SEEDS = tuple(range(10))
RACES = ("asian", "black", "indian", "others", "white")
GENDERS = ("female", "male")
AZURE_EMOTION = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "sad": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
    "contempt": "contempt",
}
EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")


@dataclass
class Proportion:
    k: int
    n: int

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else float("nan")

    @property
    def ci(self) -> tuple[float, float]:
        return metrics.wilson(self.k, self.n)

    def json(self) -> dict[str, Any]:
        return {"k": self.k, "n": self.n, "rate": self.rate, "ci95": list(self.ci)}


@dataclass
class Estimate:
    value: float
    ci: tuple[float, float]
    n: int

    def json(self) -> dict[str, Any]:
        return {"value": self.value, "ci95": list(self.ci), "n": self.n}


@dataclass
class GroupComparison:
    """A figure per group, and the worst group against the best."""

    per_group: dict[str, Any]  # group -> Proportion | Estimate
    worst: str
    best: str
    gap: float  # absolute difference (points for rates, years for MAE)
    ratio: float  # worst / best of the figure itself
    error_ratio: float  # worst / best of the error (1 - rate) for rates; = ratio for MAE

    def json(self) -> dict[str, Any]:
        return {
            "per_group": {g: v.json() for g, v in self.per_group.items()},
            "worst": self.worst,
            "best": self.best,
            "gap": self.gap,
            "ratio": self.ratio,
            "error_ratio": self.error_ratio,
        }


def compare_groups(
    per_group: dict[str, Any], value: Callable[[Any], float], higher_is_better: bool
) -> GroupComparison:
    values = {g: value(v) for g, v in per_group.items()}
    worst, best, gap = metrics.worst_best(values, higher_is_better)
    if worst == "-":
        return GroupComparison(per_group, worst, best, gap, float("nan"), float("nan"))
    ratio = metrics.ratio(values[worst], values[best])
    error_ratio = metrics.ratio(1 - values[worst], 1 - values[best]) if higher_is_better else ratio
    return GroupComparison(per_group, worst, best, gap, ratio, error_ratio)


# --- detection ---------------------------------------------------------------------------


@dataclass
class DetectionResult:
    per_source: dict[str, metrics.DetectionCount]
    labelled: metrics.DetectionCount
    wider: dict[str, metrics.DetectionCount]
    by_size: list[tuple[str, int, int]]
    ms_per_image: float
    images: int

    @property
    def precision(self) -> Proportion:
        c = self.labelled
        return Proportion(c.detected - c.false, c.detected)

    def json(self) -> dict[str, Any]:
        def count(c: metrics.DetectionCount) -> dict[str, Any]:
            return {
                "found": c.found,
                "expected": c.expected,
                "false": c.false,
                "detected": c.detected,
                "recall_ci95": list(metrics.wilson(c.found, c.expected)),
            }

        return {
            "per_source": {s: count(c) for s, c in self.per_source.items()},
            "labelled": count(self.labelled),
            "precision": self.precision.json(),
            "wider": {k: count(c) for k, c in self.wider.items()},
            "by_size": [{"width_px": b, "found": f, "total": t} for b, f, t in self.by_size],
            "ms_per_image": self.ms_per_image,
            "images": self.images,
        }


def detection(run: SystemRun, ds: Dataset) -> DetectionResult:
    per_source: dict[str, metrics.DetectionCount] = {}
    keys = ("easy", "medium", "easy_min_face", "medium_min_face", "all")
    wider = {k: metrics.DetectionCount() for k in keys}
    sizes: list[tuple[float, bool]] = []
    for entry in ds.detection:
        boxes = run.detections.get(entry.path, np.zeros((0, 4)))
        sizes += metrics.face_sizes(entry.labels, boxes)
        if entry.get("gt_index_easy") is not None:
            for key, count in metrics.score_wider(entry.labels, boxes).items():
                wider[key].add(count)
            continue
        if entry.get("boxes_xywh"):
            count = metrics.score_boxes(entry.get("boxes_xywh"), boxes)
        else:
            count = metrics.score_count(int(entry.get("expected_faces", 0)), len(boxes))
        per_source.setdefault(entry.source, metrics.DetectionCount()).add(count)
    labelled = metrics.DetectionCount()
    for count in per_source.values():
        labelled.add(count)
    seconds = run.detect_seconds
    return DetectionResult(
        per_source,
        labelled,
        wider,
        metrics.recall_by_size(sizes),
        1000 * float(np.mean(seconds)) if seconds else float("nan"),
        len(seconds),
    )


# --- verification ------------------------------------------------------------------------


@dataclass
class VerificationResult:
    overall: metrics.Verification
    accuracy_ci: tuple[float, float]
    eer_ci: tuple[float, float]
    tar_ci: dict[float, tuple[float, float]]
    per_source: dict[str, metrics.Verification]
    missing: int
    photos: int
    scores: np.ndarray
    same: np.ndarray
    ms_per_image: float  # detection + embedding of the largest face

    def json(self) -> dict[str, Any]:
        def ver(v: metrics.Verification) -> dict[str, Any]:
            return {
                "pairs": v.pairs,
                "genuine": v.genuine,
                "impostor": v.impostor,
                "accuracy": v.accuracy,
                "eer": v.eer,
                "tar": {str(k): t for k, t in v.tar.items()},
                "best_accuracy": v.best_accuracy,
            }

        return {
            "overall": {
                **ver(self.overall),
                "accuracy_ci95": list(self.accuracy_ci),
                "eer_ci95": list(self.eer_ci),
                "tar_ci95": {str(k): list(v) for k, v in self.tar_ci.items()},
            },
            "per_source": {s: ver(v) for s, v in self.per_source.items()},
            "photos_without_face": self.missing,
            "photos": self.photos,
            "ms_per_image": self.ms_per_image,
        }


def verification(run: SystemRun, ds: Dataset, seed: int = 0) -> VerificationResult:
    entries = ds.verification
    paths = [e.path for e in entries]
    similarity = run.similarity_matrix(paths)
    pairs, same = metrics.pairs_for([e.get("identity") for e in entries], seed)
    scores = similarity[pairs[:, 0], pairs[:, 1]]
    overall = metrics.verification(scores, same, run.threshold)
    per_source = {}
    sources = np.array([entries[i].source for i, _ in pairs])
    for source in sorted(set(sources)):
        mask = sources == source
        if same[mask].any() and (~same[mask]).any():
            per_source[source] = metrics.verification(scores[mask], same[mask], run.threshold)
    tar_ci = {
        far: metrics.bootstrap_pairs(
            scores, same, lambda s, y, far=far: metrics.tar_at_far(s, y, far)
        )
        for far in FARS
    }
    seconds = run.embed_seconds
    return VerificationResult(
        overall,
        metrics.wilson(overall.correct, overall.pairs),
        metrics.bootstrap_pairs(scores, same, metrics.eer),
        tar_ci,
        per_source,
        sum(run.embeddings.get(p) is None for p in paths),
        len(paths),
        scores,
        same,
        1000 * float(np.mean(seconds)) if seconds else float("nan"),
    )


# --- open-set identification --------------------------------------------------------------


@dataclass
class IdentificationResult:
    split: metrics.OpenSetSplit
    first: metrics.Identification  # seed 0
    seeds: list[metrics.Identification]

    def spread(self, attr: str) -> tuple[float, float, float]:
        """(mean, min, max) of a rate over the seeds."""
        values = [getattr(r, attr) for r in self.seeds]
        return float(np.mean(values)), float(np.min(values)), float(np.max(values))

    def json(self) -> dict[str, Any]:
        def one(r: metrics.Identification) -> dict[str, Any]:
            return {
                "known_probes": r.known_probes,
                "rank1": r.rank1,
                "identified": r.identified,
                "unknown_probes": r.unknown_probes,
                "rejected": r.rejected,
            }

        return {
            "enrolled_identities": len(self.split.gallery),
            "seed0": one(self.first),
            "seeds": [one(r) for r in self.seeds],
        }


def identification(run: SystemRun, ds: Dataset) -> IdentificationResult:
    entries = ds.verification
    identities = [str(e.get("identity")) for e in entries]
    similarity = run.similarity_matrix([e.path for e in entries])
    results = []
    for seed in ID_SEEDS:
        split = metrics.open_set_split(identities, seed=seed)
        results.append(metrics.identify_open_set(similarity, identities, split, run.threshold))
    return IdentificationResult(metrics.open_set_split(identities, seed=0), results[0], results)


# --- false matches per demographic group (UTKFace adults) -----------------------------


def false_match_cells(
    ds: Dataset, per_cell: int, seed: int = 0
) -> dict[tuple[str, str], list[str]]:
    """Seeded sample of adult (>= 18) UTKFace faces per (race, gender), at most per_cell each."""
    rng = np.random.default_rng(seed)
    cells: dict[tuple[str, str], list[str]] = {}
    for entry in ds.attributes:
        race, gender, age = entry.get("race"), entry.get("gender"), entry.get("age")
        if race and gender and age is not None and float(age) >= 18:
            cells.setdefault((str(race), str(gender)), []).append(entry.path)
    out = {}
    for key in sorted(cells):
        paths = sorted(cells[key])
        if len(paths) > per_cell:
            paths = sorted(rng.choice(paths, per_cell, replace=False).tolist())
        out[key] = paths
    return out


@dataclass
class FalseMatchResult:
    by_race: GroupComparison
    by_gender: GroupComparison
    overall: Estimate
    cells: dict[tuple[str, str], tuple[int, int, int]]  # (faces, false matches, pairs)
    missing: int

    def json(self) -> dict[str, Any]:
        return {
            "by_race": self.by_race.json(),
            "by_gender": self.by_gender.json(),
            "overall": self.overall.json(),
            "cells": {f"{r}/{g}": list(v) for (r, g), v in self.cells.items()},
            "faces_without_embedding": self.missing,
        }


def false_match_rates(run: SystemRun, cells: dict[tuple[str, str], list[str]]) -> FalseMatchResult:
    """False-match rate at the system's own threshold among different people of one group.

    Every pair of two different UTKFace faces of the same race and gender is an impostor
    pair (UTKFace has no identity labels: a person photographed twice counts as a false
    match, so the rates are upper bounds, for every system alike).
    """
    matrices = {key: run.similarity_matrix(paths) for key, paths in cells.items()}
    counted = {key: metrics.false_matches(m, run.threshold) for key, m in matrices.items()}

    def pooled(keys: Sequence[tuple[str, str]]) -> Estimate:
        hits = sum(counted[k][0] for k in keys)
        pairs = sum(counted[k][1] for k in keys)
        ci = metrics.bootstrap_false_match_rate([matrices[k] for k in keys], run.threshold)
        return Estimate(hits / pairs if pairs else float("nan"), ci, pairs)

    by_race = {r: pooled([k for k in cells if k[0] == r]) for r in sorted({k[0] for k in cells})}
    by_gender = {g: pooled([k for k in cells if k[1] == g]) for g in sorted({k[1] for k in cells})}
    missing = sum(run.embeddings.get(p) is None for paths in cells.values() for p in paths)
    return FalseMatchResult(
        compare_groups(by_race, lambda e: e.value, higher_is_better=False),
        compare_groups(by_gender, lambda e: e.value, higher_is_better=False),
        pooled(list(cells)),
        {k: (len(cells[k]), *counted[k]) for k in cells},
        missing,
    )


# --- attributes ----------------------------------------------------------------------


def _label(record: AttributeRecord, key: str) -> str | None:
    value = record.entry.get(key)
    return None if value is None else str(value)


def _adult(record: AttributeRecord) -> bool:
    return record.entry.get("age") is not None and float(record.entry.get("age")) >= 18


def _groups(records: list[AttributeRecord], key: str) -> dict[str, list[AttributeRecord]]:
    out: dict[str, list[AttributeRecord]] = {}
    for r in records:
        label = _label(r, key)
        if label:
            out.setdefault(label, []).append(r)
    return dict(sorted(out.items()))


GROUPINGS = (("race", "race", False), ("gender", "gender", False), ("race, adults", "race", True))


@dataclass
class AgeResult:
    source: str
    overall: Estimate
    groups: dict[str, GroupComparison]
    errors: dict[str, np.ndarray] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "overall": self.overall.json(),
            "groups": {k: g.json() for k, g in self.groups.items()},
        }


def age(records: list[AttributeRecord]) -> AgeResult | None:
    rows = [r for r in records if r.entry.get("age") is not None and r.age is not None]
    utk = [r for r in rows if r.entry.source.startswith("utkface")]
    source = "UTKFace" if utk else "all age-labelled photos"
    rows = utk or rows
    if not rows:
        return None

    def mae(rs: list[AttributeRecord]) -> Estimate:
        err = np.array([abs(float(r.age) - float(r.entry.get("age"))) for r in rs])
        return Estimate(float(err.mean()), metrics.bootstrap_mean(err), len(err))

    groups = {}
    for name, key, adults in GROUPINGS:
        chosen = [r for r in rows if _adult(r)] if adults else rows
        per = {g: mae(rs) for g, rs in _groups(chosen, key).items()}
        if per:
            groups[name] = compare_groups(per, lambda e: e.value, higher_is_better=False)
    return AgeResult(source, mae(rows), groups)


@dataclass
class GenderFigures:
    answered: Proportion  # right / answered
    all_faces: Proportion  # right / all (abstentions count as errors)
    rate: Proportion  # answered / all
    forced: Proportion  # forced choice (no abstention) right / all

    def json(self) -> dict[str, Any]:
        return {
            "answered": self.answered.json(),
            "all_faces": self.all_faces.json(),
            "answer_rate": self.rate.json(),
            "forced_choice": self.forced.json(),
        }


@dataclass
class GenderResult:
    source: str
    overall: GenderFigures
    groups: dict[str, GroupComparison]  # compared on accuracy on answered faces

    def json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "overall": self.overall.json(),
            "groups": {k: g.json() for k, g in self.groups.items()},
        }


def gender_figures(rs: list[AttributeRecord]) -> GenderFigures:
    answered = [r for r in rs if r.gender in ("male", "female")]
    right = sum(r.gender == r.entry.get("gender") for r in answered)
    forced = sum(r.forced_gender == r.entry.get("gender") for r in rs)
    return GenderFigures(
        Proportion(right, len(answered)),
        Proportion(right, len(rs)),
        Proportion(len(answered), len(rs)),
        Proportion(forced, len(rs)),
    )


def gender(records: list[AttributeRecord]) -> GenderResult | None:
    rows = [r for r in records if r.entry.get("gender") is not None]
    utk = [r for r in rows if r.entry.source.startswith("utkface")]
    source = "UTKFace" if utk else "all gender-labelled photos"
    rows = utk or rows
    if not rows:
        return None
    groups = {}
    for name, key, adults in GROUPINGS:
        chosen = [r for r in rows if _adult(r)] if adults else rows
        per = {g: gender_figures(rs) for g, rs in _groups(chosen, key).items()}
        if per:
            groups[name] = compare_groups(per, lambda f: f.answered.rate, higher_is_better=True)
    return GenderResult(source, gender_figures(rows), groups)


@dataclass
class EmotionResult:
    per_source: dict[str, Proportion]
    per_class: dict[str, dict[str, Proportion]]  # source -> class -> right / n
    confusion_source: str
    confusion: np.ndarray  # rows: true EMOTIONS, columns: predicted EMOTIONS + contempt

    def json(self) -> dict[str, Any]:
        return {
            "per_source": {s: p.json() for s, p in self.per_source.items()},
            "per_class": {
                s: {c: p.json() for c, p in classes.items()}
                for s, classes in self.per_class.items()
            },
            "confusion_source": self.confusion_source,
            "confusion_rows_true": list(EMOTIONS),
            "confusion_columns_predicted": [*EMOTIONS, "contempt"],
            "confusion": self.confusion.tolist(),
        }


def emotion(records: list[AttributeRecord]) -> EmotionResult | None:
    rows = [r for r in records if r.entry.get("emotion") is not None]
    if not rows:
        return None
    by_source: dict[str, list[AttributeRecord]] = {}
    for r in rows:
        by_source.setdefault(r.entry.source, []).append(r)
    per_source, per_class = {}, {}
    for source, rs in sorted(by_source.items()):
        truth = [AZURE_EMOTION.get(str(r.entry.get("emotion"))) for r in rs]
        per_source[source] = Proportion(
            sum(t == r.emotion for t, r in zip(truth, rs, strict=True)), len(rs)
        )
        classes: dict[str, list[bool]] = {}
        for t, r in zip(truth, rs, strict=True):
            classes.setdefault(str(t), []).append(t == r.emotion)
        per_class[source] = {c: Proportion(sum(v), len(v)) for c, v in sorted(classes.items())}
    largest = max(by_source, key=lambda s: len(by_source[s]))
    rs = by_source[largest]
    matrix = metrics.confusion(
        [str(AZURE_EMOTION.get(str(r.entry.get("emotion")))) for r in rs],
        [str(r.emotion) for r in rs],
        [*EMOTIONS, "contempt"],
    )[: len(EMOTIONS)]
    return EmotionResult(per_source, per_class, largest, matrix)


def attribute_coverage(records: list[AttributeRecord]) -> tuple[int, int]:
    """(labelled attribute photos with no face analysed, labelled attribute photos)."""
    labelled = [r for r in records if any(r.entry.get(k) for k in ("age", "gender", "emotion"))]
    return sum(not r.found for r in labelled), len(labelled)


def entry_groups(entries: list[Entry]) -> dict[str, int]:
    """Counts per source folder, for the data section."""
    out: dict[str, int] = {}
    for e in entries:
        out[e.source] = out.get(e.source, 0) + 1
    return dict(sorted(out.items()))
