"""Grammar check of every Bicep file under infra/, with pycep-parser.

The Bicep compiler cannot be installed on our machines (it downloads a binary), so
this is the syntax gate: a file that pycep cannot parse fails the check. pycep
rejects some valid Bicep too (the spread operator ``...`` and ``[for x in y: if (c)
{...}]``), so infra/ avoids those forms. Grammar only: no type or schema checks.

Usage: ``python -m tools.infra.bicep_grammar [FILE ...]`` (default: infra/**/*.bicep);
exits 1 on any parse error or when there is nothing to check.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def bicep_files(root: Path = INFRA) -> list[Path]:
    """Every .bicep file under ``root``, in a stable order."""
    return sorted(root.rglob("*.bicep"))


def parse(path: Path) -> dict[str, Any]:
    """The pycep tree of one file; raises on a grammar error."""
    from pycep import BicepParser

    return BicepParser().parse(file_path=path)


def parse_text(text: str) -> dict[str, Any]:
    """The pycep tree of Bicep source text; raises on a grammar error."""
    from pycep import BicepParser

    return BicepParser().parse(text=text)


def _summary(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"


def check(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(path, error) for each file that does not parse; empty when all do."""
    errors: list[tuple[Path, str]] = []
    for path in paths:
        try:
            parse(path)
        except Exception as exc:  # any parser failure is a finding, whatever its type
            errors.append((path, _summary(exc)))
    return errors


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="default: infra/**/*.bicep")
    args = parser.parse_args(argv)
    files = list(args.files) or bicep_files()
    if not files:
        print("bicep grammar: no .bicep files to check", file=sys.stderr)
        return 1
    errors = dict(check(files))
    for path in files:
        status = f"FAIL {errors[path]}" if path in errors else "ok"
        print(f"bicep grammar: {_shown(path)}: {status}")
    print(f"bicep grammar: {len(files) - len(errors)} of {len(files)} files parse")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
