"""Speed of FaceGate: ``python -m bench.speed`` (make bench) -> reports/bench/.

Parts (``--only`` picks some): ``stages`` per-stage medians and end-to-end on a one-face
640x480 JPEG at 1 and 2 onnxruntime threads, with the ratio to raw model inference;
``parallel`` throughput of 1 and 2 analyses at a time; ``cold`` fresh process to first
answer; ``memory`` peak RSS of a process doing analyses (640x480 and 4096x3072);
``identify`` latency against 1k/10k faces through Azurite and 100k/1M with the search
in memory (bench.bench_identify says why); ``pipeline`` blob throughput through Azurite
and the dev host (bench.bench_pipeline); ``policy`` decision overhead next to one analysis
(bench.bench_policy). Writes reports/bench/summary.md (also printed) and bench.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from bench.eval import cpu_name, load_average
from shared.vision import ATTRIBUTES, Analyzer
from shared.vision.catalog import Catalog
from shared.vision.imageio import decode
from shared.vision.quality import blur, exposure
from tests.data import make_photos

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("stages", "parallel", "cold", "memory", "identify", "postgres", "pipeline", "policy")
E2E = "END-TO-END (bytes -> JSON-ready faces)"
RAW = "sum of raw model inference"
E2E_CPU = "end-to-end, CPU time of the analysing thread"
RAW_CPU = "raw model inference, CPU time"
DETECT_CPU = "detect, CPU time"


def one_face_jpeg() -> bytes:
    canvas = np.full((480, 640, 3), 190, np.uint8)
    canvas[:, 80:560] = cv2.resize(
        make_photos.astronaut(), (480, 480), interpolation=cv2.INTER_AREA
    )
    return make_photos.encode(canvas, "JPEG", quality=90)


def large_jpeg() -> bytes:
    """4096x3072 (the largest size analysed without downscaling), four faces."""
    big = cv2.resize(make_photos.composite(), (4096, 3072), interpolation=cv2.INTER_CUBIC)
    return make_photos.encode(big, "JPEG", quality=90)


class TimedSession:
    """Wraps an InferenceSession and adds the wall and CPU time (this thread's: sessions
    run single-threaded here) of every run() to a shared counter [wall, cpu]."""

    def __init__(self, session: ort.InferenceSession, clock: list[float]) -> None:
        self._session = session
        self._clock = clock

    def run(self, *args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return self._session.run(*args, **kwargs)
        finally:
            self._clock[0] += time.perf_counter() - start
            self._clock[1] += time.thread_time() - cpu

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class TimedCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.clock = [0.0, 0.0]
        self._wrapped: dict[str, TimedSession] = {}

    def session(self, name: str) -> TimedSession:
        if name not in self._wrapped:
            self._wrapped[name] = TimedSession(self._catalog.session(name), self.clock)
        return self._wrapped[name]

    def entry(self, name: str) -> Any:
        return self._catalog.entry(name)


def median_ms(
    fn: Callable[[], Any], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median time per call (ms) after a warm-up; ``clock=time.thread_time`` for the CPU
    time of this thread."""
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
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
    e2e, raw, e2e_cpu, raw_cpu = [], [], [], []
    for _ in range(repeat + 1):
        timed.clock[:] = [0.0, 0.0]
        start, cpu = time.perf_counter(), time.thread_time()
        analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
        e2e.append(time.perf_counter() - start)
        e2e_cpu.append(time.thread_time() - cpu)
        raw.append(timed.clock[0])
        raw_cpu.append(timed.clock[1])
    out[E2E] = 1000 * statistics.median(e2e[1:])
    out[RAW] = 1000 * statistics.median(raw[1:])
    # CPU time of this thread: less disturbed by other jobs on a shared machine than wall time
    out[E2E_CPU] = 1000 * statistics.median(e2e_cpu[1:])
    out[RAW_CPU] = 1000 * statistics.median(raw_cpu[1:])
    out[DETECT_CPU] = median_ms(lambda: analyzer.detector.detect(rgb), repeat, time.thread_time)
    return out


def parallel(data: bytes, analyses: int) -> dict[str, dict[str, float]]:
    """Throughput of 1 and 2 analyses at a time on one shared Analyzer (1 thread/session)."""
    analyzer = Analyzer(Catalog(threads=1))
    analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
    out = {}
    for workers in (1, 2):
        latencies: list[float] = []

        def one(_: int, latencies: list[float] = latencies) -> None:
            start = time.perf_counter()
            analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
            latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(analyses)))
        elapsed = time.perf_counter() - started
        out[str(workers)] = {
            "images_per_s": analyses / elapsed,
            "median_latency_ms": 1000 * statistics.median(latencies),
        }
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

