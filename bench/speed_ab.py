"""Before/after analysis speed on a shared machine: ``python -m bench.speed_ab --before REV``.

Absolute times on a machine shared with other jobs move by a factor of 2-3 between runs,
so a change is measured against its baseline in one run: the source of ``--before`` (a
git revision, exported with ``git archive``) and of this checkout each get a worker
process; they take turns, ``--batch`` analyses at a time, ``--rounds`` times, on the one-face
640x480 JPEG of ``make bench`` with every attribute and the embedding (1 onnxruntime thread).
Each worker reports, per analysis, the CPU time of its analysing thread (what other jobs
disturb least), the wall time, the CPU time of the raw model inference inside it, and the
CPU time of detection alone. Prints medians and after/before ratios; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.speed import one_face_jpeg

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from shared.vision import ATTRIBUTES, Analyzer
from shared.vision.catalog import Catalog
from shared.vision.imageio import decode

class Timed:  # the CPU time of every session run (one intra-op thread: this thread's)
    def __init__(self, session, clock):
        self.session, self.clock = session, clock
    def run(self, *args, **kwargs):
        start = time.thread_time()
        try:
            return self.session.run(*args, **kwargs)
        finally:
            self.clock[0] += time.thread_time() - start
    def __getattr__(self, name):
        return getattr(self.session, name)

class TimedCatalog:
    def __init__(self, catalog):
        self.catalog, self.clock, self.wrapped = catalog, [0.0], {}
    def session(self, name):
        if name not in self.wrapped:
            self.wrapped[name] = Timed(self.catalog.session(name), self.clock)
        return self.wrapped[name]
    def entry(self, name):
        return self.catalog.entry(name)

data = open(sys.argv[2], "rb").read()
timed = TimedCatalog(Catalog(threads=1))
analyzer = Analyzer(timed)
rgb = decode(data).rgb
for _ in range(3):
    analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
    analyzer.detector.detect(rgb)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    rows = []
    for _ in range(int(line)):
        timed.clock[0] = 0.0
        wall, cpu = time.perf_counter(), time.thread_time()
        faces = analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        raw = timed.clock[0]
        start = time.thread_time()
        analyzer.detector.detect(rgb)
        rows.append([cpu, wall, raw, time.thread_time() - start, len(faces)])
    print(json.dumps(rows), flush=True)
"""

FIGURES = ("end-to-end CPU ms", "end-to-end wall ms", "raw inference CPU ms", "detection CPU ms")


def export(revision: str, into: Path) -> Path:
    """The tree of ``revision`` (tracked files, models included) under ``into``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


class Worker:
    def __init__(self, tree: Path, image: Path, cpu: int | None) -> None:
        command = [sys.executable, "-c", WORKER, str(tree), str(image)]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        env = {**os.environ, "FACEGATE_ONNX_THREADS": "1"}
        self.process = subprocess.Popen(
            command, cwd=tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        json.loads(self._line())

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a worker died (see its stderr above)")
        return line

    def run(self, count: int) -> list[list[float]]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        return json.loads(self._line())

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def compare(
    before: Path, after: Path, image: Path, rounds: int, batch: int, cpu: int | None
) -> dict:
    workers = {"before": Worker(before, image, cpu), "after": Worker(after, image, cpu)}
    rows: dict[str, list[list[float]]] = {"before": [], "after": []}
    try:
        for i in range(rounds):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            for name in order:
                rows[name] += workers[name].run(batch)
    finally:
        for worker in workers.values():
            worker.stop()
    out: dict[str, Any] = {}
    for name, data in rows.items():
        columns = list(zip(*data, strict=True))
        out[name] = {
            figure: 1000 * statistics.median(columns[i]) for i, figure in enumerate(FIGURES)
        }
        out[name]["faces"] = sorted(set(columns[4]))
        out[name]["end-to-end / raw (CPU)"] = statistics.median(
            c / r for c, r in zip(columns[0], columns[2], strict=True)
        )
    out["ratio"] = {f: out["after"][f] / out["before"][f] for f in FIGURES}
    return out


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git revision of the baseline")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=None, help="pin both workers to this CPU")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="facegate-ab-") as tmp:
        image = Path(tmp) / "one-face-640x480.jpg"
        image.write_bytes(one_face_jpeg())
        before = export(args.before, Path(tmp) / "before")
        result = compare(before, ROOT, image, args.rounds, args.batch, args.cpu)
    result.update(baseline=args.before, load=[load_before, load_average()])
    load = f"load average {load_before} -> {result['load'][1]}"
    print(f"{load}; {args.rounds} rounds of {args.batch} analyses each")
    print(f"| figure (median) | before ({args.before}) | after (this checkout) | after/before |")
    print("| --- | --- | --- | --- |")
    for figure in FIGURES:
        b, a = result["before"][figure], result["after"][figure]
        print(f"| {figure} | {b:.2f} | {a:.2f} | {a / b:.2f}x |")
    b, a = result["before"], result["after"]
    print(
        f"| end-to-end / raw inference (CPU) | {b['end-to-end / raw (CPU)']:.2f}x | "
        f"{a['end-to-end / raw (CPU)']:.2f}x | |"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
