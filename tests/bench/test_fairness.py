"""bench.fairness on synthetic embeddings: the open-set protocol, its figures and the
report section (the figures on real photos live in docs/accuracy.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import fairness
from bench.dataset import Dataset, Entry
from bench.systems import SystemRun
from shared.matching import calibration_for
from shared.vision import RECOGNITION_MODEL
from shared.vision.recognizer import distance_to_confidence

DIM = 128
rate = fairness.Operating.rate


def synthetic(rng: np.random.Generator) -> tuple[Dataset, SystemRun]:
    """Five 'races' of different crowding, 60 adults each, and 12 identities x 4 photos."""
    attributes, verification = [], []
    run = SystemRun("synthetic", "v", 0.5, "distance 0.56", distance_to_confidence)
    for r, race in enumerate(fairness.RACES):
        center = rng.normal(scale=1 / np.sqrt(DIM), size=DIM)
        spread = 0.45 + 0.08 * r  # asian-labelled faces the most crowded
        for i in range(60):
            path = f"utk/{race}{i}.jpg"
            attributes.append(Entry(path, {"path": path, "race": race, "age": 30}))
            noise = rng.normal(scale=spread / np.sqrt(DIM), size=DIM)
            run.embeddings[path] = (center + noise).astype(np.float32)
    for person in range(12):
        base = rng.normal(scale=0.8 / np.sqrt(DIM), size=DIM)
        for photo in range(4):
            path = f"ids/{person}/{photo}.jpg"
            verification.append(Entry(path, {"path": path, "identity": f"id{person}"}))
            noise = rng.normal(scale=0.25 / np.sqrt(DIM), size=DIM)
            run.embeddings[path] = (base + noise).astype(np.float32)
    return Dataset(Path("."), verification, [], attributes), run


def test_open_set_protocol_figures_and_section():
    ds, run = synthetic(np.random.default_rng(0))
    calibration = calibration_for(RECOGNITION_MODEL)
    result = fairness.evaluate(ds, run, calibration)
    assert result is not None
    assert result.gallery_size == 5 * 30 + 12  # half of each race (60 < 2 * 39) + identities
    assert result.genuine == 12 * 3
    split = fairness.split(ds, run, 0)
    assert not set(split.gallery) & {p for p, _ in split.strangers}  # strangers are strangers
    raw, normalised = result.scorings
    assert raw.default.fpir[1] == normalised.default.fpir[1] == len(fairness.SEEDS) * 150
    # one raw threshold names crowded-group strangers far more often than normalised scores
    assert raw.default.worst_best()[2] > normalised.default.worst_best()[2]
    assert rate(normalised.default.dir) > 0.9
    for o in normalised.at_fpir:  # each operating point holds its FPIR over all strangers
        assert rate(o.fpir) <= float(o.label.split()[-1].rstrip("%")) / 100
    assert len(normalised.by_size) == len(fairness.SIZES) and normalised.mostly_white is not None

    pairs = fairness.pair_verification(ds, run, calibration)
    assert pairs is not None and pairs.pairs > 0
    section = "\n".join(fairness.render_section([(result, pairs)]))
    assert "stranger FPIR" in section and "TAR at FAR 1e-3" in section
    assert result.json()["scorings"][1]["default"]["fpir_by_race"].keys() == set(fairness.RACES)


def test_no_labels_no_section():
    ds, run = synthetic(np.random.default_rng(1))
    bare = Dataset(Path("."), ds.verification, [], [])
    assert fairness.evaluate(bare, run, calibration_for(RECOGNITION_MODEL)) is None