# Peak = VmHWM, this process's own high-water mark. Not ru_maxrss: Linux carries the
# forking parent's peak into it across exec, so in a full `make bench` (models already
# loaded in the parent) it reported the parent's 335 MB instead of the worker's 214 MB.
MEMORY = """
import json, sys
def rss_mb(field='VmRSS'):
    for line in open('/proc/self/status'):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
from shared.vision import ATTRIBUTES, Analyzer
imported = rss_mb()
data = open(sys.argv[1], 'rb').read()
analyzer = Analyzer()
faces = analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
first = rss_mb()
for _ in range(3):
    analyzer.analyze(data, list(ATTRIBUTES), embeddings=True)
peak = rss_mb('VmHWM')
print(json.dumps({"faces": len(faces), "after_import_mb": imported,
                  "after_first_analysis_mb": first, "peak_rss_mb": peak}))
"""


def _in_fresh_process(script: str, data: bytes, *args: str) -> str:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            [sys.executable, "-c", script, *args, f.name],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
    return out.stdout.strip().splitlines()[-1]


def cold_start(data: bytes) -> float:
    return float(_in_fresh_process(COLD, data, repr(time.time())))


def memory(data: bytes) -> dict[str, float]:
    return json.loads(_in_fresh_process(MEMORY, data))


# --- the report ------------------------------------------------------------------------


def _md_stages(r: dict[str, Any]) -> list[str]:
    s1, s2 = r["stages"]["1"], r["stages"]["2"]
    lines = [
        "## Per-stage medians (one-face 640x480 JPEG, every attribute + embedding)",
        "",
        f"Median of {r['repeat']} runs after a warm-up, milliseconds, onnxruntime "
        f"{ort.__version__}; threads = intra-op threads per ONNX session.",
        "",
        "| stage | 1 thread | 2 threads |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {s1[name]:.2f} | {s2[name]:.2f} |" for name in s1 if name in s2]
    for n, s in (("1", s1), ("2", s2)):
        lines.append("")
        lines.append(f"End-to-end / raw inference at {n} thread(s): {s[E2E] / s[RAW]:.2f}x")
    if E2E_CPU in s1:
        lines += [
            "",
            f"At 1 thread, in CPU time of the analysing thread (other jobs on a shared machine "
            f"disturb it less than wall time): end-to-end {s1[E2E_CPU]:.2f} ms, raw inference "
            f"{s1[RAW_CPU]:.2f} ms ({s1[E2E_CPU] / s1[RAW_CPU]:.2f}x), detect "
            f"{s1[DETECT_CPU]:.2f} ms.",
        ]
    return lines


