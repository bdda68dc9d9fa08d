"""Identify and verify in PostgreSQL: the in-memory Cohort's AS-norm, cohort scores from SQL.

``PgCohort`` is a ``Searchable`` over one gallery whose templates stay in the database: no
instance loads a gallery. It needs the same numbers as the in-memory ``Cohort`` and gets
them from k-nearest-neighbour queries, then shares its math (shared.matching.cohort):

- probe side: the probe's nearest faces grouped per person (a person counts once, by their
  best face): the shortlist (limit + SHORTLIST persons) and the k + 1 best persons, from
  which each candidate's cohort leaves the candidate out;
- template side: for each shortlisted template, its k nearest other persons, all templates
  of a search in one round trip (a LATERAL join); kept per process in a bounded LRU keyed by
  (gallery_key, version, person, face), so repeated searches of an unchanged gallery run
  the probe query only, and every change of the gallery (a new version) starts afresh;
- the PROBE_MARGIN shortcut, the calibration's prior for galleries of fewer than k other
  persons, and the size-aware threshold from the gallery's person count, as in memory.

Every query filters by customer_id AND gallery_key (and the gallery's model). A gallery of
fewer than FACEGATE_POSTGRES_EXACT_BELOW faces is searched exactly (its rows materialised,
no index: the same persons and scores as the in-memory Cohort); a larger one through the
model's HNSW index (``ensure_index``) with hnsw.ef_search = FACEGATE_POSTGRES_EF_SEARCH and
an iterative scan, so the customer/gallery filter still yields enough rows. Persons with
many faces are handled by asking for more faces than persons and widening until enough
distinct persons are found; a scan that stops short (hnsw.max_scan_tuples) falls back to
the exact query for that part.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import psycopg
from psycopg import sql

from shared import settings
from shared.matching.calibration import Calibration, calibration_for
from shared.matching.cohort import (
    SHORTLIST,
    Match,
    as_norm,
    needed_score,
    probe_cohort_stats,
    ranked_matches,
    top_k_stats,
)

_STATS_ENTRIES = 20_000  # template statistics kept per process (~650 bytes each: ~13 MB)
_WIDEN = 4  # factor by which a k-NN query asks for more faces when too few persons came back
_MAX_DIMENSION = 2000  # pgvector's limit for an HNSW index on vector
_HNSW_OPTIONS = "m = 16, ef_construction = 64"  # pgvector's defaults, written out
# hnsw.ef_search of the template-cohort queries: a template's statistics are the mean and
# spread of its 20 nearest other persons, which a near-miss among them hardly moves (the
# confidences moved by < 1e-6 at 100k faces against ef_search 200), at a quarter of the cost
_TEMPLATE_EF_SEARCH = 40


class Database(Protocol):
    def connection(self) -> Any: ...


class TemplateStatsCache:
    """Template statistics (mean, spread) of this process, least recently used out first."""

    def __init__(self, entries: int = _STATS_ENTRIES) -> None:
        self._entries = entries
        self._lock = threading.Lock()
        self._stats: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._stats)

    def get(self, key: Hashable) -> tuple[float, float] | None:
        with self._lock:
            value = self._stats.get(key)
            if value is not None:
                self._stats.move_to_end(key)
            return value

    def put(self, key: Hashable, value: tuple[float, float]) -> None:
        with self._lock:
            self._stats[key] = value
            self._stats.move_to_end(key)
            while len(self._stats) > self._entries:
                self._stats.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._stats.clear()


TEMPLATE_STATS = TemplateStatsCache()


def index_name(model: str, dimension: int) -> str:
    """The name of a model's HNSW index (a readable slug and a hash: always a valid name)."""
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:32]
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"faces_hnsw_{slug}_{digest}_{dimension}"


def _checked(model: str, dimension: int) -> tuple[str, int]:
    if not isinstance(model, str) or not model or len(model) > 128 or not model.isprintable():
        raise ValueError(f"not a recognition model name: {model!r}")
    if isinstance(dimension, bool) or not isinstance(dimension, int | np.integer):
        raise ValueError(f"not a template dimension: {dimension!r}")
    if not 1 <= int(dimension) <= _MAX_DIMENSION:
        raise ValueError(f"template dimension {dimension} outside 1..{_MAX_DIMENSION}")
    return model, int(dimension)


