"""The Cedar files are valid against the schema, one named and explained rule each (CI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cedarpy
import pytest

from shared import attributes
from shared.errors import ServiceUnavailable
from shared.policy import engine, model


def _copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(engine.POLICY_DIR, target)
    return target


def test_policies_validate_against_the_schema():
    assert engine.problems() == []
    text = "\n".join(p.read_text() for p in sorted(engine.POLICY_DIR.glob("*.cedar")))
    result = cedarpy.validate_policies(text, engine.SCHEMA_PATH.read_text())
    assert result.validation_passed, [str(e) for e in result.errors]


def test_every_rule_has_a_unique_id_a_reason_and_its_own_file():
    policies = engine.load()
    files = sorted(engine.POLICY_DIR.glob("*.cedar"))
    assert len(policies.order) == len(files) == len(set(policies.order))
    for path, pid in zip(files, policies.order, strict=True):
        assert path.stem.split("-", 1)[1] == pid, f"{path.name} should be named after @id {pid}"
        assert len(policies.comments[pid]) > 20
    assert [pid for pid, effect in policies.effects.items() if effect == "permit"] == [
        "approved-action",
        "owner-may-erase",
    ]


def _schema_actions() -> dict[str, dict]:
    return json.loads(engine.SCHEMA_PATH.read_text())["FaceGate"]["actions"]


def _members(group: str) -> tuple[str, ...]:
    return tuple(
        name
        for name, entry in _schema_actions().items()
        if {"id": group} in entry.get("memberOf", [])
    )


def test_schema_names_the_same_actions_as_the_registry():
    decidable = tuple(n for n, entry in _schema_actions().items() if "appliesTo" in entry)
    assert decidable == model.GATE_ACTIONS
    assert (*model.ACTIONS, model.CREATE_TEMPLATE, model.ERASE) == model.GATE_ACTIONS


def test_action_groups_are_the_attribute_registry_and_recognition():
    """The sensitive attributes of shared/attributes.py are the schema's attributeInference."""
    assert _members("attributeInference") == attributes.SENSITIVE_ACTIONS
    assert _members("recognition") == ("verify", "identify", "enroll", "createTemplate")


def test_a_misspelt_attribute_is_rejected(tmp_path: Path):
    directory = _copy_policies(tmp_path)
    path = directory / "70-no-emotion-inference-at-work-or-school.cedar"
    path.write_text(path.read_text().replace("principal.sector", "principal.sectr"))
    found = engine.problems(directory)
    assert found and "no-emotion-inference-at-work-or-school" in found[0]
    assert "sectr" in " ".join(found)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda t: t.replace('@id("purpose-not-declared")\n', ""), "needs an @id"),
        (lambda t: t.replace("purpose-not-declared", "approved-action"), "used twice"),
        (lambda t: t.replace("purpose-not-declared", "default-deny"), "reserved"),
        (lambda t: t + "\n" + t.replace("purpose-not-declared", "x"), "one rule per file"),
        (lambda t: "\n".join(ln for ln in t.splitlines() if not ln.startswith("//")), "say why"),
        (lambda t: t.replace("forbid", "forbidd"), "does not parse"),
    ],
)
def test_malformed_policy_files_are_refused(tmp_path: Path, mutation, message):
    directory = _copy_policies(tmp_path)
    path = directory / "90-purpose-not-declared.cedar"
    path.write_text(mutation(path.read_text()))
    assert message in "\n".join(engine.problems(directory))


def test_invalid_policies_make_the_gate_unavailable(tmp_path: Path, monkeypatch):
    directory = _copy_policies(tmp_path)
    (directory / "20-customer-not-active.cedar").write_text("permit (principal, action, resource)")
    monkeypatch.setattr(engine, "POLICY_DIR", directory)
    engine.bundle.reset()
    try:
        with pytest.raises(ServiceUnavailable):
            engine.bundle()
        monkeypatch.setattr(engine, "POLICY_DIR", tmp_path / "missing")
        with pytest.raises(ServiceUnavailable):
            engine.bundle()
    finally:
        monkeypatch.undo()
        engine.bundle.reset()
    assert engine.bundle().order[0] == "approved-action"  # a fixed deployment recovers


def test_the_policy_set_is_loaded_once_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    engine.bundle.reset()
    with ThreadPoolExecutor(max_workers=8) as pool:
        loaded = list(pool.map(lambda _: engine.bundle(), range(32)))
    assert len({id(b) for b in loaded}) == 1