def render(r: dict[str, Any]) -> str:
    lines = [
        "# FaceGate speed report",
        "",
        f"Run: {r['date']}, {r['seconds']:.0f} s; {r['cpu']}, {r['cores']} cores; load average "
        f"{r['load_before']} before, {r['load_after']} after (the machine is shared with other "
        "engineers' jobs: figures are upper bounds). Command: `make bench` "
        "(`python -m bench.speed`).",
        "",
    ]
    if "stages" in r:
        lines += [*_md_stages(r), ""]
    if "parallel" in r:
        p = r["parallel"]
        lines += [
            "## Analyses at a time (one Analyzer shared by worker threads, 1 thread/session)",
            "",
            "| analyses at a time | images/s | median latency ms |",
            "| --- | --- | --- |",
            *(
                f"| {n} | {v['images_per_s']:.1f} | {v['median_latency_ms']:.1f} |"
                for n, v in p.items()
            ),
            "",
            f"2 at a time / 1 at a time: {p['2']['images_per_s'] / p['1']['images_per_s']:.2f}x "
            "(same run).",
            "",
        ]
    if "cold" in r:
        c = r["cold"]
        lines += [
            "## Cold start",
            "",
            f"Fresh Python process, from launch to its first complete analysis (imports, "
            f"model load with sha256 check, one analysis): median of {len(c)} "
            f"{statistics.median(c):.2f} s (runs: {', '.join(f'{x:.2f}' for x in c)}).",
            "",
        ]
    if "memory" in r:
        lines += [
            "## Peak memory (RSS of a process doing the analysis)",
            "",
            "| image | faces | after import MB | after first analysis MB | peak RSS MB |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, m in r["memory"].items():
            lines.append(
                f"| {name} | {m['faces']} | {m['after_import_mb']:.0f} | "
                f"{m['after_first_analysis_mb']:.0f} | {m['peak_rss_mb']:.0f} |"
            )
        lines.append("")
    if "identify" in r:
        rows = r["identify"]
        stored = [row for row in rows if row["through"] == "azurite"]
        read_ms = stored[-1]["version_read_ms"] if stored else float("nan")
        lines += [
            "## Identify latency against a gallery",
            "",
            "Random unit templates (latency does not depend on their values), 1 probe face, "
            "10 candidates, median of 50 warm calls. Through Azurite = what /api/identify does "
            "after the policy gate: the gallery point read (version check) + the in-memory "
            "search; fill = writing the faces through the table API, and cold load = the "
            "first identify reading every template (emulator speed, not Azure's).",
            "",
            "| faces | through | fill s | cold load s | identify ms | search ms | index MB |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in rows:
            if row["through"] == "azurite":
                lines.append(
                    f"| {row['faces']:,} | Azurite | {row['fill_s']:.1f} | "
                    f"{row['cold_load_s']:.2f} | {row['warm_identify_ms']:.2f} | "
                    f"{row['search_only_ms']:.2f} | {row['index_peak_mb']:.1f} |"
                )
            else:
                lines.append(
                    f"| {row['faces']:,} | memory only | - | - | "
                    f"{read_ms + row['search_only_ms']:.2f} (read + search) | "
                    f"{row['search_only_ms']:.2f} ({row['normalised_vs_raw']:.2f}x a raw "
                    f"scan) | {row['matrix_mb']:.1f} |"
                )
        lines += [
            "",
            "Rows marked memory only: the search alone on a synthetic matrix (with score "
            "normalisation; in brackets its ratio to a raw scan of the same matrix timed in "
            "the same loop, which is what identify did before normalisation); identify ms = "
            f"that search + the gallery point read measured through Azurite ({read_ms:.2f} ms)."
            " They are not filled through the emulator: its table inserts slow down linearly "
            "with the table (100k faces took 10.5 min to fill, and the first load of those "
            "100k templates had not finished 12 min later), which says nothing about Azure "
            "Table storage; `make bench BENCH_ARGS=--identify-sizes=1000,10000,100000` tries "
            "anyway.",
            "",
        ]
    if "postgres" in r:
        from bench import bench_postgres

        lines += [*bench_postgres.markdown(r["postgres"]), ""]
    if "pipeline" in r:
        p = r["pipeline"]
        pipe, raw = p["pipeline"], p["in_process"]
        lines += [
            "## Blob pipeline throughput",
            "",
            f"{pipe['uploads']} JPEG uploads (mean {p['mean_image_bytes'] / 1024:.0f} KB, "
            f"{pipe['faces']} faces; detect attributes + age, gender, emotion) to a private "
            "Azurite, processed by the real app in the dev host (BlobCreated events on the "
            "uploads queue, as Event Grid sends them in Azure; at most "
            f"{p['max_degree_of_parallelism']} at a time, as host.json's queue settings say), "
            "from the first upload to the last result written; then the same images analysed "
            "in this process with the same options.",
            "",
            "| path | images/s | notes |",
            "| --- | --- | --- |",
            f"| blob pipeline (Azurite + dev host) | {pipe['images_per_s']:.2f} | "
            f"{pipe['elapsed_s']:.1f} s in all; median analyse {pipe['median_analyze_ms']:.0f} "
            f"ms, median total per upload {pipe['median_total_ms']:.0f} ms |",
            *(
                f"| in-process, {n} at a time | {v['images_per_s']:.2f} | {v['elapsed_s']:.1f} s |"
                for n, v in raw.items()
            ),
            "",
            (
                f"Pipeline / in-process analysis on the same core (the dev host pinned to CPU "
                f"{p['instance_cpu']}, Azurite and the bench on the others, as a one-core "
                f"instance with remote storage): {p['ratio_vs_same_parallelism']:.2f}."
                if p.get("instance_cpu") is not None
                else "Pipeline / in-process at the same parallelism: "
                f"{p['ratio_vs_same_parallelism']:.2f}."
            ),
            "",
        ]
        if "cpu_ratio" in p:
            lines += [
                f"CPU time per image (less disturbed by other jobs than wall time): "
                f"{raw['1']['cpu_ms_per_image']:.0f} ms in process, "
                f"{pipe['host_cpu_ms_per_upload']:.0f} ms in the dev host per upload (its Event "
                f"Grid emulation included; Azurite {pipe['azurite_cpu_ms_per_upload']:.0f} ms "
                f"more): ratio {p['cpu_ratio']:.2f}.",
                "",
            ]
        if "function_cpu_ratio" in p:
            lines += [
                f"Of that, the function itself (the CPU time of its invoking thread: what a "
                f"Python worker spends per upload in Azure, where polling and Event Grid are "
                f"not in it): {pipe['function_cpu_ms_per_upload']:.0f} ms per upload; in-process "
                f"analysis / function: {p['function_cpu_ratio']:.2f}.",
                "",
            ]
        if pipe.get("storage_per_upload"):
            from bench.bench_pipeline import storage_table

            lines += [
                "Storage requests of the dev host per upload (its app, queue trigger and Event "
                "Grid emulation; the emulation's listings do not exist in Azure):",
                "",
                *storage_table(pipe),
                "",
            ]
    if "policy" in r:
        gate, analysis = r["policy"]["gate"], r["policy"]["analysis"]
        lines += [
            "## Decision overhead (policy gate) next to one analysis",
            "",
            "Warm registry cache; the audit write is a real Table insert into a private "
            "Azurite over loopback.",
            "",
            "| what | median ms | p95 ms |",
            "| --- | --- | --- |",
            *(
                f"| {name} | {row['median_ms']:.3f} | {row['p95_ms']:.3f} |"
                for name, row in gate.items()
            ),
        ]
        if isinstance(analysis, dict):
            lines.append(
                f"| one analysis (detect + headPose + quality, astronaut 512 px) | "
                f"{analysis['median_ms']:.3f} | {analysis['p95_ms']:.3f} |"
            )
            share = gate["authenticate + decide"]["median_ms"] / analysis["median_ms"]
            lines += ["", f"authenticate + decide = {100 * share:.0f}% of one analysis."]
        lines.append("")
    lines += ["## Time per part", ""]
    lines += [f"- {k}: {v:.0f} s" for k, v in r["part_seconds"].items()]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS, action="append")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--identify-sizes", default="1000,10000", help="through Azurite")
    parser.add_argument("--identify-memory-sizes", default="100000,1000000", help="search only")
    parser.add_argument("--postgres-sizes", default="10000,100000", help="bench.bench_postgres")
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument(
        "--instance-cpu",
        type=int,
        default=None,
        help="pipeline: the dev host on this CPU only, as a one-core Azure instance",
    )
    parser.add_argument("--policy-calls", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = parser.parse_args(argv)
    parts = [p for p in PARTS if p in set(args.only or PARTS)]
    started, load_before = time.time(), load_average()
    data = one_face_jpeg()
    r: dict[str, Any] = {"repeat": args.repeat, "part_seconds": {}}
    for part in parts:
        t0 = time.time()
        print(f"bench: {part} ...", file=sys.stderr)
        if part == "stages":
            r["stages"] = {str(n): stages(n, data, args.repeat) for n in (1, 2)}
            for name in (E2E_CPU, RAW_CPU, DETECT_CPU):  # reported for 1 thread only
                r["stages"]["2"].pop(name)
        elif part == "parallel":
            r["parallel"] = parallel(data, 2 * args.repeat)
        elif part == "cold":
            r["cold"] = [cold_start(data) for _ in range(3)]
        elif part == "memory":
            r["memory"] = {
                "640x480, 1 face": memory(data),
                "4096x3072, 4 faces": memory(large_jpeg()),
            }
        elif part == "identify":
            from bench import bench_identify

            sizes = [int(s) for s in args.identify_sizes.split(",") if s]
            memory_sizes = [int(s) for s in args.identify_memory_sizes.split(",") if s]
            r["identify"] = bench_identify.run(sizes, memory_sizes)
        elif part == "postgres":
            from bench import bench_postgres

            r["postgres"] = bench_postgres.for_speed(args.postgres_sizes, r.get("identify"))
        elif part == "pipeline":
            from bench import bench_pipeline

            r["pipeline"] = bench_pipeline.run(args.uploads, args.instance_cpu)
        elif part == "policy":
            from bench import bench_policy

            r["policy"] = bench_policy.run(args.policy_calls)
        r["part_seconds"][part] = time.time() - t0
    r.update(
        date=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        seconds=time.time() - started,
        cpu=cpu_name(),
        cores=os.cpu_count(),
        load_before=load_before,
        load_after=load_average(),
        onnxruntime=ort.__version__,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(r, indent=1))  # first: figures survive
    summary = render(json.loads(json.dumps(r)))  # what a reader of bench.json sees: str keys
    (args.out / "summary.md").write_text(summary)
    print(summary)
    print(f"report written to {args.out}/ (summary.md, bench.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
