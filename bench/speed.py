"""Speed of shared.vision: ``python -m bench.speed`` (make bench).

On a one-face 640x480 JPEG (the astronaut portrait on a canvas) with every attribute and
the embedding, prints per-stage medians (decode, detect, landmarks, align, embed,
age/gender, emotion, quality) at 1 and 2 onnxruntime threads, the end-to-end median, the
ratio of end-to-end time to the sum of the raw model inference (session.run) times, and the
cold start: a fresh Python process from launch to its first complete analysis.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from shared.vision import ATTRIBUTES, Analyzer
from shared.vision.catalog import Catalog
from shared.vision.imageio import decode
from shared.vision.quality import blur, exposure
from tests.data import make_photos


def one_face_jpeg() -> bytes:
    canvas = np.full((480, 640, 3), 190, np.uint8)
    canvas[:, 80:560] = cv2.resize(
        make_photos.astronaut(), (480, 480), interpolation=cv2.INTER_AREA
    )
    return make_photos.encode(canvas, "JPEG", quality=90)


class TimedSession:
    """Wraps an InferenceSession and adds the time of every run() to a shared counter."""

    def __init__(self, session: ort.InferenceSession, clock: list[float]) -> None:
        self._session = session
        self._clock = clock

    def run(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._session.run(*args, **kwargs)
        finally:
            self._clock[0] += time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class TimedCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.clock = [0.0]
        self._wrapped: dict[str, TimedSession] = {}

    def session(self, name: str) -> TimedSession:
        if name not in self._wrapped:
            self._wrapped[name] = TimedSession(self._catalog.session(name), self.clock)
        return self._wrapped[name]

    def entry(self, name: str) -> Any:
        return self._catalog.entry(name)


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def stages(threads: int, data: bytes, repeat: int) -> dict[str, float]:
    timed = TimedCatalog(Catalog(threads=threads))
    analyzer = Analyzer(timed)  # type: ignore[arg-type]
    rgb = decode(data).rgb
    face = analyzer.analyze(rgb, list(ATTRIBUTES), embeddings=True)[0]
    mesh = analyzer.mesh.infer(rgb, face.box, face.points)
    chip = analyzer.recognizer.chip(rgb, mesh.dlib5())
    out = {
        "decode": median_ms(lambda: decode(data), repeat),
        "detect": median_ms(lambda: analyzer.detector.detect(rgb), repeat),
        "landmarks (mesh)": median_ms(
            lambda: analyzer.mesh.infer(rgb, face.box, face.points), repeat
        ),
        "align (150 px chip)": median_ms(
            lambda: analyzer.recognizer.chip(rgb, mesh.dlib5()), repeat
        ),
        "embed": median_ms(lambda: analyzer.recognizer.embed_chips(chip[None]), repeat),
        "age/gender": median_ms(lambda: analyzer.age_gender_model.infer(rgb, face.box), repeat),
        "emotion": median_ms(lambda: analyzer.emotion_model.infer(rgb, face.box), repeat),
        "quality (blur+exposure)": median_ms(lambda: (blur(chip), exposure(chip)), repeat),
    }
    e2e, raw = [], []
    for _ in range(repeat + 1):
        timed.clock[0] = 0.0
        start = time.perf_counter()
        analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
        e2e.append(time.perf_counter() - start)
        raw.append(timed.clock[0])
    e2e, raw = e2e[1:], raw[1:]
    out["END-TO-END (bytes -> JSON-ready faces)"] = 1000 * statistics.median(e2e)
    out["sum of raw model inference"] = 1000 * statistics.median(raw)
    return out


COLD = """
import sys, time
t0 = float(sys.argv[1])
from shared.vision import ATTRIBUTES, Analyzer
data = open(sys.argv[2], 'rb').read()
faces = Analyzer().analyze(data, list(ATTRIBUTES), embeddings=True)
assert len(faces) == 1
print(time.time() - t0)
"""


def cold_start(data: bytes) -> float:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        start = time.time()
        out = subprocess.run(
            [sys.executable, "-c", COLD, repr(start), f.name],
            capture_output=True,
            text=True,
            check=True,
        )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    data = one_face_jpeg()
    print("# shared.vision speed: one-face 640x480 JPEG, every attribute + embedding")
    print(f"onnxruntime {ort.__version__}, median of {args.repeat} runs, milliseconds\n")
    results = {n: stages(n, data, args.repeat) for n in (1, 2)}
    print(f"{'stage':40s} {'1 thread':>9s} {'2 threads':>10s}")
    for name in results[1]:
        print(f"{name:40s} {results[1][name]:9.2f} {results[2][name]:10.2f}")
    for n in (1, 2):
        r = results[n]
        ratio = r["END-TO-END (bytes -> JSON-ready faces)"] / r["sum of raw model inference"]
        print(f"ratio end-to-end / raw inference at {n} thread(s): {ratio:.2f}x")
    colds = [cold_start(data) for _ in range(3)]
    cold = statistics.median(colds)
    print(f"cold start (fresh process -> first analysis), median of 3: {cold:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
