"""``bench.bench_postgres`` end to end on a tiny gallery in the session's PostgreSQL: the
harness measures every figure and renders them; the figures themselves are in
docs/galleries-postgres.md, not here."""

from __future__ import annotations

from bench import bench_postgres


def test_the_harness_measures_and_reports_a_small_gallery(postgres):
    r = bench_postgres.run([600], probe_count=8, table_load_faces=0, server_uri=postgres.url)
    (row,) = r["sizes"]
    assert row["faces"] == 600 and row["mode"] == "exact"
    assert row["same_identify_answer"] == 1.0  # exact search: the in-memory Cohort's answers
    assert row["fill"]["copy_rows_per_s"] > 0 and row["fill"]["insert_rows_per_s"] > 0
    assert row["fresh_process"]["postgres"]["peak_rss_mb"] > 0
    text = "\n".join(bench_postgres.markdown(r))
    assert "| 600 | exact |" in text
    again = bench_postgres.run([600], probe_count=8, table_load_faces=0, server_uri=postgres.url)
    assert again["sizes"][0]["fill"]["reused"]  # the kept gallery is not filled twice


def test_synthetic_templates_have_the_requested_size_and_face_like_distances():
    matrix, ids = bench_postgres.synthetic(5000)
    assert matrix.shape == (5000, 128) and len(ids) == 5000
    assert 500 < len(set(ids.tolist())) < 1500
    same = [matrix[ids == p] for p in list(dict.fromkeys(ids.tolist()))[:200]]
    within = [float(((f[0] - f[1]) ** 2).sum() ** 0.5) for f in same if len(f) > 1]
    between = [float(((same[i][0] - same[i + 1][0]) ** 2).sum() ** 0.5) for i in range(100)]
    assert 0.3 < sorted(within)[len(within) // 2] < 0.5
    assert 0.75 < sorted(between)[50] < 0.95
