"""Blob pipeline throughput: uploads through Azurite and the dev host, against raw analysis.

    python -m bench.bench_pipeline [--uploads 100]

A private in-memory Azurite and the real app in the dev host (tools/devhost: BlobCreated
events on the uploads queue, as Event Grid sends them in Azure, and the queue trigger's
batch rules) process ``--uploads`` JPEGs made
from the two public-domain test portraits, with every detect attribute plus age, gender
and emotion. Throughput = uploads / (first upload started -> the last result's
``processedAt``; results are listed once a second, so the bench's own polling barely
loads the emulator it measures). The same images are then analysed in this process with
the same options, one at a time and two at a time, so the pipeline's overhead (events,
queue polling, policy, storage round trips) shows as a ratio. The queues are polled as
host.json says (2 s at most when idle, as in Azure), not at the tests' faster pace. The
dev host counts its storage requests (tools/devhost/storagestats.py): the report gives the
round trips and bytes of one upload by kind. Prints a table and writes reports/bench/pipeline.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
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


POLL_S = 1.0  # how often the bench lists the results (it does not time the pipeline)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` onto ``cpus`` (threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(int(tid), cpus)


def through_pipeline(data: list[bytes], workdir: Path, cpu: int | None = None) -> dict[str, Any]:
    emulator = Azurite.on_free_ports().start()
    if cpu is not None:  # storage is another machine in Azure: keep it off the instance's core
        assert emulator.process is not None
        pin(emulator.process.pid, set(os.sched_getaffinity(0)) - {cpu})
    stats_file = workdir / "storage-stats.json"
    env = app_env(emulator.connection_string, DEVHOST_STORAGE_STATS=str(stats_file))
    # the queues are polled as host.json says (as in Azure), not at the tests' faster pace
    polling = str(_seconds(_queues()["maxPollingInterval"]))
    host = AppHost(workdir / "host", env, extra_args=("--queue-poll-interval", polling))
    try:
        with storage_of_this_process(emulator.connection_string):
            results, elapsed, uploaded, requests, cpu_used = _run_batch(
                data, host, stats_file, cpu, emulator
            )
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
        "host_cpu_ms_per_upload": 1000 * cpu_used["host"] / len(data),
        "azurite_cpu_ms_per_upload": 1000 * cpu_used["azurite"] / len(data),
        "storage_per_upload": {
            key: {name: value / len(data) for name, value in row.items()}
            for key, row in requests["requests"].items()
        },
        # the function's own CPU (its invoking thread): what a Python worker spends per
        # upload in Azure, where the host's polling and Event Grid are not in the worker
        "function_cpu_ms_per_upload": sum(row["cpu_ms"] for row in requests["functions"].values())
        / len(data),
        "functions": requests["functions"],
    }


def _queues() -> dict[str, Any]:
    return json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]


def _seconds(timespan: str) -> float:
    hours, minutes, seconds = timespan.split(":")
    return 3600 * int(hours) + 60 * int(minutes) + float(seconds)


def _stats(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """The dev host's counts: ``requests`` by kind and ``functions`` by name."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


_FIELDS = {"requests": ("requests", "sent", "received"), "functions": ("invocations", "cpu_ms")}


def _difference(after: dict, before: dict) -> dict[str, dict[str, dict[str, float]]]:
    """What changed between two readings, per section, rows that did not change left out."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for section, fields in _FIELDS.items():
        old_rows = before.get(section, {})
        rows = {}
        for key, row in after.get(section, {}).items():
            old = old_rows.get(key, {})
            diff = {name: row[name] - old.get(name, 0) for name in fields}
            if diff[fields[0]]:
                rows[key] = diff
        out[section] = rows
    return out


def _processed_at(result: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(result["processedAt"].replace("Z", "+00:00")).timestamp()


def _run_batch(
    data: list[bytes], host: AppHost, stats_file: Path, cpu: int | None, emulator: Azurite
) -> tuple[list[dict], float, float, dict[str, dict[str, dict[str, float]]], dict[str, float]]:
    """Upload ``data`` for a fresh customer and wait for every result: (results, s, upload
    s, the host's storage requests in between, the CPU seconds the host and Azurite used)."""
    customer = seed_customer(
        f"bench-{uuid.uuid4().hex[:8]}",
        actions=("detect", "age", "gender", "emotion"),
        purposes=("benchmark",),
    )["customerId"]
    host.start()
    if cpu is not None:
        assert host.process is not None
        pin(host.process.pid, {cpu})
    uploads = clients.blob_service().get_container_client(access.uploads_container(customer))

    def put(name: str, body: bytes) -> None:
        uploads.upload_blob(name, body, metadata={"features": FEATURES, "purpose": "benchmark"})

    put("warmup/0.jpg", data[0])  # the host loads its models on its first upload
    wait_until(lambda: _result_names(customer, "warmup/"), "the warm-up result", 300)
    time.sleep(2)  # the warm-up's last requests (retention, message delete) are not counted
    before = _stats(stats_file)
    assert host.process is not None and emulator.process is not None
    pids = {"host": host.process.pid, "azurite": emulator.process.pid}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started, wall_start = time.perf_counter(), time.time()
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
                time.sleep(POLL_S)
    container = clients.blob_service().get_container_client(access.results_container(customer))
    results = [json.loads(container.download_blob(n).readall()) for n in sorted(done)]
    elapsed = max(_processed_at(r) for r in results) - wall_start
    time.sleep(2)  # the last uploads' retention deletes and message deletes
    used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    return results, elapsed, uploaded, _difference(_stats(stats_file), before), used


def in_process(data: list[bytes], workers: int, cpu: int | None = None) -> dict[str, Any]:
    mask = os.sched_getaffinity(0)
    if cpu is not None:  # this thread, and so the pool's threads it starts
        os.sched_setaffinity(0, {cpu})
    try:
        return _in_process(data, workers)
    finally:
        os.sched_setaffinity(0, mask)


def _in_process(data: list[bytes], workers: int) -> dict[str, Any]:
    analyzer = Analyzer(Catalog(threads=1))
    analyzer.analyze(data[0], ATTRIBUTES)  # load the models first, as the warm-up above

    def one(body: bytes) -> int:
        return len(analyzer.analyze(body, ATTRIBUTES, landmarks=True, max_faces=100))

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        faces = sum(
            tqdm(pool.map(one, data), total=len(data), desc=f"in-process x{workers}", unit="img")
        )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "workers": workers,
        "elapsed_s": elapsed,
        "images_per_s": len(data) / elapsed,
        "cpu_ms_per_image": 1000 * cpu / len(data),
        "faces": faces,
    }


