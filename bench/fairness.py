"""Open-set identification fairness: do strangers get named, and does it depend on race?

The protocol of issue #12, run by ``make eval`` on any manifest with identities and
UTKFace-style race labels:

* gallery: ``per_race`` adults of each race (one face each, seeded) plus one seeded photo
  of every identity that has at least two photos;
* stranger probes: other adults of each race, disjoint from the gallery (at most
  ``strangers_per_race`` each), who are in nobody's gallery;
* genuine probes: the other photos of the enrolled identities.

Each probe is searched as ``/api/identify`` searches (``shared.matching.Cohort``, the gallery
itself as the cohort): a stranger is falsely identified when any candidate reaches the
threshold (FPIR), a genuine probe is identified when its top candidate is the right person
and reaches it (DIR). Raw scores (one fixed raw threshold) and normalised scores (AS-norm)
side by side, at the default threshold and at thresholds that give 1% / 5% FPIR overall,
plus the default threshold's FPIR as the gallery grows, and in a mostly-white gallery.
No demographic label is ever used to score: labels only group the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench import metrics
from bench.dataset import Dataset
from bench.systems import SystemRun
from shared.matching import Calibration, Cohort

RACES = ("asian", "black", "indian", "others", "white")
SEEDS = tuple(range(5))
PER_RACE = 39
STRANGERS_PER_RACE = 120
SIZES = (2, 5, 10, 20, 39)  # adults per race in the gallery-size check
FPIRS = (0.01, 0.05)


@dataclass
class Split:
    gallery: list[str]  # photo paths
    persons: list[str]  # person id per gallery photo
    strangers: list[tuple[str, str]]  # (path, race)
    genuine: list[tuple[str, str]]  # (path, person id)


def utk_pool(ds: Dataset, run: SystemRun) -> dict[str, list[str]]:
    """Adults (>= 18) per race label that have an embedding in ``run``."""
    pool: dict[str, list[str]] = {r: [] for r in RACES}
    for entry in ds.attributes:
        race, age = entry.get("race"), entry.get("age")
        adult = age is not None and float(age) >= 18
        if race in pool and adult and run.embeddings.get(entry.path) is not None:
            pool[str(race)].append(entry.path)
    return {r: sorted(paths) for r, paths in pool.items()}


def split(
    ds: Dataset,
    run: SystemRun,
    seed: int,
    per_race: int = PER_RACE,
    extra_white: int = 0,
    strangers_per_race: int = STRANGERS_PER_RACE,
    identities: bool = True,
) -> Split:
    rng = np.random.default_rng(seed)
    gallery: list[str] = []
    persons: list[str] = []
    strangers: list[tuple[str, str]] = []
    for race, paths in utk_pool(ds, run).items():
        shuffled = [paths[i] for i in rng.permutation(len(paths))]
        enrol = min(per_race + (extra_white if race == "white" else 0), len(shuffled) // 2)
        # strangers come from the far end, so every gallery size meets the same strangers
        strangers += [(p, race) for p in shuffled[::-1][:strangers_per_race]]
        for path in shuffled[:enrol]:
            gallery.append(path)
            persons.append(f"utk:{path}")
    by_identity: dict[str, list[str]] = {}
    for entry in ds.verification:
        if run.embeddings.get(entry.path) is not None:
            by_identity.setdefault(str(entry.get("identity")), []).append(entry.path)
    genuine: list[tuple[str, str]] = []
    for identity in sorted(by_identity) if identities else ():
        photos = sorted(by_identity[identity])
        if len(photos) < 2:
            continue
        chosen = photos[int(rng.integers(len(photos)))]
        gallery.append(chosen)
        persons.append(identity)
        genuine += [(p, identity) for p in photos if p != chosen]
    taken = set(gallery)
    strangers = [(p, r) for p, r in strangers if p not in taken]
    return Split(gallery, persons, strangers, genuine)


@dataclass
class Scores:
    """Best candidate per probe under one scoring (higher = more alike)."""

    stranger_best: np.ndarray
    stranger_race: np.ndarray
    genuine_best: np.ndarray
    genuine_right: np.ndarray  # top candidate is the right person


Scorer = Callable[[Split, SystemRun], Scores]


def _vectors(run: SystemRun, paths: list[str]) -> np.ndarray:
    rows = [np.asarray(run.embeddings[p], np.float32) for p in paths]
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def raw_scores(sp: Split, run: SystemRun, similarity: Callable[[np.ndarray], np.ndarray]) -> Scores:
    """Best raw score (the system's own distance -> score map) per probe."""
    gallery = _vectors(run, sp.gallery)
    persons = np.array(sp.persons)

    def best(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if not paths:
            return np.zeros(0), np.array([], dtype=str)
        probes = _vectors(run, paths)
        dist = np.sqrt(((probes[:, None, :] - gallery[None, :, :]) ** 2).sum(-1))
        scores = np.asarray(similarity(dist), np.float64)
        return scores.max(1), persons[scores.argmax(1)]

    s_best, _ = best([p for p, _ in sp.strangers])
    g_best, g_person = best([p for p, _ in sp.genuine])
    right = g_person == np.array([i for _, i in sp.genuine])
    return Scores(s_best, np.array([r for _, r in sp.strangers]), g_best, right)


def normalised_scores(sp: Split, run: SystemRun, calibration: Calibration) -> Scores:
    """Best confidence per probe as /api/identify computes it (AS-norm, gallery as cohort)."""
    cohort = Cohort(_vectors(run, sp.gallery), np.array(sp.persons), calibration)

    def best(path: str) -> tuple[float, str]:
        hits = cohort.search(run.embeddings[path], threshold=0.0, limit=1)
        return (hits[0].confidence, hits[0].person_id) if hits else (0.0, "")

    strangers = [best(p)[0] for p, _ in sp.strangers]
    genuine = [best(p) for p, _ in sp.genuine]
    right = np.array([g[1] == i for g, (_, i) in zip(genuine, sp.genuine, strict=True)], bool)
    return Scores(
        np.array(strangers),
        np.array([r for _, r in sp.strangers]),
        np.array([g[0] for g in genuine], np.float64),
        right,
    )


@dataclass
class Operating:
    """FPIR overall and per race, and DIR, at one threshold."""

    label: str
    threshold: float
    fpir: tuple[int, int]
    fpir_by_race: dict[str, tuple[int, int]]
    dir: tuple[int, int]

    @staticmethod
    def rate(kn: tuple[int, int]) -> float:
        return kn[0] / kn[1] if kn[1] else float("nan")

    def worst_best(self) -> tuple[str, str, float]:
        rates = {r: self.rate(v) for r, v in self.fpir_by_race.items() if v[1]}
        worst = max(rates, key=rates.get)  # type: ignore[arg-type]
        best = min(rates, key=rates.get)  # type: ignore[arg-type]
        floor = 1.0 / max(self.fpir_by_race[best][1], 1)  # one error: ratios stay finite
        return worst, best, rates[worst] / max(rates[best], floor)

    def json(self) -> dict[str, Any]:
        def one(kn: tuple[int, int]) -> dict[str, Any]:
            return {"k": kn[0], "n": kn[1], "rate": self.rate(kn), "ci95": metrics.wilson(*kn)}

        worst, best, ratio = self.worst_best()
        return {
            "label": self.label,
            "threshold": self.threshold,
            "fpir": one(self.fpir),
            "fpir_by_race": {r: one(v) for r, v in self.fpir_by_race.items()},
            "worst": worst,
            "best": best,
            "worst_best_ratio": ratio,
            "dir": one(self.dir),
        }


def operating(label: str, scores: Scores, threshold: float) -> Operating:
    """FPIR (overall, per race) and DIR of ``scores`` at ``threshold``."""
    false = scores.stranger_best >= threshold
    by_race = {
        r: (int(false[scores.stranger_race == r].sum()), int((scores.stranger_race == r).sum()))
        for r in RACES
    }
    found = scores.genuine_right & (scores.genuine_best >= threshold)
    return Operating(
        label,
        float(threshold),
        (int(false.sum()), len(false)),
        by_race,
        (int(found.sum()), len(found)),
    )


def pooled(scores: list[Scores]) -> Scores:
    return Scores(
        np.concatenate([s.stranger_best for s in scores]),
        np.concatenate([s.stranger_race for s in scores]),
        np.concatenate([s.genuine_best for s in scores]),
        np.concatenate([s.genuine_right for s in scores]),
    )


def at_fpir(label: str, scores: Scores, fpir: float) -> Operating:
    """The operating point whose threshold gives ``fpir`` over all strangers pooled."""
    ordered = np.sort(scores.stranger_best)[::-1]
    allowed = int(np.floor(fpir * len(ordered)))
    threshold = np.nextafter(ordered[allowed], np.inf) if allowed < len(ordered) else -np.inf
    return operating(label, scores, float(threshold))


@dataclass
class Scoring:
    """One way of scoring (raw or normalised) for one system, over every seed."""

    name: str
    default: Operating
    at_fpir: list[Operating]
    by_size: list[tuple[int, Operating]] = field(default_factory=list)  # (gallery size, ...)
    mostly_white: Operating | None = None

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default": self.default.json(),
            "at_fpir": [o.json() for o in self.at_fpir],
            "by_size": [{"gallery": n, **o.json()} for n, o in self.by_size],
            "mostly_white": self.mostly_white.json() if self.mostly_white else None,
        }


@dataclass
class FairnessResult:
    system: str
    gallery_size: int
    strangers: int
    genuine: int
    seeds: int
    scorings: list[Scoring]

    def json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "gallery_size": self.gallery_size,
            "strangers": self.strangers,
            "genuine": self.genuine,
            "seeds": self.seeds,
            "scorings": [s.json() for s in self.scorings],
        }


