"""docs/galleries-postgres.md shows the table layout as schema.sql creates it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_layout_is_the_schema():
    schema = (ROOT / "shared/biometrics/postgres/schema.sql").read_text()
    tables = schema[schema.index("CREATE TABLE IF NOT EXISTS galleries") :].rstrip()
    assert tables in (ROOT / "docs/galleries-postgres.md").read_text()
