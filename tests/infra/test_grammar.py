"""Every .bicep file parses (pycep-parser 0.7.1), and the check can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra import bicep
from tools.infra import bicep_grammar


def test_there_is_bicep_to_check() -> None:
    files = bicep_grammar.bicep_files()
    assert bicep.MAIN in files
    assert len(files) >= 2


@pytest.mark.parametrize(
    "path", bicep_grammar.bicep_files(), ids=lambda p: str(p.relative_to(bicep.REPO))
)
def test_bicep_file_parses(path: Path) -> None:
    assert bicep_grammar.check([path]) == []


def test_every_module_main_uses_exists_and_parses() -> None:
    for name, call in bicep.main()["modules"].items():
        path = bicep.INFRA / call["detail"]["path"]
        assert path.is_file(), f"module {name}: {path} is missing"
        assert bicep_grammar.check([path]) == []


def test_no_registry_modules() -> None:
    """Every module is a local file, so the whole template is checkable offline."""
    for path in bicep_grammar.bicep_files():
        tree = bicep.tree(path)
        for name, call in tree.get("modules", {}).items():
            assert call["type"] == "local", f"{path.name}: module {name} is not a local file"


def test_grammar_check_reports_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("param location string\nresource x 'A/b@2020-01-01' = {\n  name = 'x'\n")
    fine = tmp_path / "fine.bicep"
    fine.write_text("param location string\noutput where string = location\n")
    errors = bicep_grammar.check([broken, fine])
    assert [path for path, _ in errors] == [broken]
    assert "line" in errors[0][1].lower()
    assert bicep_grammar.main([str(broken)]) == 1
    assert bicep_grammar.main([str(fine)]) == 0


def test_grammar_check_rejects_the_spread_operator(tmp_path: Path) -> None:
    """The offline parsers reject `...`; the check must surface that, not skip it."""
    spread = tmp_path / "spread.bicep"
    spread.write_text("var a = {\n  x: 1\n}\nvar b = {\n  ...a\n  y: 2\n}\n")
    assert len(bicep_grammar.check([spread])) == 1