def run(uploads: int, instance_cpu: int | None = None) -> dict[str, Any]:
    """Pipeline and in-process throughput. ``instance_cpu`` models an Azure instance of one
    core (2048 MB): the dev host and the in-process analyses run on that CPU only, Azurite
    and the bench on the others, and the ratio is against in-process analysis on that core
    (what the instance could do with no storage in the way)."""
    data = images(uploads)
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        pipeline = through_pipeline(data, Path(tmp), instance_cpu)
    raw = {n: in_process(data, n, instance_cpu) for n in (1, 2)}
    queues = _queues()
    parallel = int(queues["batchSize"]) + int(queues["newBatchThreshold"])  # at most at once
    cores = 1 if instance_cpu is not None else len(os.sched_getaffinity(0))
    return {
        "pipeline": pipeline,
        "in_process": raw,
        "max_degree_of_parallelism": parallel,
        "instance_cpu": instance_cpu,
        "ratio_vs_same_parallelism": pipeline["images_per_s"]
        / raw[min(parallel, cores, 2)]["images_per_s"],
        # what the throughput ratio tends to when CPU is the limit, and other jobs on the
        # machine disturb it far less than wall time: in-process CPU per image over the host
        # process's CPU per upload (its Event Grid emulation thread included)
        "cpu_ratio": raw[1]["cpu_ms_per_image"] / pipeline["host_cpu_ms_per_upload"],
        # the same with the function's CPU alone (no host emulation: Azure's host is .NET)
        "function_cpu_ratio": raw[1]["cpu_ms_per_image"] / pipeline["function_cpu_ms_per_upload"]
        if pipeline["function_cpu_ms_per_upload"]
        else float("nan"),  # a dev host without the function counters
        "mean_image_bytes": float(np.mean([len(d) for d in data])),
    }


def storage_table(pipeline: dict[str, Any]) -> list[str]:
    """Markdown rows: the dev host's storage requests and bytes per upload, by kind."""
    rows = pipeline.get("storage_per_upload") or {}
    lines = [
        "| request (dev host, per upload) | round trips | KB sent | KB received |",
        "| --- | --- | --- | --- |",
    ]
    for key, row in sorted(rows.items(), key=lambda kv: -kv[1]["requests"]):
        lines.append(
            f"| {key} | {row['requests']:.2f} | {row['sent'] / 1024:.1f} | "
            f"{row['received'] / 1024:.1f} |"
        )
    total = {
        name: sum(row[name] for row in rows.values()) for name in ("requests", "sent", "received")
    }
    lines.append(
        f"| all | {total['requests']:.2f} | {total['sent'] / 1024:.1f} | "
        f"{total['received'] / 1024:.1f} |"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument(
        "--instance-cpu", type=int, default=None, help="run the host on this CPU only (1 core)"
    )
    args = parser.parse_args(argv)
    result = run(args.uploads, args.instance_cpu)
    p, raw = result["pipeline"], result["in_process"]
    print(
        f"blob pipeline: {p['uploads']} uploads in {p['elapsed_s']:.1f} s = "
        f"{p['images_per_s']:.2f} images/s (median analyse {p['median_analyze_ms']:.0f} ms, "
        f"total per upload {p['median_total_ms']:.0f} ms)"
    )
    for n, r in raw.items():
        print(f"in-process, {n} at a time: {r['images_per_s']:.2f} images/s")
    where = (
        f"the host on CPU {args.instance_cpu} only, against in-process on that core"
        if args.instance_cpu is not None
        else f"at the host's parallelism ({result['max_degree_of_parallelism']})"
    )
    print(f"pipeline / in-process, {where}: {result['ratio_vs_same_parallelism']:.2f}")
    print(
        f"CPU per image: in-process {raw[1]['cpu_ms_per_image']:.0f} ms, dev host "
        f"{p['host_cpu_ms_per_upload']:.0f} ms per upload (Azurite "
        f"{p['azurite_cpu_ms_per_upload']:.0f} ms): ratio {result['cpu_ratio']:.2f}"
    )
    print(
        f"of which the function itself (its invoking thread): "
        f"{p['function_cpu_ms_per_upload']:.0f} ms per upload: ratio "
        f"{result['function_cpu_ratio']:.2f}"
    )
    print("\n".join(storage_table(p)))
    out = ROOT / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
