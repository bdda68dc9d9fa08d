"""Median raw ``session.run`` time per shipped model (batch 1), through the real catalogue.

``python -m tools.models bench [--threads 1 --threads 2] [--runs 50]`` prints a Markdown
table. Raw inference only: no decoding, cropping or post-processing (bench/ measures those).
MTCNN P-Net has free spatial dims; it is timed on a 320x240 pyramid level.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from shared.vision.catalog import Catalog

FREE_DIMS = {"H": 240, "W": 320}


def feed_for(catalog: Catalog, name: str) -> dict[str, np.ndarray]:
    sess = catalog.session(name)
    rng = np.random.default_rng(0)
    feeds = {}
    for value in sess.get_inputs():
        shape = [d if isinstance(d, int) else FREE_DIMS.get(d, 1) for d in value.shape]
        feeds[value.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return feeds


def median_ms(catalog: Catalog, name: str, runs: int) -> float:
    sess = catalog.session(name)
    feeds = feed_for(catalog, name)
    for _ in range(3):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(threads: list[int], runs: int) -> int:
    catalogs = {t: Catalog(threads=t) for t in threads}
    names = catalogs[threads[0]].names()
    header = " | ".join(f"{t} thread{'s' if t > 1 else ''} (ms)" for t in threads)
    print(f"| model | task | MB | {header} |")
    print("|---|---|---|" + "---|" * len(threads))
    for name in names:
        entry = catalogs[threads[0]].entry(name)
        cells = " | ".join(f"{median_ms(catalogs[t], name, runs):.2f}" for t in threads)
        print(f"| {name} | {entry.task} | {entry.bytes / 1e6:.2f} | {cells} |")
    return 0
