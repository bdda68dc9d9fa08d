"""Identify latency and memory against galleries of 1k, 10k, 100k (and 1M) enrolled faces.

    python -m bench.bench_identify [--sizes 1000,10000,100000] [--in-memory-sizes 1000000]

For each size a gallery is filled in a private Azurite (through the same store
the API uses), the identify index is loaded once (cold load time), then the
median of warm identify calls is measured: the gallery-version check (one
point read) plus the search, exactly what /api/identify does after the gate.
``--in-memory-sizes`` measures the search alone on a synthetic matrix, for sizes
too large to fill through the emulator in a bench run: Azurite's table inserts slow
down linearly with the table's size (30k faces take ~1 min to fill, 100k 10.5 min,
and the first load of those 100k templates had not finished after 12 more minutes),
while the warm identify path never reads the faces table (one gallery point read,
then the in-memory search), so its latency at those sizes is the measured point
read plus the measured search.
Templates are random unit vectors: latency does not depend on their values.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
import uuid

import numpy as np
from tqdm import tqdm

from shared.biometrics import store
from shared.biometrics.index import GalleryIndex, IndexCache
from shared.storage import clients, names
from shared.vision import RECOGNITION_MODEL as MODEL
from tools.dev.azurite import Azurite, storage_of_this_process

DIM = 128
WARM_CALLS = 50


def _unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.normal(size=(n, DIM)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def _fill(customer: str, gallery: str, n: int, model: str, rng: np.random.Generator) -> None:
    """n faces over n/5 persons, written in 100-row transactions like an enrolment stream."""
    created = store.create_gallery(customer, gallery, "bench", "", model)
    faces = clients.table_service().get_table_client(names.FACES)
    batch = []
    rows = _unit_rows(rng, n)
    for i, row in enumerate(tqdm(rows, desc=f"fill {n} faces", unit="face", unit_scale=True)):
        person = f"{i // 5:08d}-0000-4000-8000-000000000000"
        face = store.face_entity(created.partition, person, str(uuid.uuid4()), row, model)
        batch.append(("create", face))
        if len(batch) == 100:
            faces.submit_transaction(batch)
            batch = []
    if batch:
        faces.submit_transaction(batch)
    store.mark_changed(created)


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure_through_storage(n: int, rng: np.random.Generator) -> dict[str, float]:
    customer, gallery = f"bench{uuid.uuid4().hex[:8]}", "g"
    started = time.perf_counter()
    _fill(customer, gallery, n, MODEL, rng)
    fill_s = time.perf_counter() - started
    cache = IndexCache()
    tracemalloc.start()
    started = time.perf_counter()
    index = cache.fresh(store.get_gallery(customer, gallery))
    index.search(_unit_rows(rng, 1)[0], MODEL, 0.5, 1)  # builds the matrix
    cold_s = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    probes = _unit_rows(rng, WARM_CALLS)
    samples = []
    for probe in probes:
        started = time.perf_counter()
        index = cache.fresh(store.get_gallery(customer, gallery))
        index.search(probe, MODEL, 0.5, 10)
        samples.append(time.perf_counter() - started)
    search_only = []
    for probe in probes:
        started = time.perf_counter()
        index.search(probe, MODEL, 0.5, 10)
        search_only.append(time.perf_counter() - started)
    reads = []
    for _ in probes:
        started = time.perf_counter()
        store.get_gallery(customer, gallery)
        reads.append(time.perf_counter() - started)
    store.delete_gallery(customer, gallery)
    return {
        "faces": n,
        "fill_s": fill_s,
        "cold_load_s": cold_s,
        "warm_identify_ms": _median_ms(samples),
        "search_only_ms": _median_ms(search_only),
        "version_read_ms": _median_ms(reads),
        "index_peak_mb": peak / 2**20,
    }


def measure_in_memory(n: int, rng: np.random.Generator) -> dict[str, float]:
    matrix = _unit_rows(rng, n)
    persons = np.array([f"{i // 5:08d}" for i in range(n)])
    index = GalleryIndex.from_matrix(matrix, persons, MODEL)
    probes = _unit_rows(rng, WARM_CALLS)
    index.search(probes[0], MODEL, 0.5, 10)  # builds the cohort
    samples, raw = [], []
    for probe in probes:  # alternating, so both see the same machine load
        started = time.perf_counter()
        index.search(probe, MODEL, 0.5, 10)
        samples.append(time.perf_counter() - started)
        started = time.perf_counter()
        _raw_scan(matrix, probe)
        raw.append(time.perf_counter() - started)
    return {
        "faces": n,
        "search_only_ms": _median_ms(samples),
        "raw_scan_ms": _median_ms(raw),
        "normalised_vs_raw": statistics.median(samples) / statistics.median(raw),
        "matrix_mb": matrix.nbytes / 2**20,
    }


def _raw_scan(matrix: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """What identify did before score normalisation: every distance, thresholded once."""
    squared = np.einsum("ij,ij->i", matrix, matrix) + float(probe @ probe) - 2.0 * (matrix @ probe)
    return np.flatnonzero(np.sqrt(np.maximum(squared, 0.0)) <= 0.56)


def run(sizes: list[int], memory_sizes: list[int], seed: int = 7) -> list[dict[str, float]]:
    """Rows for every size: through a private Azurite first, then in memory."""
    rng = np.random.default_rng(seed)
    rows = []
    if sizes:
        with (
            Azurite.on_free_ports() as emulator,
            storage_of_this_process(emulator.connection_string),
        ):
            rows += [{"through": "azurite", **measure_through_storage(n, rng)} for n in sizes]
    rows += [{"through": "memory", **measure_in_memory(n, rng)} for n in memory_sizes]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--in-memory-sizes", default="1000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    memory_sizes = [int(s) for s in args.in_memory_sizes.split(",") if s]
    rows = run(sizes, memory_sizes)
    print(f"identify latency, median of {WARM_CALLS} warm calls, 1 probe face, 10 candidates")
    print(
        f"{'faces':>9} {'fill s':>8} {'cold load s':>12} {'identify ms':>12} "
        f"{'search ms':>10} {'index MB':>9}"
    )
    for r in rows:
        if r["through"] == "azurite":
            print(
                f"{r['faces']:>9} {r['fill_s']:>8.1f} {r['cold_load_s']:>12.2f} "
                f"{r['warm_identify_ms']:>12.2f} {r['search_only_ms']:>10.2f} "
                f"{r['index_peak_mb']:>9.1f}"
            )
        else:
            print(
                f"{r['faces']:>9} {'-':>8} {'-':>12} {'-':>12} {r['search_only_ms']:>10.2f} "
                f"{r['matrix_mb']:>9.1f}   (search only, synthetic matrix; "
                f"{r['normalised_vs_raw']:.2f}x a raw scan of {r['raw_scan_ms']:.2f} ms)"
            )


if __name__ == "__main__":
    main()
