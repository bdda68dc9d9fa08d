"""``make bench``'s report: a real (tiny) pipeline run goes through ``bench.speed.main`` to
bench.json and summary.md; the figures themselves are in docs/accuracy.md, not here."""

from __future__ import annotations

import json
from pathlib import Path

from bench import speed


def test_a_pipeline_run_is_written_and_rendered(tmp_path: Path) -> None:
    assert speed.main(["--only", "pipeline", "--uploads", "4", "--out", str(tmp_path)]) == 0
    figures = json.loads((tmp_path / "bench.json").read_text())
    pipeline = figures["pipeline"]
    assert pipeline["pipeline"]["uploads"] == 4
    assert set(pipeline["in_process"]) == {"1", "2"}
    assert pipeline["cpu_ratio"] > 0
    # every upload invoked the function once; its own CPU is part of the host's
    assert pipeline["pipeline"]["functions"]["process_upload"]["invocations"] == 4
    assert pipeline["pipeline"]["function_cpu_ms_per_upload"] > 0
    assert pipeline["function_cpu_ratio"] >= pipeline["cpu_ratio"]
    summary = (tmp_path / "summary.md").read_text()
    assert "## Blob pipeline throughput" in summary
    assert f"ratio {pipeline['cpu_ratio']:.2f}" in summary
    assert "| GET upload blob | 1.00 |" in summary  # one read of each upload's bytes