def _scoring(
    name: str,
    ds: Dataset,
    run: SystemRun,
    score: Scorer,
    default_threshold: float,
) -> Scoring:
    main = pooled([score(split(ds, run, seed), run) for seed in SEEDS])
    result = Scoring(
        name,
        operating(f"{name}, default threshold", main, default_threshold),
        [at_fpir(f"{name}, FPIR {f:.0%}", main, f) for f in FPIRS],
    )
    for per_race in SIZES:
        # same-source galleries (UTKFace only): the size changes, the make-up does not
        sized = [split(ds, run, seed, per_race=per_race, identities=False) for seed in SEEDS]
        size = round(np.mean([len(s.gallery) for s in sized]))
        result.by_size.append(
            (size, operating(name, pooled([score(s, run) for s in sized]), default_threshold))
        )
    skewed = pooled([score(split(ds, run, seed, extra_white=200), run) for seed in SEEDS])
    result.mostly_white = operating(f"{name}, mostly-white gallery", skewed, default_threshold)
    return result


def evaluate(ds: Dataset, run: SystemRun, calibration: Calibration) -> FairnessResult | None:
    """Raw vs normalised open-set figures for one system; None without the labels needed."""
    pool = utk_pool(ds, run)
    if sum(len(v) for v in pool.values()) < 2 * len(RACES) or not ds.verification:
        return None
    first = split(ds, run, 0)
    scorings = [
        _scoring(
            "raw score",
            ds,
            run,
            lambda sp, r: raw_scores(sp, r, r.similarity),
            run.threshold,
        ),
        _scoring(
            "normalised (AS-norm)",
            ds,
            run,
            lambda sp, r: normalised_scores(sp, r, calibration),
            0.5,
        ),
    ]
    return FairnessResult(
        run.name, len(first.gallery), len(first.strangers), len(first.genuine), len(SEEDS), scorings
    )