def ensure_index(connection: psycopg.Connection, model: str, dimension: int) -> None:
    """Create the model's partial HNSW index on faces if it is missing (idempotent).

    One index per recognition model: ``(embedding::vector(dimension))`` over the rows of
    that model only, so galleries of models of different dimensions share the table. The
    store calls this when a gallery of a model is created; concurrent callers serialise on
    an advisory lock. The model name is a quoted literal, never spliced into the SQL.
    """
    model, dimension = _checked(model, dimension)
    name = index_name(model, dimension)
    statement = sql.SQL(
        "CREATE INDEX IF NOT EXISTS {name} ON faces USING hnsw "
        "((embedding::vector({dimension})) vector_l2_ops) WITH ({options}) WHERE model = {model}"
    ).format(
        name=sql.Identifier(name),
        dimension=sql.Literal(dimension),
        options=sql.SQL(_HNSW_OPTIONS),
        model=sql.Literal(model),
    )
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
        connection.execute(statement)


def exact_below(env: Mapping[str, str] | None = None) -> int:
    """Galleries with fewer faces than this are searched exactly."""
    return settings.get_int("FACEGATE_POSTGRES_EXACT_BELOW", env)


class PgCohort:
    """One gallery in PostgreSQL, searchable with normalised scores (a ``Searchable``).

    Built per request from the gallery row just read (its key, version and counts): the
    version keys the cached template statistics, the person count sizes the threshold, and
    the face count chooses exact or approximate search.
    """

    def __init__(
        self,
        database: Database,
        gallery_key: int,
        customer_id: str,
        model: str,
        version: int,
        person_count: int,
        face_count: int,
        *,
        exact: bool | None = None,
        cache: TemplateStatsCache = TEMPLATE_STATS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.database = database
        self.gallery_key = int(gallery_key)
        self.customer_id = customer_id
        self.model = model
        self.version = int(version)
        self.face_count = int(face_count)
        self.calibration: Calibration = calibration_for(model)
        self.exact = self.face_count < exact_below(env) if exact is None else exact
        self._person_count = int(person_count)
        self._ef_search = max(1, settings.get_int("FACEGATE_POSTGRES_EF_SEARCH", env))
        self._cache = cache

    @property
    def person_count(self) -> int:
        return self._person_count

    # --- the Searchable interface ------------------------------------------------------

    def search(self, query: np.ndarray, threshold: float, limit: int) -> list[Match]:
        """Persons whose confidence reaches ``threshold``, best first, at most ``limit``."""
        if self.face_count == 0:
            return []
        query = _vector(query)
        k = self.calibration.cohort_size
        with self._connection() as connection:
            persons, faces, distances = self._nearest_persons(
                connection, query, max(limit + SHORTLIST, k + 1)
            )
            if len(persons) == 0:
                return []
            count = min(len(persons), limit + SHORTLIST)
            top = min(len(persons), k + 1)
            values = -distances[:top]
            mu_p, sd_p = probe_cohort_stats(
                values, persons[:top], persons[:count], self.calibration
            )
            needed = needed_score(self.calibration, threshold, self.person_count)

            def template_side(worth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                pairs = list(zip(persons[:count][worth], faces[:count][worth], strict=True))
                return self._template_stats(connection, pairs, len(query))

            scores = as_norm(-distances[:count], mu_p, sd_p, template_side, needed)
        confidence = self.calibration.confidence(scores, self.person_count)
        return ranked_matches(confidence, persons[:count], threshold, limit)

    def verify(self, query: np.ndarray, person_id: str) -> float | None:
        """Confidence that ``query`` is ``person_id`` (None: the person has no template here)."""
        if self.face_count == 0:
            return None
        query = _vector(query)
        k = self.calibration.cohort_size
        with self._connection() as connection:
            faces, distances = self._person_faces(connection, query, person_id)
            if len(faces) == 0:
                return None
            persons, _, nearest = self._nearest_persons(connection, query, k + 1)
            top = min(len(persons), k + 1)
            candidates = np.full(len(faces), person_id)
            mu_p, sd_p = probe_cohort_stats(
                -nearest[:top], persons[:top], candidates, self.calibration
            )

            def template_side(worth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                pairs = [(person_id, f) for f in faces[worth]]
                return self._template_stats(connection, pairs, len(query))

            scores = as_norm(-distances, mu_p, sd_p, template_side)
        return float(self.calibration.confidence(scores.max()))  # one comparison: no size term

    def probe_stats(self, query: np.ndarray) -> tuple[float, float]:
        """Top-k cohort statistics of a face compared 1:1, its best-matching person left out."""
        k = self.calibration.cohort_size
        persons = np.array([], dtype=str)
        distances = np.zeros(0)
        if self.face_count:
            with self._connection() as connection:
                persons, _, distances = self._nearest_persons(connection, _vector(query), k + 1)
        if len(persons) == 0:
            mean, spread = top_k_stats(np.zeros((0, 1)), k, self.calibration)
            return float(mean[0]), float(spread[0])
        top = min(len(persons), k + 1)
        mean, spread = probe_cohort_stats(
            -distances[:top], persons[:top], persons[:1], self.calibration
        )
        return float(mean[0]), float(spread[0])

    # --- SQL ---------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; for approximate search inside a transaction whose HNSW scan
        settings (SET LOCAL) end with it, so no other user of the pool inherits them."""
        with self.database.connection() as connection:
            if self.exact:
                yield connection
                return
            with connection.transaction():
                connection.execute(
                    "SELECT set_config('hnsw.ef_search', %s, true),"
                    " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                    [str(self._ef_search)],
                )
                yield connection

    @contextmanager
    def _ef_search_of(self, connection: psycopg.Connection, ef_search: int) -> Iterator[None]:
        """hnsw.ef_search = ``ef_search`` for the statements inside, in this transaction."""
        setting = "SELECT set_config('hnsw.ef_search', %s, true)"
        connection.execute(setting, [str(ef_search)])
        try:
            yield
        finally:
            connection.execute(setting, [str(self._ef_search)])

    def _params(self, query: np.ndarray | None = None, **extra: Any) -> dict[str, Any]:
        return {"customer": self.customer_id, "gallery": self.gallery_key, "query": query, **extra}

    def _filter(self, alias: str) -> sql.Composable:
        """This gallery's rows of this model (the model as a literal, so the planner can
        match the model's partial index)."""
        table = sql.Identifier(alias)
        return sql.SQL(
            "{t}.customer_id = %(customer)s AND {t}.gallery_key = %(gallery)s AND {t}.model = {m}"
        ).format(t=table, m=sql.Literal(self.model))

    def _distance(self, alias: str, other: sql.Composable, dimension: int) -> sql.Composable:
        """The L2 distance as the model's HNSW index orders it (the same value as ``<->``)."""
        d = sql.Literal(dimension)
        return sql.SQL("({t}.embedding::vector({d})) <-> ({o}::vector({d}))").format(
            t=sql.Identifier(alias), o=other, d=d
        )

    def _faces_per_person(self) -> float:
        return max(1.0, self.face_count / max(1, self.person_count))

    def _first_rows(self, persons: int) -> int:
        """How many nearest faces to ask for first to find ``persons`` distinct persons:
        a probe's nearest faces spread over many persons (about half as many faces as
        persons x faces per person were enough on face-like templates); too few persons
        widen the query."""
        return max(2 * persons, math.ceil(persons * self._faces_per_person() / 2))

    def _nearest_persons(
        self, connection: psycopg.Connection, query: np.ndarray, wanted: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``wanted`` persons nearest the probe (all, if fewer), each by their best face:
        (person ids, face ids, distances), nearest first."""
        if self.exact:
            return self._nearest_persons_exact(connection, query, wanted)
        rows = self._first_rows(wanted)
        while True:
            near = sql.SQL(
                "SELECT f.person_id, f.face_id, {distance} AS distance FROM faces f"
                " WHERE {filter} ORDER BY {distance} LIMIT %(rows)s"
            ).format(
                distance=self._distance("f", sql.SQL("%(query)s"), len(query)),
                filter=self._filter("f"),
            )
            found, seen = self._best_per_person(
                connection, near, self._params(query, rows=rows, persons=wanted)
            )
            if len(found[0]) >= min(wanted, self.person_count):
                return found
            if seen < rows or rows >= self.face_count:  # the scan stopped short: be exact
                return self._nearest_persons_exact(connection, query, wanted)
            rows *= _WIDEN

    def _nearest_persons_exact(
        self, connection: psycopg.Connection, query: np.ndarray, wanted: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every face of the gallery scored (grouped per person in one pass: no index can
        cut this scan short), then the chosen persons' nearest faces through the key."""
        statement = sql.SQL(
            "WITH top AS MATERIALIZED ("
            "  SELECT f.person_id, min(f.embedding <-> %(query)s) AS distance FROM faces f"
            "  WHERE {filter} GROUP BY f.person_id ORDER BY distance, f.person_id"
            "  LIMIT %(persons)s)"
            " SELECT DISTINCT ON (f.person_id) f.person_id, f.face_id,"
            "        f.embedding <-> %(query)s AS distance"
            " FROM top JOIN faces f ON {filter} AND f.person_id = top.person_id"
            " ORDER BY f.person_id, distance, f.face_id"
        ).format(filter=self._filter("f"))
        rows = connection.execute(statement, self._params(query, persons=wanted)).fetchall()
        return _sorted_persons(rows)

    def _best_per_person(
        self, connection: psycopg.Connection, near: sql.Composable, params: dict[str, Any]
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int]:
        """The nearest %(persons)s persons among the rows of ``near``, each with its nearest
        face, and how many rows ``near`` gave (grouped by hash, then only the chosen
        persons' rows sorted)."""
        statement = sql.SQL(
            "WITH near AS MATERIALIZED ({near}),"
            " top AS (SELECT person_id, min(distance) AS distance FROM near"
            "         GROUP BY person_id ORDER BY distance, person_id LIMIT %(persons)s)"
            " SELECT DISTINCT ON (near.person_id) near.person_id, near.face_id, near.distance,"
            "        (SELECT count(*) FROM near)"
            " FROM near JOIN top ON top.person_id = near.person_id"
            " ORDER BY near.person_id, near.distance, near.face_id"
        ).format(near=near)
        rows = connection.execute(statement, params).fetchall()
        return _sorted_persons(rows), int(rows[0][3]) if rows else 0

    def _person_faces(
        self, connection: psycopg.Connection, query: np.ndarray, person_id: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every face of one person in this gallery and its distance to the probe."""
        statement = sql.SQL(
            "SELECT f.face_id, f.embedding <-> %(query)s FROM faces f"
            " WHERE {filter} AND f.person_id = %(person)s ORDER BY f.face_id"
        ).format(filter=self._filter("f"))
        rows = connection.execute(statement, self._params(query, person=person_id)).fetchall()
        return np.array([r[0] for r in rows], dtype=str), np.array([r[1] for r in rows])

    def _template_stats(
        self, connection: psycopg.Connection, templates: Sequence[tuple[str, str]], dimension: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k cohort mean and spread of each (person, face) template against the other
        persons of the gallery; cached per gallery version."""
        keys = [(self.gallery_key, self.version, str(p), str(f)) for p, f in templates]
        stats = {key: self._cache.get(key) for key in keys}
        missing = [key for key, value in stats.items() if value is None]
        if missing:
            pairs = [(key[2], key[3]) for key in missing]
            computed = self._cohort_stats(connection, pairs, dimension)
            for key, value in zip(missing, computed, strict=True):
                if value is not None:
                    self._cache.put(key, value)
                stats[key] = value
        found = [stats[key] for key in keys]
        if any(value is None for value in found):  # erased since the probe query: no score
            found = [(np.inf, 1.0) if value is None else value for value in found]
        return np.array([m for m, _ in found]), np.array([s for _, s in found])

    def _cohort_stats(
        self, connection: psycopg.Connection, pairs: list[tuple[str, str]], dimension: int
    ) -> list[tuple[float, float] | None]:
        """(mean, spread) of each template's top-k cohort (None: the template is gone)."""
        k = self.calibration.cohort_size
        if self.exact:
            distances = self._cohort_distances_exact(connection, pairs)
        else:
            distances = self._cohort_distances_approximate(connection, pairs, dimension)
        out: list[tuple[float, float] | None] = []
        for i in range(len(pairs)):
            if i not in distances:
                out.append(None)
                continue
            similar = -np.asarray(distances[i], np.float64)[:k]
            mean, spread = top_k_stats(similar[:, None], k, self.calibration)
            out.append((float(mean[0]), float(spread[0])))
        return out

    def _cohort_distances_approximate(
        self, connection: psycopg.Connection, pairs: list[tuple[str, str]], dimension: int
    ) -> dict[int, list[float]]:
        """Through the index, widening for templates whose nearest faces held too few other
        persons, exact for those whose scan stopped short."""
        k = self.calibration.cohort_size
        wanted = min(k, max(0, self.person_count - 1))
        distances: dict[int, list[float]] = {}
        todo, rows = list(range(len(pairs))), self._first_rows(k)
        while todo:
            with self._ef_search_of(connection, min(self._ef_search, _TEMPLATE_EF_SEARCH)):
                found = self._cohort_distances_hnsw(
                    connection, [pairs[i] for i in todo], rows, dimension
                )
            widen, exact = [], []
            for j, i in enumerate(todo):
                if j not in found:
                    continue  # the template is gone (erased meanwhile)
                values, seen = found[j]
                if len(values) >= wanted:
                    distances[i] = values
                elif seen < rows or rows * _WIDEN > self.face_count:
                    exact.append(i)
                else:
                    widen.append(i)
            if exact:
                more = self._cohort_distances_exact(connection, [pairs[i] for i in exact])
                distances.update({exact[j]: values for j, values in more.items()})
            todo, rows = widen, rows * _WIDEN
        return distances

    def _cohort_distances_exact(
        self, connection: psycopg.Connection, pairs: list[tuple[str, str]]
    ) -> dict[int, list[float]]:
        """Each template's distances to its k nearest other persons, over every row."""
        statement = sql.SQL(
            "WITH gallery AS MATERIALIZED ("
            "  SELECT f.person_id, f.face_id, f.embedding FROM faces f WHERE {filter}),"
            " templates AS MATERIALIZED ("
            "  SELECT t.i, g.person_id, g.embedding"
            "  FROM unnest(%(persons)s::text[], %(faces)s::text[]) WITH ORDINALITY"
            "    AS t(person_id, face_id, i)"
            "  JOIN gallery g ON g.person_id = t.person_id AND g.face_id = t.face_id)"
            " SELECT templates.i, cohort.distances FROM templates CROSS JOIN LATERAL ("
            "  SELECT coalesce(array_agg(best ORDER BY best), '{{}}') AS distances FROM ("
            "   SELECT min(g.embedding <-> templates.embedding) AS best FROM gallery g"
            "   WHERE g.person_id <> templates.person_id"
            "   GROUP BY g.person_id ORDER BY best LIMIT {k}) top) cohort"
        ).format(filter=self._filter("f"), k=sql.Literal(self.calibration.cohort_size))
        params = self._params(persons=[p for p, _ in pairs], faces=[f for _, f in pairs])
        rows = connection.execute(statement, params).fetchall()
        return {int(i) - 1: list(values) for i, values in rows}

    def _cohort_distances_hnsw(
        self,
        connection: psycopg.Connection,
        pairs: list[tuple[str, str]],
        rows: int,
        dimension: int,
    ) -> dict[int, tuple[list[float], int]]:
        """Each template's distances to its nearest other persons among its ``rows``
        nearest faces through the index, and how many faces the scan gave."""
        distance = self._distance("o", sql.SQL("f.embedding"), dimension)
        statement = sql.SQL(
            "SELECT t.i, cohort.distances, cohort.seen"
            " FROM unnest(%(persons)s::text[], %(faces)s::text[]) WITH ORDINALITY"
            "   AS t(person_id, face_id, i)"
            " JOIN faces f ON {filter} AND f.person_id = t.person_id AND f.face_id = t.face_id"
            " CROSS JOIN LATERAL ("
            "  SELECT coalesce((array_agg(best ORDER BY best))[1:{k}], '{{}}') AS distances,"
            "         coalesce(sum(n), 0) AS seen FROM ("
            "   SELECT min(near.distance) AS best, count(*) AS n FROM ("
            "    SELECT o.person_id, {distance} AS distance FROM faces o"
            "    WHERE {other} AND o.person_id <> t.person_id"
            "    ORDER BY {distance} LIMIT %(rows)s) near"
            "   GROUP BY near.person_id) per_person) cohort"
        ).format(
            filter=self._filter("f"),
            other=self._filter("o"),
            distance=distance,
            k=sql.Literal(self.calibration.cohort_size),
        )
        params = self._params(persons=[p for p, _ in pairs], faces=[f for _, f in pairs], rows=rows)
        found = connection.execute(statement, params).fetchall()
        return {int(i) - 1: (sorted(values), int(seen)) for i, values, seen in found}


def _sorted_persons(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person ids, face ids, distances) of rows (person, face, distance, ...), nearest first."""
    rows = sorted(rows, key=lambda r: (r[2], r[0]))
    persons = np.array([r[0] for r in rows], dtype=str)
    faces = np.array([r[1] for r in rows], dtype=str)
    return persons, faces, np.array([r[2] for r in rows], np.float64)


def _vector(query: np.ndarray) -> np.ndarray:
    return np.asarray(query, np.float32).ravel()
