"""Blob pipeline throughput: uploads through Azurite and the dev host, against raw analysis.

    python -m bench.bench_pipeline [--uploads 100]

A private in-memory Azurite and the real app in the dev host (tools/devhost: BlobCreated
events on the uploads queue, as Event Grid sends them in Azure, and the queue trigger's
batch rules) process ``--uploads`` JPEGs made
from the two public-domain test portraits, with every detect attribute plus age, gender
and emotion. Throughput = uploads / (first upload started -> last result written). The
same images are then analysed in this process with the same options, one at a time and
two at a time, so the pipeline's overhead (events, queue polling, policy, storage round trips)
shows as a ratio. Prints a table and writes reports/bench/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from shared import attributes as attribute_registry
from shared.pipeline import access
from shared.storage import clients
from shared.vision import Analyzer
from shared.vision.catalog import Catalog
from tests.data import make_photos as photos
from tests.support.apphost import AppHost, app_env, wait_until
from tools.dev.azurite import ROOT, Azurite, storage_of_this_process
from tools.dev.seed import seed_customer

FEATURES = "detect,age,gender,emotion"
ATTRIBUTES = attribute_registry.NAMES


def images(count: int) -> list[bytes]:
    """``count`` distinct JPEGs: the portraits and a 4-face composite, flipped, exposed."""
    bases = [photos.astronaut(), photos.grace_hopper(), photos.composite()]
    variants = []
    for gain in (1.0, 0.85, 1.15, 0.7, 1.3):
        for base in bases:
            for mirrored in (False, True):
                rgb = photos.exposure(base, gain) if gain != 1.0 else base
                variants.append(photos.flip(rgb) if mirrored else rgb)
    qualities = (92, 85, 78, 70)
    out = []
    for i in range(count):
        rgb = variants[i % len(variants)]
        out.append(photos.encode(rgb, "JPEG", quality=qualities[(i // len(variants)) % 4]))
    return out


def _result_names(customer: str, prefix: str) -> set[str]:
    container = clients.blob_service().get_container_client(access.results_container(customer))
    return {b.name for b in container.list_blobs(name_starts_with=prefix)}


def through_pipeline(data: list[bytes], workdir: Path) -> dict[str, Any]:
    emulator = Azurite.on_free_ports().start()
    host = AppHost(workdir / "host", app_env(emulator.connection_string))
    try:
        with storage_of_this_process(emulator.connection_string):
            results, elapsed, uploaded = _run_batch(data, host)
    finally:
        host.stop()
        emulator.stop()
    statuses = {r["status"] for r in results}
    if statuses != {"succeeded"}:
        raise RuntimeError(f"pipeline results not all succeeded: {statuses}")
    return {
        "uploads": len(data),
        "upload_s": uploaded,
        "elapsed_s": elapsed,
        "images_per_s": len(data) / elapsed,
        "median_analyze_ms": statistics.median(r["timings"]["analyzeMs"] for r in results),
        "median_total_ms": statistics.median(r["timings"]["totalMs"] for r in results),
        "faces": sum(len(r["faces"]) for r in results),
    }


def _run_batch(data: list[bytes], host: AppHost) -> tuple[list[dict], float, float]:
    """Upload ``data`` for a fresh customer and wait for every result: (results, s, upload s)."""
    customer = seed_customer(
        f"bench-{uuid.uuid4().hex[:8]}",
        actions=("detect", "age", "gender", "emotion"),
        purposes=("benchmark",),
    )["customerId"]
    host.start()
    uploads = clients.blob_service().get_container_client(access.uploads_container(customer))

    def put(name: str, body: bytes) -> None:
        uploads.upload_blob(name, body, metadata={"features": FEATURES, "purpose": "benchmark"})

    put("warmup/0.jpg", data[0])  # the host loads its models on its first upload
    wait_until(lambda: _result_names(customer, "warmup/"), "the warm-up result", 300)
    started = time.perf_counter()
    for i, body in enumerate(data):
        put(f"run/{i:04d}.jpg", body)
    uploaded = time.perf_counter() - started
    prefix = "run/"
    with tqdm(total=len(data), desc="pipeline results", unit="img", dynamic_ncols=True) as bar:
        done: set[str] = set()
        deadline = time.monotonic() + 900
        while len(done) < len(data):
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(done)}/{len(data)} results after 900 s")
            new = _result_names(customer, prefix) - done
            bar.update(len(new))
            done |= new
            if len(done) < len(data):
                time.sleep(0.1)
    elapsed = time.perf_counter() - started
    container = clients.blob_service().get_container_client(access.results_container(customer))
    results = [json.loads(container.download_blob(n).readall()) for n in sorted(done)]
    return results, elapsed, uploaded


def in_process(data: list[bytes], workers: int) -> dict[str, Any]:
    analyzer = Analyzer(Catalog(threads=1))
    analyzer.analyze(data[0], ATTRIBUTES)  # load the models first, as the warm-up above

    def one(body: bytes) -> int:
        return len(analyzer.analyze(body, ATTRIBUTES, landmarks=True, max_faces=100))

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        faces = sum(
            tqdm(pool.map(one, data), total=len(data), desc=f"in-process x{workers}", unit="img")
        )
    elapsed = time.perf_counter() - started
    return {
        "workers": workers,
        "elapsed_s": elapsed,
        "images_per_s": len(data) / elapsed,
        "faces": faces,
    }


def run(uploads: int) -> dict[str, Any]:
    data = images(uploads)
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        pipeline = through_pipeline(data, Path(tmp))
    raw = {n: in_process(data, n) for n in (1, 2)}
    queues = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    parallel = int(queues["batchSize"]) + int(queues["newBatchThreshold"])  # at most at once
    return {
        "pipeline": pipeline,
        "in_process": raw,
        "max_degree_of_parallelism": parallel,
        "ratio_vs_same_parallelism": pipeline["images_per_s"]
        / raw[min(parallel, 2)]["images_per_s"],
        "mean_image_bytes": float(np.mean([len(d) for d in data])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=100)
    args = parser.parse_args(argv)
    result = run(args.uploads)
    p, raw = result["pipeline"], result["in_process"]
    print(
        f"blob pipeline: {p['uploads']} uploads in {p['elapsed_s']:.1f} s = "
        f"{p['images_per_s']:.2f} images/s (median analyse {p['median_analyze_ms']:.0f} ms, "
        f"total per upload {p['median_total_ms']:.0f} ms)"
    )
    for n, r in raw.items():
        print(f"in-process, {n} at a time: {r['images_per_s']:.2f} images/s")
    print(
        f"pipeline / in-process at the host's parallelism "
        f"({result['max_degree_of_parallelism']}): {result['ratio_vs_same_parallelism']:.2f}"
    )
    out = ROOT / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