@dataclass
class PairVerification:
    """The verification pairs, raw vs normalised against a race-balanced cohort gallery
    (what ``/api/verify`` does with ``cohortGalleryId``)."""

    cohort_size: int
    pairs: int
    tar: dict[str, dict[float, float]]  # scoring -> FAR -> TAR
    eer: dict[str, float]

    def json(self) -> dict[str, Any]:
        return {
            "cohort_size": self.cohort_size,
            "pairs": self.pairs,
            "tar": {s: {str(f): v for f, v in t.items()} for s, t in self.tar.items()},
            "eer": self.eer,
        }


def pair_verification(
    ds: Dataset, run: SystemRun, calibration: Calibration, per_race: int = PER_RACE
) -> PairVerification | None:
    """TAR at FAR 1e-2 / 1e-3 on the manifest's verification pairs, raw and normalised."""
    from shared.matching import pair_confidence

    entries = [e for e in ds.verification if run.embeddings.get(e.path) is not None]
    pool = utk_pool(ds, run)
    if not entries or not any(pool.values()):
        return None
    rng = np.random.default_rng(0)
    cohort_paths = [p for paths in pool.values() for p in rng.permutation(paths)[:per_race]]
    cohort = Cohort(
        _vectors(run, cohort_paths), np.array([f"c{i}" for i in range(len(cohort_paths))]),
        calibration,
    )  # fmt: skip
    pairs, same = metrics.pairs_for([e.get("identity") for e in entries], 0)
    vectors = _vectors(run, [e.path for e in entries])
    raw = np.array([-np.linalg.norm(vectors[i] - vectors[j]) for i, j in pairs])
    normalised = np.array(
        [pair_confidence(vectors[i], vectors[j], calibration, cohort) for i, j in pairs]
    )
    tar = {
        name: {far: metrics.tar_at_far(scores, same, far) for far in (1e-2, 1e-3)}
        for name, scores in (("raw score", raw), ("normalised (AS-norm)", normalised))
    }
    eer = {
        "raw score": metrics.eer(raw, same),
        "normalised (AS-norm)": metrics.eer(normalised, same),
    }
    return PairVerification(len(cohort_paths), len(pairs), tar, eer)


