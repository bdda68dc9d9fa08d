"""Identify and verify in PostgreSQL (shared/biometrics/postgres/search.py) against a real
embedded PostgreSQL with pgvector: exact search gives the in-memory Cohort's persons and
confidences, no other gallery's or customer's rows ever take part, the HNSW index finds the
same top candidate, and cached template statistics never outlive a gallery version."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from shared.biometrics.postgres import search
from shared.biometrics.postgres.search import PgCohort, TemplateStatsCache, ensure_index
from shared.matching import Cohort, calibration_for
from shared.vision import RECOGNITION_MODEL as MODEL

from .conftest import Galleries

CAL = calibration_for(MODEL)
DIM = 128
TOLERANCE = 1e-6  # float32 distances computed by pgvector vs numpy


def synthetic(
    rng: np.random.Generator, persons: int, kind: str, max_faces: int = 4, prefix: str = "p"
) -> tuple[np.ndarray, np.ndarray]:
    """Templates of ``persons`` persons with 1..max_faces faces each.

    clustered: a per-person centre plus noise, at about the within- and between-person
    distances of dlib descriptors (~0.4 and ~0.85); random: every face independent.
    """
    sizes = rng.integers(1, max_faces + 1, size=persons)
    ids = np.repeat([f"{prefix}{i:04d}" for i in range(persons)], sizes)
    if kind == "clustered":
        centres = rng.normal(scale=0.053, size=(persons, DIM))
        rows = np.repeat(centres, sizes, axis=0) + rng.normal(scale=0.025, size=(len(ids), DIM))
    else:
        rows = rng.normal(scale=0.06, size=(len(ids), DIM))
    return rows.astype(np.float32), ids


def probes(rng: np.random.Generator, matrix: np.ndarray, count: int) -> list[np.ndarray]:
    """Genuine probes (an enrolled face plus noise) and strangers."""
    out = []
    if len(matrix):
        for i in rng.choice(len(matrix), size=min(count, len(matrix)), replace=False):
            out.append(matrix[i] + rng.normal(scale=0.02, size=DIM).astype(np.float32))
    out += list(rng.normal(scale=0.06, size=(count // 2 + 1, DIM)).astype(np.float32))
    return out


def pg_cohort(database, galleries: Galleries, key: int, customer: str, cache, **kwargs):
    version, person_count, face_count = galleries.counts(key)
    return PgCohort(
        database, key, customer, MODEL, version, person_count, face_count, cache=cache, **kwargs
    )


def assert_same_matches(expected, got) -> None:
    assert [m.person_id for m in got] == [m.person_id for m in expected]
    for e, g in zip(expected, got, strict=True):
        assert g.confidence == pytest.approx(e.confidence, abs=TOLERANCE)


@pytest.mark.parametrize("kind", ["clustered", "random"])
@pytest.mark.parametrize("persons", [0, 1, 5, 25, 300])
def test_exact_search_equals_the_in_memory_cohort(database, galleries, cache, kind, persons):
    rng = np.random.default_rng(persons + (1000 if kind == "random" else 0))
    matrix, ids = synthetic(rng, persons, kind)
    key = galleries.create("acme", MODEL)
    if persons:
        galleries.fill("acme", key, MODEL, matrix, ids)
    memory = Cohort(matrix.reshape(-1, DIM), ids, CAL)
    pg = pg_cohort(database, galleries, key, "acme", cache)
    assert pg.exact and pg.person_count == memory.person_count == persons

    compared = 0
    for probe in probes(rng, matrix, 8):
        for threshold in (0.0, 0.5, 1.0):
            for limit in (1, 10):
                expected = memory.search(probe, threshold, limit)
                assert_same_matches(expected, pg.search(probe, threshold, limit))
                compared += len(expected)
        assert pg.probe_stats(probe) == pytest.approx(memory.probe_stats(probe), abs=TOLERANCE)
        for person in [*ids[:: max(1, len(ids) // 4)], "nobody"]:
            expected_confidence = memory.verify(probe, str(person))
            got = pg.verify(probe, str(person))
            if expected_confidence is None:
                assert got is None
            else:
                assert got == pytest.approx(expected_confidence, abs=TOLERANCE)
    if persons:
        assert compared > 0  # the comparison was not vacuous


def test_other_galleries_and_customers_never_take_part(database, galleries, cache, connection):
    """Rows of another gallery of the same customer and of another customer, closer to the
    probe than anything in the searched gallery, change nothing: exact and through HNSW."""
    ensure_index(connection, MODEL, DIM)
    rng = np.random.default_rng(7)
    mine, my_ids = synthetic(rng, 40, "clustered", prefix="mine")
    theirs, their_ids = synthetic(rng, 40, "clustered", prefix="theirs")
    key = galleries.create("acme", MODEL)
    galleries.fill("acme", key, MODEL, mine, my_ids)
    sibling = galleries.create("acme", MODEL)
    stranger_probes = probes(rng, theirs, 10)
    # the other galleries hold copies of the probes themselves, under the same person ids too
    copies = np.concatenate([theirs, np.stack(stranger_probes)])
    copy_ids = np.concatenate([their_ids, my_ids[: len(stranger_probes)]])
    galleries.fill("acme", sibling, MODEL, copies, copy_ids)
    other = galleries.create("globex", MODEL)
    galleries.fill("globex", other, MODEL, copies, copy_ids)

    memory = Cohort(mine, my_ids, CAL)
    for exact in (True, False):
        pg = pg_cohort(database, galleries, key, "acme", cache, exact=exact)
        for probe in stranger_probes + probes(rng, mine, 5):
            assert_same_matches(memory.search(probe, 0.0, 60), pg.search(probe, 0.0, 60))
            assert pg.probe_stats(probe) == pytest.approx(memory.probe_stats(probe), abs=TOLERANCE)
            assert pg.verify(probe, "theirs0001") is None  # a person of the other galleries
            expected = memory.verify(probe, my_ids[0])
            assert pg.verify(probe, my_ids[0]) == pytest.approx(expected, abs=TOLERANCE)
    # the same gallery key under another customer's id is nobody's gallery
    wrong = PgCohort(database, key, "globex", MODEL, 1, 40, len(mine), cache=cache)
    assert wrong.search(mine[0], 0.0, 10) == []
    assert wrong.verify(mine[0], my_ids[0]) is None


def _uses_index(connection: psycopg.Connection, pg: PgCohort, query: np.ndarray) -> bool:
    from psycopg import sql

    near = sql.SQL(
        "EXPLAIN SELECT f.person_id FROM faces f WHERE {filter} ORDER BY {distance} LIMIT 200"
    ).format(filter=pg._filter("f"), distance=pg._distance("f", sql.SQL("%(query)s"), DIM))
    plan = "\n".join(r[0] for r in connection.execute(near, pg._params(query)).fetchall())
    return search.index_name(MODEL, DIM) in plan


def test_hnsw_finds_the_exact_top_candidate(database, galleries, cache, connection):
    ensure_index(connection, MODEL, DIM)
    rng = np.random.default_rng(11)
    matrix, ids = synthetic(rng, 2500, "clustered", max_faces=3)
    key = galleries.create("acme", MODEL)
    galleries.fill("acme", key, MODEL, matrix, ids)
    connection.execute("ANALYZE faces")
    exact = pg_cohort(database, galleries, key, "acme", cache, exact=True)
    approximate = pg_cohort(database, galleries, key, "acme", TemplateStatsCache(), exact=False)
    assert not approximate.exact and approximate.face_count > 4000
    assert _uses_index(connection, approximate, matrix[0])
    agree = total = 0
    for probe in probes(rng, matrix, 150)[:150]:
        truth = exact.search(probe, 0.0, 1)
        found = approximate.search(probe, 0.0, 1)
        total += 1
        agree += bool(found) and found[0].person_id == truth[0].person_id
        if found and found[0].person_id == truth[0].person_id:
            assert found[0].confidence == pytest.approx(truth[0].confidence, abs=0.02)
    assert agree / total >= 0.99


def test_a_person_with_many_faces_near_the_probe_still_leaves_enough_persons(
    database, galleries, cache, connection
):
    """The nearest faces are all one person's (up to 248 faces): the search widens until it
    has the shortlist and the k + 1 cohort persons, in both modes, as in memory."""
    ensure_index(connection, MODEL, DIM)
    rng = np.random.default_rng(13)
    matrix, ids = synthetic(rng, 60, "clustered", max_faces=2)
    crowd = (matrix[0] + rng.normal(scale=0.02, size=(248, DIM))).astype(np.float32)
    matrix = np.concatenate([matrix, crowd])
    ids = np.concatenate([ids, np.full(248, "crowd")])
    key = galleries.create("acme", MODEL)
    galleries.fill("acme", key, MODEL, matrix, ids)
    memory = Cohort(matrix, ids, CAL)
    for exact in (True, False):
        pg = pg_cohort(database, galleries, key, "acme", cache, exact=exact)
        assert pg._first_rows(CAL.cohort_size + 1) < 248  # so the first query falls short
        for probe in [matrix[0], crowd[3], *probes(rng, matrix, 4)]:
            expected = memory.search(probe, 0.0, 10)
            assert len(expected) == 10
            assert_same_matches(expected, pg.search(probe, 0.0, 10))
            expected_confidence = memory.verify(probe, "crowd")
            assert pg.verify(probe, "crowd") == pytest.approx(expected_confidence, abs=TOLERANCE)


def test_template_statistics_are_cached_per_gallery_version(database, galleries, connection):
    rng = np.random.default_rng(17)
    matrix, ids = synthetic(rng, 60, "clustered")
    key = galleries.create("acme", MODEL)
    galleries.fill("acme", key, MODEL, matrix, ids)
    cache = TemplateStatsCache()
    probe = matrix[5] + rng.normal(scale=0.02, size=DIM).astype(np.float32)
    before = pg_cohort(database, galleries, key, "acme", cache)
    first = before.search(probe, 0.0, 10)
    cached = len(cache)
    assert cached >= 10

    computed: list[int] = []
    original = PgCohort._cohort_stats

    def counting(self, connection, pairs, dimension):
        computed.append(len(pairs))
        return original(self, connection, pairs, dimension)

    PgCohort._cohort_stats = counting  # type: ignore[method-assign]
    try:
        assert before.search(probe, 0.0, 10) == first
        assert computed == []  # an unchanged gallery: the probe query only
        # new persons close to every shortlisted template change their cohorts
        top = [m.person_id for m in first]
        near = np.concatenate([matrix[ids == p][:1] for p in top]) + 0.01
        galleries.fill(
            "acme", key, MODEL, near.astype(np.float32), np.array([f"n{p}" for p in top])
        )
        matrix = np.concatenate([matrix, near.astype(np.float32)])
        ids = np.concatenate([ids, [f"n{p}" for p in top]])
        after = pg_cohort(database, galleries, key, "acme", cache)
        assert after.version == before.version + 1
        expected = Cohort(matrix, ids, CAL).search(probe, 0.0, 10)
        assert_same_matches(expected, after.search(probe, 0.0, 10))
        assert sum(computed) >= 10  # recomputed for the new version
        # the stale statistics differ: reusing them would have given other confidences
        stale = PgCohort(
            database,
            key,
            "acme",
            MODEL,
            before.version,
            after.person_count,
            after.face_count,
            cache=cache,
        ).search(probe, 0.0, 10)
        assert any(
            abs(s.confidence - e.confidence) > 1e-3 for s, e in zip(stale, expected, strict=False)
        )
    finally:
        PgCohort._cohort_stats = original  # type: ignore[method-assign]


def test_the_cache_is_bounded():
    cache = TemplateStatsCache(entries=3)
    for i in range(5):
        cache.put(("g", 1, "p", str(i)), (float(i), 1.0))
    assert len(cache) == 3
    assert cache.get(("g", 1, "p", "0")) is None
    assert cache.get(("g", 1, "p", "4")) == (4.0, 1.0)


def test_the_index_is_created_once_per_model_and_names_are_quoted(connection):
    ensure_index(connection, MODEL, DIM)
    ensure_index(connection, MODEL, DIM)
    hostile = "x'); DROP TABLE faces; --"
    ensure_index(connection, hostile, 64)
    rows = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'faces'"
        " AND indexdef LIKE '%hnsw%'"
    ).fetchall()
    names = [name for name, _ in rows]
    assert names.count(search.index_name(MODEL, DIM)) == 1
    assert search.index_name(hostile, 64) in names
    definition = dict(rows)[search.index_name(MODEL, DIM)]
    assert "vector(128)" in definition and f"'{MODEL}'" in definition
    assert connection.execute("SELECT count(*) FROM faces").fetchone() is not None
    connection.execute(f'DROP INDEX "{search.index_name(hostile, 64)}"')
    for model, dimension in (("", 128), (MODEL, 0), (MODEL, 5000), ("a\nb", 128)):
        with pytest.raises(ValueError):
            ensure_index(connection, model, dimension)
