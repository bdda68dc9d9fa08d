"""Compare detector options on a labelled directory: ``python -m bench.detectors --data DIR``.

The measurement behind the choice of detector in docs/vision.md: recall and false detections
on the count- and box-labelled photos, WIDER FACE easy / medium recall, and time per image
(one onnxruntime thread).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from bench import metrics
from bench.dataset import load
from shared.vision.blazeface import FULL_RANGE, SHORT_RANGE, BlazeFace, Detections
from shared.vision.catalog import Catalog
from shared.vision.detector import DetectorConfig, FaceDetector
from shared.vision.imageio import decode_image
from shared.vision.mtcnn import MTCNN

BACK = {"size": 256, "strides": (16, 32), "per_cell": (2, 6)}


def options(catalog: Catalog) -> dict[str, Callable[[np.ndarray], Detections]]:
    s = catalog.session
    mtcnn = MTCNN(s("mtcnn_pnet"), s("mtcnn_rnet"), s("mtcnn_onet"))
    short = BlazeFace(s("blazeface_short_128"), **SHORT_RANGE)
    back = BlazeFace(s("blazeface_back_256"), **BACK)
    full = BlazeFace(s("blazeface_full_192"), **FULL_RANGE)
    free_size = BlazeFace(s("blazeface_full_any"), **FULL_RANGE)
    untiled = DetectorConfig(min_face=10**6)  # min_face so large no tile is ever needed
    return {
        "MTCNN (min face 20)": lambda rgb: mtcnn.detect(rgb, min_face=20),
        "BlazeFace short 128": short.infer,
        "BlazeFace back 256": back.infer,
        "BlazeFace full 192": full.infer,
        "full 192, tiled": FaceDetector(full, None).detect,
        "back 256, tiled + O-Net": FaceDetector(
            back, mtcnn, DetectorConfig(smallest_in_net=24.0), short
        ).detect,
        "full 192 + short, untiled + O-Net": FaceDetector(full, mtcnn, untiled, short).detect,
        "full 192 tiled + short + O-Net": FaceDetector(full, mtcnn, DetectorConfig(), short).detect,
        "CHOSEN: full 192 + free-size levels + short + O-Net": FaceDetector(
            full, mtcnn, DetectorConfig(), short, free_size
        ).detect,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    args = parser.parse_args(argv)
    ds = load(args.data)
    images = [(e, decode_image(ds.read(e))) for e in ds.detection]
    print(
        f"{'option':40s} {'labelled recall':>16s} {'false':>6s} {'ms/img':>7s} | "
        f"{'WIDER easy':>10s} {'medium':>7s} {'ms/img':>7s}"
    )
    for name, detect in options(Catalog(threads=1)).items():
        lab = metrics.DetectionCount()
        wider = {k: metrics.DetectionCount() for k in ("easy", "medium", "all")}
        t_lab = t_wider = 0.0
        n_lab = n_wider = 0
        for entry, rgb in images:
            start = time.perf_counter()
            boxes = detect(rgb).boxes
            dt = time.perf_counter() - start
            if entry.get("gt_index_easy") is not None:
                t_wider, n_wider = t_wider + dt, n_wider + 1
                for key, count in metrics.score_wider(entry.labels, boxes).items():
                    wider[key].add(count)
            else:
                t_lab, n_lab = t_lab + dt, n_lab + 1
                if entry.get("boxes_xywh"):
                    lab.add(metrics.score_boxes(entry.get("boxes_xywh"), boxes))
                else:
                    lab.add(metrics.score_count(int(entry.get("expected_faces")), len(boxes)))
        print(
            f"{name:40s} {lab.found:3d}/{lab.expected:<3d} {100 * lab.recall:6.1f}% "
            f"{lab.false:6d} {1000 * t_lab / max(n_lab, 1):7.1f} | "
            f"{100 * wider['easy'].recall:9.1f}% {100 * wider['medium'].recall:6.1f}% "
            f"{1000 * t_wider / max(n_wider, 1):7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