# --- the report section ------------------------------------------------------------------


def _pct(rate: float) -> str:
    return "n/a" if rate != rate else f"{100 * rate:.1f}%"  # nan != nan


def _kn(kn: tuple[int, int]) -> str:
    lo, hi = metrics.wilson(*kn)
    return f"{_pct(Operating.rate(kn))} [{100 * lo:.1f}, {100 * hi:.1f}] ({kn[0]}/{kn[1]})"


def _row(system: str, o: Operating) -> tuple[str, ...]:
    worst, best, ratio = o.worst_best()
    races = " / ".join(_pct(Operating.rate(o.fpir_by_race[r])) for r in RACES)
    return (system, o.label, _kn(o.fpir), races, f"{worst}/{best} {ratio:.1f}x", _kn(o.dir))


def render_section(results: list[tuple[FairnessResult, PairVerification | None]]) -> list[str]:
    """Markdown: the open-set table, FPIR by gallery size, and the pair figures."""
    first = results[0][0]
    out = [
        "## Fair identification (open set: strangers and genuine probes)",
        "",
        f"Protocol (`bench/fairness.py`, seeds 0-{len(SEEDS) - 1} pooled): a gallery of "
        f"{first.gallery_size} people ({PER_RACE} UTKFace adults per race, one face each, plus "
        "one photo of each verification identity), "
        f"{first.strangers} stranger probes per seed (UTKFace adults of every race, in nobody's "
        f"gallery) and {first.genuine} genuine probes per seed (the identities' other photos). "
        "A stranger with any candidate at the threshold is a false identification (FPIR); a "
        "genuine probe whose top candidate is right and reaches it is identified (DIR). "
        "Raw: one fixed threshold on the raw score (the system's own). Normalised: "
        "`/api/identify`'s scores (AS-norm against the gallery, `shared/matching`); "
        "'default' is confidence 0.5. Race labels only group the figures.",
        "",
        "| system | scoring, threshold | stranger FPIR | FPIR asian / black / indian / "
        "others / white | worst/best | DIR |",
        "|---|---|---|---|---|---|",
    ]
    for result, _ in results:
        for scoring in result.scorings:
            for o in [scoring.default, *scoring.at_fpir]:
                out.append("| " + " | ".join(_row(result.system, o)) + " |")
    out += [
        "",
        "The default threshold as galleries grow (same-source galleries: UTKFace adults only, "
        "the same strangers) and in a mostly-white gallery (200 more white adults): FPIR "
        "(worst race).",
        "",
    ]
    header = ["system", "scoring"]
    for result, _ in results:
        sizes = [n for n, _ in result.scorings[0].by_size]
        header = ["system", "scoring", *(f"{n} people" for n in sizes), "mostly white"]
        break
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result, _ in results:
        for scoring in result.scorings:
            cells = []
            for o in [*(o for _, o in scoring.by_size), scoring.mostly_white]:
                if o is None:
                    cells.append("-")
                    continue
                worst = max(RACES, key=lambda r, o=o: Operating.rate(o.fpir_by_race[r]))
                rate = Operating.rate(o.fpir_by_race[worst])
                cells.append(f"{_pct(Operating.rate(o.fpir))} ({worst} {_pct(rate)})")
            out.append(f"| {result.system} | {scoring.name} | " + " | ".join(cells) + " |")
    pair_rows = [(r.system, p) for r, p in results if p is not None]
    if pair_rows:
        out += [
            "",
            f"Verification pairs ({pair_rows[0][1].pairs}), raw vs normalised against a "
            f"race-balanced cohort of {pair_rows[0][1].cohort_size} UTKFace adults (what "
            "`/api/verify` does with `cohortGalleryId`):",
            "",
            "| system | scoring | TAR at FAR 1e-2 | TAR at FAR 1e-3 | EER |",
            "|---|---|---|---|---|",
        ]
        for system, p in pair_rows:
            for name, tar in p.tar.items():
                out.append(
                    f"| {system} | {name} | {_pct(tar[1e-2])} | {_pct(tar[1e-3])} | "
                    f"{_pct(p.eer[name])} |"
                )
    return out
