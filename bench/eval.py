"""Accuracy report for FaceGate and a peer on a labelled photo directory.

    python -m bench.eval --data DIR [--out reports/eval/NAME] [--no-peer] [--only PART]

Reads DIR/manifest.json (the format of /work/shared/eval, see bench.dataset), runs FaceGate
(shared.vision, one onnxruntime thread) and, when .build/venv-peer exists, the
face_recognition library on the same photos (bench.peer), then writes a report folder
(default reports/eval/<timestamp>/, with reports/eval/latest pointing at it): summary.md
(also printed), results.json and PNG figures. Parts: detection, verification
(+ open-set identification), attributes (age, gender, emotion + false matches per group).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import fairness, ours, peer, plots, scoring
from bench.dataset import Dataset, load
from bench.report import EvalResults, SystemResults, render
from bench.systems import SystemRun
from shared.matching import calibration_for
from shared.vision import RECOGNITION_MODEL

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("detection", "verification", "attributes")
FALSE_MATCH_PER_CELL = 150  # adults per (race, gender) for the false-match figures


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def score_system(
    run: SystemRun, ds: Dataset, parts: set[str], cells: dict[tuple[str, str], list[str]]
) -> SystemResults:
    out = SystemResults(run.name, run.version, run.threshold_label)
    if "detection" in parts and ds.detection:
        out.detection = scoring.detection(run, ds)
    if "verification" in parts and ds.verification:
        out.verification = scoring.verification(run, ds)
        out.identification = scoring.identification(run, ds)
    if cells:
        out.false_matches = scoring.false_match_rates(run, cells)
    if cells and "verification" in parts:
        calibration = calibration_for(RECOGNITION_MODEL)
        out.fairness = fairness.evaluate(ds, run, calibration)
        out.pairs = fairness.pair_verification(ds, run, calibration)
    return out


def write_figures(res: EvalResults, out: Path) -> None:
    systems = [res.ours] + ([res.peer] if res.peer is not None else [])
    figures: dict[str, str] = {}

    def add(title: str, name: str, draw: Any, data: Any) -> None:
        draw(data, out / name)
        figures[title] = name

    ver = {s.name: s.verification for s in systems if s.verification is not None}
    if ver:
        add("verification ROC and DET", "verification_roc_det.png", plots.verification_curves, ver)
    det = {s.name: s.detection for s in systems if s.detection is not None}
    if det:
        add("detection recall by face size", "detection_by_size.png", plots.detection_by_size, det)
    fm = {s.name: s.false_matches for s in systems if s.false_matches is not None}
    if fm:
        add(
            "false-match rate by race and gender",
            "false_match_by_group.png",
            plots.false_match_by_group,
            fm,
        )
    if res.age is not None and res.age.groups:
        add("age MAE by group", "age_by_group.png", plots.age_by_group, res.age)
    if res.gender is not None and res.gender.groups:
        add("gender accuracy by group", "gender_by_group.png", plots.gender_by_group, res.gender)
    if res.emotion is not None:
        add(
            "emotion confusion matrix",
            "emotion_confusion.png",
            plots.emotion_confusion,
            res.emotion,
        )
    res.figures = figures


def results_json(res: EvalResults) -> dict[str, Any]:
    def system(s: SystemResults | None) -> dict[str, Any] | None:
        if s is None:
            return None
        parts = (
            "detection",
            "verification",
            "identification",
            "false_matches",
            "fairness",
            "pairs",
        )
        return {
            "name": s.name,
            "version": s.version,
            "threshold": s.threshold_label,
            **{p: getattr(s, p).json() for p in parts if getattr(s, p) is not None},
        }

    return {
        "data": res.data,
        "counts": res.counts,
        "run": res.run,
        "ours": system(res.ours),
        "peer": system(res.peer),
        "peer_note": res.peer_note,
        "age": res.age.json() if res.age else None,
        "gender": res.gender.json() if res.gender else None,
        "emotion": res.emotion.json() if res.emotion else None,
        "attribute_photos_without_face": list(res.coverage),
        "figures": res.figures,
    }


def default_out() -> Path:
    return ROOT / "reports" / "eval" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def point_latest(out: Path) -> None:
    latest = out.parent / "latest"
    if latest.is_symlink() or not latest.exists():
        latest.unlink(missing_ok=True)
        latest.symlink_to(out.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="directory with a manifest.json")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    parser.add_argument("--out", type=Path, help="report folder (default reports/eval/<time>)")
    parser.add_argument("--no-peer", action="store_true", help="do not run the peer")
    parser.add_argument("--false-match-per-cell", type=int, default=FALSE_MATCH_PER_CELL)
    args = parser.parse_args(argv)

    started, load_before = time.time(), load_average()
    ds = load(args.data)
    parts = set(args.only or PARTS)
    cells = (
        scoring.false_match_cells(ds, args.false_match_per_cell) if "attributes" in parts else {}
    )
    embed_paths = sorted(p for paths in cells.values() for p in paths)

    ours_run, records, versions = ours.run_all(ds, parts, set(embed_paths))
    seconds_ours = time.time() - started

    peer_run: SystemRun | None = None
    seconds_peer = 0.0
    setup = peer.find_peer()
    if args.no_peer:
        peer_note = "not run (--no-peer)"
    elif setup.python is None:
        peer_note = f"NOT RUN: {setup.reason}"
    else:
        t0 = time.time()
        peer_run = peer.run_peer(setup, ds, parts, embed_paths)
        seconds_peer = time.time() - t0
        peer_note = (
            f"{setup.reason} in .build/venv-peer, library defaults (HOG, 1 upsample, "
            "5-point landmarks, 1 jitter), one thread, same photos"
        )
    print(f"peer: {peer_note}", file=sys.stderr)

    res = EvalResults(
        data=args.data,
        counts={
            "verification": len(ds.verification),
            "identities": len({e.get("identity") for e in ds.verification}),
            "detection": len(ds.detection),
            "attributes": len(ds.attributes),
            "by_source": {
                "verification": scoring.entry_groups(ds.verification),
                "detection": scoring.entry_groups(ds.detection),
                "attributes": scoring.entry_groups(ds.attributes),
            },
        },
        run={},
        ours=score_system(ours_run, ds, parts, cells),
        peer=score_system(peer_run, ds, parts, cells) if peer_run is not None else None,
        peer_note=peer_note,
    )
    if records:
        res.age = scoring.age(records)
        res.gender = scoring.gender(records)
        res.emotion = scoring.emotion(records)
        res.coverage = scoring.attribute_coverage(records)

    out = (args.out or default_out()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    write_figures(res, out)
    res.run = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "seconds": time.time() - started,
        "seconds_ours": seconds_ours,
        "seconds_peer": seconds_peer,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_average(),
        "models": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }
    summary = render(res)
    (out / "summary.md").write_text(summary)
    (out / "results.json").write_text(json.dumps(results_json(res), indent=1, default=float))
    if args.out is None:
        point_latest(out)
    print(summary)
    try:
        shown = out.relative_to(Path.cwd())
    except ValueError:
        shown = out
    print(f"report written to {shown}/ (summary.md, results.json, {len(res.figures)} PNG)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
