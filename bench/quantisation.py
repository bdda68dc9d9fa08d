"""Would an int8 embedder give the same descriptors? ``python -m bench.quantisation --data DIR``

Quantises ``dlib_resnet_128`` statically in a temporary folder (onnxruntime QDQ: int8
per-channel weights, uint8 activations; the first convolution and the final MatMul stay
float with ``--keep-ends``) and measures, in one run:

* the CPU time of the mirrored pair every embedding runs (batch of 2), float vs int8;
* how far the int8 descriptor lands from the float one on the faces of a labelled photo
  directory, by race group (UTKFace-style labels; labels only group the figures), against
  the 0.56 distance at which two descriptors are the same person.

Calibration (the activation ranges) comes from chips of the two public-domain test
portraits under flips, rotations, exposures and blur: the only face photos the project may
ship a derivative of. ``--calibrate-on-data N`` adds N faces of the directory instead, as a
diagnostic of whether the ranges' coverage is what moves the descriptors; a model calibrated
that way must never ship (the eval photos' licences are research-only). Nothing is written
into ``models/``. Findings: docs/vision.md, "What we tried".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from bench.dataset import Dataset, Entry, load
from bench.speed import median_ms
from shared.errors import FaceGateError
from shared.vision import Analyzer
from shared.vision.catalog import DEFAULT_MODELS_DIR, Catalog, session_options
from shared.vision.imageio import decode
from shared.vision.recognizer import DISTANCE_THRESHOLD
from tests.data import make_photos

MODEL = "dlib_resnet_128"
ENDS = ("conv_18", "fc_815")  # first convolution, final projection


def chips(analyzer: Analyzer, rgb: np.ndarray, limit: int = 10) -> list[np.ndarray]:
    """The recognition chips of the faces found in ``rgb`` (largest first)."""
    found = analyzer.detector.detect(rgb, max_faces=limit)
    out = []
    for i in range(len(found)):
        mesh = analyzer.mesh.infer(rgb, found.boxes[i], found.keypoints[i])
        out.append(analyzer.recognizer.chip(rgb, mesh.dlib5()))
    return out


def portrait_chips(analyzer: Analyzer) -> list[np.ndarray]:
    """Chips of the two public-domain portraits under 80 deterministic variations."""
    out: list[np.ndarray] = []
    for base in (make_photos.astronaut(), make_photos.grace_hopper()):
        for image in (base, make_photos.flip(base)):
            for degrees in (-12, -6, 0, 6, 12):
                for gain, offset in ((1.0, 0.0), (0.6, 0.0), (1.3, 10.0), (0.9, -20.0)):
                    for sigma in (0.0, 1.5):
                        x = make_photos.exposure(make_photos.rotate(image, degrees), gain, offset)
                        out += chips(analyzer, make_photos.blur(x, sigma) if sigma else x)
    return out


def quantise(source: Path, target: Path, calibration: np.ndarray, keep_ends: bool) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:  # every chip and its mirror image, as embeddings run
            x = np.asarray(calibration, np.float32)
            both = np.concatenate([x, x[:, :, ::-1]])
            self.batches: Iterator[dict[str, np.ndarray]] = iter(
                {"input": both[i : i + 1]} for i in range(len(both))
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(target),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(ENDS) if keep_ends else [],
    )


def cpu_ms(session: ort.InferenceSession, x: np.ndarray, repeat: int) -> float:
    """Median CPU time (ms) of one run of ``session`` on ``x``, this thread."""
    return median_ms(lambda: session.run(None, {"input": x}), repeat, time.thread_time)


def faces(data: Dataset, per_group: int) -> Iterator[tuple[str, Entry]]:
    """Up to ``per_group`` photos per race group, and the verification photos."""
    taken: dict[str, int] = defaultdict(int)
    for entry in data.attributes:
        race = entry.get("race")
        if race and taken[race] < per_group:
            taken[race] += 1
            yield race, entry
    for entry in data.verification:
        yield "verification set", entry


def run(data_dir: Path, per_group: int, keep_ends: bool, calibrate_on_data: int) -> dict[str, Any]:
    analyzer = Analyzer(Catalog(threads=1))
    data = load(data_dir)
    calibration = portrait_chips(analyzer)
    measured = {entry.path for _, entry in faces(data, per_group)}
    calibrated_groups: dict[str, int] = defaultdict(int)
    if calibrate_on_data:  # a diagnostic only: never ship a model calibrated on eval photos
        spare = [e for e in data.attributes if e.get("race") and e.path not in measured]
        for entry in spare[-calibrate_on_data:]:  # never a face that is also measured
            try:
                found = chips(analyzer, decode(data.read(entry)).rgb)[:1]
            except FaceGateError as error:
                print(f"skipped {entry.path}: {error.code}", file=sys.stderr)
                continue
            calibration += found
            calibrated_groups[entry.get("race")] += len(found)
    with tempfile.TemporaryDirectory() as tmp:
        quantised = Path(tmp) / f"{MODEL}.int8.onnx"
        quantise(DEFAULT_MODELS_DIR / f"{MODEL}.onnx", quantised, np.array(calibration), keep_ends)
        fp32 = ort.InferenceSession(
            str(DEFAULT_MODELS_DIR / f"{MODEL}.onnx"), session_options(1), ["CPUExecutionProvider"]
        )
        int8 = ort.InferenceSession(str(quantised), session_options(1), ["CPUExecutionProvider"])
        pair = np.stack([calibration[0], calibration[0][:, ::-1]]).astype(np.float32)
        timing = {"fp32_ms": cpu_ms(fp32, pair, 50), "int8_ms": cpu_ms(int8, pair, 50)}
        distances: dict[str, list[float]] = defaultdict(list)
        for group, entry in faces(data, per_group):
            try:
                found = chips(analyzer, decode(data.read(entry)).rgb)[:1]
            except FaceGateError as error:  # an undecodable photo is skipped, as eval does
                print(f"skipped {entry.path}: {error.code}", file=sys.stderr)
                found = []
            for chip in found:
                both = np.stack([chip, chip[:, ::-1]]).astype(np.float32)
                a = fp32.run(None, {"input": both})[0].mean(0)
                b = int8.run(None, {"input": both})[0].mean(0)
                distances[group].append(float(np.linalg.norm(a - b)))
    groups = {
        group: {
            "faces": len(d),
            "mean": float(np.mean(d)),
            "p90": float(np.percentile(d, 90)),
            "max": float(np.max(d)),
        }
        for group, d in sorted(distances.items())
        if d
    }
    return {
        "calibration_chips": len(calibration),
        "calibrated_on_data": calibrate_on_data,
        "calibration_faces_by_group": dict(sorted(calibrated_groups.items())),
        "keep_ends": keep_ends,
        **timing,
        "threshold": DISTANCE_THRESHOLD,
        "groups": groups,
    }


def render(r: dict[str, Any]) -> str:
    lines = [
        f"dlib ResNet, mirrored pair (batch 2), CPU time: fp32 {r['fp32_ms']:.2f} ms, "
        f"int8 {r['int8_ms']:.2f} ms ({r['int8_ms'] / r['fp32_ms']:.2f}x)",
        f"calibration: {r['calibration_chips']} chips (portraits"
        + (
            f" + data faces {r['calibration_faces_by_group']}: diagnostic only)"
            if r["calibrated_on_data"]
            else ")"
        )
        + f"; ends kept float: {r['keep_ends']}",
        f"distance fp32 -> int8 descriptor (same person below {r['threshold']}):",
        "| group | faces | mean | p90 | max |",
        "| --- | --- | --- | --- | --- |",
    ]
    for group, g in r["groups"].items():
        lines.append(
            f"| {group} | {g['faces']} | {g['mean']:.3f} | {g['p90']:.3f} | {g['max']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="directory with a manifest.json")
    parser.add_argument("--per-group", type=int, default=120, help="faces per race group")
    parser.add_argument("--keep-ends", action="store_true", help="first conv and MatMul float")
    parser.add_argument("--calibrate-on-data", type=int, default=0, metavar="N")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = run(args.data, args.per_group, args.keep_ends, args.calibrate_on_data)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
