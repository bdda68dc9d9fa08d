"""Accuracy of shared.vision on a labelled photo directory: ``python -m bench.eval --data DIR``.

Reads DIR/manifest.json (the format of /work/shared/eval, see bench.dataset) and prints:
detection recall / false detections (overall, per source, WIDER easy / medium),
verification accuracy / EER / TAR at FAR 1e-2 and 1e-3 (overall and per source), age MAE,
gender accuracy (answered / all / answered rate) and emotion accuracy, per race and gender
where labelled, with the worst and best group. Nothing is cached or written to the repo.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from bench import metrics
from bench.dataset import Dataset, Entry, load
from shared.errors import FaceGateError
from shared.vision.analyzer import Analyzer, to_rgb
from shared.vision.face import Face
from shared.vision.recognizer import DISTANCE_THRESHOLD, distance_to_confidence

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


def progress(items: list[Any], what: str) -> Iterator[Any]:
    yield from tqdm(items, desc=what, unit="img", file=sys.stderr, dynamic_ncols=True)


# --- running the pipeline --------------------------------------------------------------


def largest_face(
    analyzer: Analyzer,
    rgb: np.ndarray,
    attributes: Iterable[str],
    *,
    embeddings: bool = False,
    cropped: bool = False,
) -> Face | None:
    """The largest detected face; for a face crop with no detection, the whole crop."""
    faces = analyzer.analyze(rgb, tuple(attributes), embeddings=embeddings, max_faces=1)
    if faces or not cropped:
        return faces[0] if faces else None
    h, w = rgb.shape[:2]
    rect = {"left": 0, "top": 0, "width": w, "height": h}
    return analyzer.analyze(rgb, tuple(attributes), embeddings=embeddings, face_rectangles=[rect])[
        0
    ]


def decode(ds: Dataset, entry: Entry) -> np.ndarray | None:
    try:
        return to_rgb(ds.read(entry))
    except FaceGateError:
        return None


# --- detection ---------------------------------------------------------------------------


@dataclass
class DetectionReport:
    per_source: dict[str, metrics.DetectionCount] = field(default_factory=dict)
    wider: dict[str, metrics.DetectionCount] = field(default_factory=dict)
    seconds: float = 0.0
    images: int = 0


def run_detection(analyzer: Analyzer, ds: Dataset) -> DetectionReport:
    report = DetectionReport()
    keys = ("easy", "medium", "easy_min_face", "medium_min_face", "all")
    report.wider = {k: metrics.DetectionCount() for k in keys}
    for entry in progress(ds.detection, "detection"):
        rgb = decode(ds, entry)
        boxes = np.zeros((0, 4))
        if rgb is not None:
            start = time.perf_counter()
            faces = analyzer.analyze(rgb, (), landmarks=False)
            report.seconds += time.perf_counter() - start
            report.images += 1
            boxes = np.array([f.box for f in faces]).reshape(-1, 4)
        if entry.get("gt_index_easy") is not None:
            for key, count in metrics.score_wider(entry.labels, boxes).items():
                report.wider[key].add(count)
            continue
        if entry.get("boxes_xywh"):
            count = metrics.score_boxes(entry.get("boxes_xywh"), boxes)
        else:
            count = metrics.score_count(int(entry.get("expected_faces", 0)), len(boxes))
        report.per_source.setdefault(entry.source, metrics.DetectionCount()).add(count)
    return report


# --- verification ----------------------------------------------------------------------


@dataclass
class VerificationReport:
    overall: metrics.Verification | None = None
    per_source: dict[str, metrics.Verification] = field(default_factory=dict)
    missing: int = 0
    distances: np.ndarray = field(default_factory=lambda: np.zeros(0))
    same: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def run_verification(analyzer: Analyzer, ds: Dataset, seed: int = 0) -> VerificationReport:
    entries = ds.verification
    embeddings: list[np.ndarray | None] = []
    for entry in progress(entries, "verification"):
        rgb = decode(ds, entry)
        face = None if rgb is None else largest_face(analyzer, rgb, (), embeddings=True)
        embeddings.append(None if face is None else face.embedding)
    report = VerificationReport(missing=sum(e is None for e in embeddings))
    pairs, same = metrics.pairs_for([e.get("identity") for e in entries], seed)
    dist = np.array(
        [
            np.inf
            if embeddings[i] is None or embeddings[j] is None
            else float(np.linalg.norm(embeddings[i] - embeddings[j]))
            for i, j in pairs
        ]
    )
    report.distances, report.same = dist, same
    scores = np.nan_to_num(distance_to_confidence(dist), nan=0.0)
    report.overall = metrics.verification(scores, same, 0.5)
    sources = np.array([entries[i].source for i, _ in pairs])
    for source in sorted(set(sources)):
        mask = sources == source
        if same[mask].any() and (~same[mask]).any():
            report.per_source[source] = metrics.verification(scores[mask], same[mask], 0.5)
    return report


# --- attributes ----------------------------------------------------------------------


@dataclass
class AttributeRecord:
    entry: Entry
    age: float | None = None
    gender: str | None = None
    gender_confidence: float | None = None
    emotion: str | None = None
    forced_gender: str | None = None  # the model's answer without abstention
    found: bool = False


def run_attributes(analyzer: Analyzer, ds: Dataset) -> list[AttributeRecord]:
    records = []
    for entry in progress(ds.attributes, "attributes"):
        wanted = [
            key
            for key, label in (("age", "age"), ("gender", "gender"), ("emotion", "emotion"))
            if entry.get(label) is not None
        ]
        record = AttributeRecord(entry)
        rgb = decode(ds, entry)
        if rgb is not None and wanted:
            face = largest_face(analyzer, rgb, wanted, cropped=bool(entry.get("cropped_face")))
            if face is not None:
                record.found = True
                attrs = face.attributes
                record.age = attrs.get("age")
                record.gender = attrs.get("gender")
                record.gender_confidence = attrs.get("genderConfidence")
                if "gender" in attrs:
                    _, p_male = analyzer.age_gender_model.infer(rgb, face.box)
                    record.forced_gender = "male" if p_male >= 0.5 else "female"
                if "emotion" in attrs:
                    record.emotion = max(attrs["emotion"], key=attrs["emotion"].get)
        records.append(record)
    return records


# --- printing ------------------------------------------------------------------------


def pct(x: float) -> str:
    return "  n/a" if x is None or not math.isfinite(x) else f"{100 * x:5.1f}%"


def print_detection(rep: DetectionReport) -> None:
    print("\n## Detection (labelled photos: count- and box-labelled)")
    print(f"{'source':20s} {'found':>9s} {'recall':>7s} {'false':>6s} {'false %':>8s}")
    total = metrics.DetectionCount()
    for source, c in sorted(rep.per_source.items()):
        total.add(c)
        print(
            f"{source:20s} {c.found:4d}/{c.expected:<4d} {pct(c.recall)} {c.false:6d} "
            f"{pct(c.false_rate)}"
        )
    print(
        f"{'ALL labelled':20s} {total.found:4d}/{total.expected:<4d} {pct(total.recall)} "
        f"{total.false:6d} {pct(total.false_rate)}"
    )
    if rep.wider["all"].expected:
        w = rep.wider
        print(
            f"WIDER FACE (stretched 416px copies): easy {w['easy'].found}/{w['easy'].expected} "
            f"= {pct(w['easy'].recall)}, medium {w['medium'].found}/{w['medium'].expected} = "
            f"{pct(w['medium'].recall)}, all faces {pct(w['all'].recall)}; unmatched detections "
            f"{w['all'].false}/{w['all'].detected}"
        )
        print(
            f"WIDER faces >= {metrics.MIN_FACE} px wide: easy "
            f"{w['easy_min_face'].found}/{w['easy_min_face'].expected} = "
            f"{pct(w['easy_min_face'].recall)}, medium {w['medium_min_face'].found}/"
            f"{w['medium_min_face'].expected} = {pct(w['medium_min_face'].recall)}"
        )
    if rep.images:
        print(f"mean detection time {1000 * rep.seconds / rep.images:.1f} ms/image")


def print_verification(rep: VerificationReport) -> None:
    print(f"\n## Verification (decision threshold: distance {DISTANCE_THRESHOLD} = confidence 0.5)")
    print(
        f"{'source':20s} {'pairs':>6s} {'acc':>7s} {'EER':>7s} {'TAR@1e-2':>9s} "
        f"{'TAR@1e-3':>9s} {'best acc':>9s}"
    )
    rows = [*sorted(rep.per_source.items()), ("ALL", rep.overall)]
    for source, v in rows:
        if v is None:
            continue
        print(
            f"{source:20s} {v.pairs:6d} {pct(v.accuracy)} {pct(v.eer)} {pct(v.tar[1e-2]):>9s} "
            f"{pct(v.tar[1e-3]):>9s} {pct(v.best_accuracy):>9s}"
        )
    print(f"photos with no face found: {rep.missing}")
    genuine = rep.distances[rep.same & np.isfinite(rep.distances)]
    impostor = rep.distances[~rep.same & np.isfinite(rep.distances)]
    if len(genuine) and len(impostor):
        print(
            f"distance: same-person median {np.median(genuine):.3f} (p99 "
            f"{np.percentile(genuine, 99):.3f}); different median {np.median(impostor):.3f} "
            f"(min {impostor.min():.3f})"
        )


def print_attributes(records: list[AttributeRecord]) -> None:
    print("\n## Attributes")
    age = [r for r in records if r.entry.get("age") is not None and r.age is not None]
    if age:
        _age_table([r for r in age if r.entry.source.startswith("utkface")] or age, "UTKFace")
    gender = [r for r in records if r.entry.get("gender") is not None]
    if gender:
        _gender_table([r for r in gender if r.entry.source.startswith("utkface")] or gender)
    emo = [r for r in records if r.entry.get("emotion") is not None]
    if emo:
        _emotion_table(emo)
    labelled = [r for r in records if any(r.entry.get(k) for k in ("age", "gender", "emotion"))]
    missing = sum(not r.found for r in labelled)
    print(f"labelled attribute photos with no face analysed: {missing}/{len(labelled)}")


def _adults(recs: list[AttributeRecord]) -> list[AttributeRecord]:
    return [r for r in recs if r.entry.get("age") is not None and float(r.entry.get("age")) >= 18]


def _age_table(recs: list[AttributeRecord], name: str) -> None:
    err = [(r, abs(r.age - float(r.entry.get("age")))) for r in recs]
    print(f"\n### Age MAE ({name}, {len(err)} faces): {np.mean([e for _, e in err]):.2f} years")
    adult_err = [(r, e) for r, e in err if float(r.entry.get("age")) >= 18]
    for key, rows in (("race", err), ("gender", err), ("race, adults only", adult_err)):
        label = key.split(",")[0]
        groups = metrics.group_by(
            (str(r.entry.get(label)), e) for r, e in rows if r.entry.get(label)
        )
        per = {g: float(np.mean(v)) for g, v in groups.items()}
        worst, best, gap = metrics.worst_best(per, higher_is_better=False)
        line = ", ".join(f"{g} {v:.2f} (n={len(groups[g])})" for g, v in sorted(per.items()))
        print(f"by {key}: {line}; worst {worst} vs best {best}: {gap:.2f} years")


def _gender_table(recs: list[AttributeRecord]) -> None:
    def acc(rs: list[AttributeRecord]) -> tuple[float, float, float]:
        answered = [r for r in rs if r.gender in ("male", "female")]
        right = sum(r.gender == r.entry.get("gender") for r in answered)
        # all-faces accuracy: abstentions and misses count as wrong
        return (
            right / len(answered) if answered else float("nan"),
            right / len(rs) if rs else float("nan"),
            len(answered) / len(rs) if rs else float("nan"),
        )

    a, b, c = acc(recs)
    forced = np.mean([r.forced_gender == r.entry.get("gender") for r in recs])
    print(
        f"\n### Gender ({len(recs)} faces): accuracy on answered {pct(a)}, answered {pct(c)}; "
        f"all faces: {pct(forced)} forced choice (no abstention), {pct(b)} counting every "
        f"abstention as an error"
    )
    for key, rows in (("race", recs), ("gender", recs), ("race, adults only", _adults(recs))):
        label = key.split(",")[0]
        groups: dict[str, list[AttributeRecord]] = {}
        for r in rows:
            if r.entry.get(label):
                groups.setdefault(str(r.entry.get(label)), []).append(r)
        per = {g: acc(rs) for g, rs in groups.items()}
        worst, best, gap = metrics.worst_best({g: v[0] for g, v in per.items()}, True)
        line = ", ".join(
            f"{g} {pct(v[0])} answered / {pct(v[1])} all / {pct(v[2])} rate (n={len(groups[g])})"
            for g, v in sorted(per.items())
        )
        print(f"by {key}: {line}; worst {worst} vs best {best}: {100 * gap:.1f} points")


def _emotion_table(recs: list[AttributeRecord]) -> None:
    by_source: dict[str, list[AttributeRecord]] = {}
    for r in recs:
        by_source.setdefault(r.entry.source, []).append(r)
    print("\n### Emotion accuracy (top class; Azure names)")
    for source, rs in sorted(by_source.items()):
        right = sum(AZURE_EMOTION.get(r.entry.get("emotion")) == r.emotion for r in rs)
        print(f"{source:22s} {right}/{len(rs)} = {pct(right / len(rs))}")
        classes = metrics.group_by(
            (r.entry.get("emotion"), float(AZURE_EMOTION.get(r.entry.get("emotion")) == r.emotion))
            for r in rs
        )
        if len(rs) > 50:
            print(
                "   per class: "
                + ", ".join(
                    f"{k} {pct(np.mean(v))} (n={len(v)})" for k, v in sorted(classes.items())
                )
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="directory with a manifest.json")
    parser.add_argument(
        "--only",
        choices=("detection", "verification", "attributes"),
        action="append",
        help="run only these parts (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for impostor pairs")
    args = parser.parse_args(argv)
    ds = load(args.data)
    parts = set(args.only or ("detection", "verification", "attributes"))
    analyzer = Analyzer()
    print(f"# shared.vision accuracy on {args.data}")
    print(f"models: {analyzer.versions()}")
    if "detection" in parts and ds.detection:
        print_detection(run_detection(analyzer, ds))
    if "verification" in parts and ds.verification:
        print_verification(run_verification(analyzer, ds, args.seed))
    if "attributes" in parts and ds.attributes:
        print_attributes(run_attributes(analyzer, ds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
