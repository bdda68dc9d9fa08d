"""`tools.admin galleries move` between the real stores: Azurite's Table store and a real local
PostgreSQL with pgvector. Dry run, both directions, a copy that fails its check, a crash and
its resumption (with an erasure and a refused write in between), the command line itself.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from shared.biometrics import store, templates, transfer
from shared.errors import FaceGateError, GalleryStoreMoving, NotFound
from shared.policy import audit_rows, model, registry
from shared.service import recognition
from shared.storage import provision
from shared.vision import RECOGNITION_MODEL
from tools.admin import cli, galleries
from tools.dev.azurite import ROOT

MODEL = RECOGNITION_MODEL
ROUNDS = int(os.environ.get("FACEGATE_ERASURE_ROUNDS", "4"))
GALLERIES = {"staff": 4, "visitors": 3}  # persons per gallery; person i has i % 3 + 1 faces


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, seed: int) -> np.ndarray:
    """A probe close to ``v`` (the same person photographed again)."""
    noisy = v + 0.25 * unit(seed)
    return (noisy / np.linalg.norm(noisy)).astype(np.float32)


@pytest.fixture(scope="module")
def stores(azurite, postgres) -> None:
    provision.ensure_storage()


@pytest.fixture
def customer(stores) -> Callable[[str], str]:
    def make(gallery_store: str) -> str:
        customer_id = f"c{uuid.uuid4().hex[:12]}"
        registry.add_customer(
            model.Customer.create(
                id=customer_id, name=customer_id, sector="commercial", country="US",
                status="active", gallery_store=gallery_store,
            )
        )  # fmt: skip
        return customer_id

    return make


def enrol(customer_id: str) -> dict[str, list[np.ndarray]]:
    """GALLERIES in the customer's store; the templates of each person, by personId."""
    enrolled: dict[str, list[np.ndarray]] = {}
    seed = 0
    for gallery_id, persons in GALLERIES.items():
        store.create_gallery(customer_id, gallery_id, gallery_id.title(), f"ud-{gallery_id}", MODEL)
        for i in range(persons):
            person = store.create_person(customer_id, gallery_id, f"P{i}", f"user {i}")
            enrolled[person.person_id] = []
            for _ in range(i % 3 + 1):
                seed += 1
                template = unit(seed)
                store.add_face(
                    customer_id, gallery_id, person.person_id, template, MODEL, f"f{seed}", "high"
                )
                enrolled[person.person_id].append(template)
    return enrolled


def identify_all(customer_id: str, enrolled: dict[str, list[np.ndarray]]) -> list[list]:
    """Identify results (personId, confidence) for a probe near each template and 3 strangers."""
    probes = [near(t, 1000 + i) for i, ts in enumerate(enrolled.values()) for t in ts]
    probes += [unit(5000 + i) for i in range(3)]
    results = []
    for gallery_id in GALLERIES:
        found = recognition.identify_templates(
            customer_id, gallery_id, [(str(i), p) for i, p in enumerate(probes)], 5, 0.0
        )
        results.append([[(c["personId"], c["confidence"]) for c in f["candidates"]] for f in found])
    return results


def same_results(a: list[list], b: list[list]) -> None:
    assert len(a) == len(b)
    for gallery_a, gallery_b in zip(a, b, strict=True):
        for probe_a, probe_b in zip(gallery_a, gallery_b, strict=True):
            assert [p for p, _ in probe_a] == [p for p, _ in probe_b]
            assert [c for _, c in probe_a] == pytest.approx([c for _, c in probe_b], abs=1e-4)


def galleries_in(name: str, customer_id: str) -> list[str]:
    return sorted(g.gallery_id for g in store.backend(name).all_galleries(customer_id))


def digests(name: str, customer_id: str) -> dict[str, str]:
    return {
        g: store.backend(name).export_gallery(customer_id, g).digest()
        for g in galleries_in(name, customer_id)
    }


def run(*args: str) -> tuple[int, dict, str]:
    """The CLI in this process: (exit code, its JSON, what it logged)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["galleries", "move", *args])
    return code, json.loads(out.getvalue() or "{}"), err.getvalue()


def record(customer_id: str) -> tuple[str, bool]:
    c = registry.load_customer(customer_id)
    return c.gallery_store, c.gallery_store_moving


def assert_no_template_in(text: str, enrolled: dict[str, list[np.ndarray]]) -> None:
    for ts in enrolled.values():
        for t in ts:
            raw = templates.encode(t)
            assert base64.b64encode(raw)[:24].decode() not in text
            assert raw.hex()[:32] not in text
            assert f"{float(t[0]):.6f}" not in text


def patch_import(
    monkeypatch: pytest.MonkeyPatch, name: str, change: Callable[[transfer.GalleryExport], None]
) -> None:
    """Every import into store ``name`` first goes through ``change`` (which may raise)."""
    backend = store.backend(name)
    original = backend.import_gallery

    def wrapped(customer_id: str, export: transfer.GalleryExport) -> None:
        change(export)
        original(customer_id, export)

    monkeypatch.setattr(backend, "import_gallery", wrapped)


# --- dry run -------------------------------------------------------------------------------------


def test_dry_run_reports_and_changes_nothing(customer):
    customer_id = customer("table")
    enrolled = enrol(customer_id)
    before = (record(customer_id), digests("table", customer_id), store.stored_rows(customer_id))

    code, report, logged = run("--customer", customer_id, "--to", "postgres", "--dry-run")

    assert code == 0
    assert report["dryRun"] is True and (report["from"], report["to"]) == ("table", "postgres")
    by_gallery = {g["galleryId"]: g for g in report["galleries"]}
    assert set(by_gallery) == set(GALLERIES)
    assert by_gallery["staff"]["persons"] == 4 and by_gallery["visitors"]["persons"] == 3
    assert report["totals"]["faces"] == sum(len(ts) for ts in enrolled.values())
    assert all(g["inTarget"] == "none" for g in report["galleries"])
    after = (record(customer_id), digests("table", customer_id), store.stored_rows(customer_id))
    assert after == before
    assert galleries_in("postgres", customer_id) == []
    assert_no_template_in(json.dumps(report) + logged, enrolled)


# --- a move, both ways ----------------------------------------------------------------------------


def test_a_move_there_and_back_keeps_identify_results(customer):
    customer_id = customer("table")
    enrolled = enrol(customer_id)
    expected = identify_all(customer_id, enrolled)
    source_digests = digests("table", customer_id)

    code, report, logged = run("--customer", customer_id, "--to", "postgres", "--cache-wait", "0")

    assert code == 0, report
    assert record(customer_id) == ("postgres", False)
    assert report["switched"] is True and sorted(report["erasedFromSource"]) == sorted(GALLERIES)
    assert report["totals"]["faces"] == sum(len(ts) for ts in enrolled.values())
    assert galleries_in("table", customer_id) == []
    assert store.backend("table").stored_rows(customer_id) == []
    assert digests("postgres", customer_id) == source_digests
    assert store.get_gallery(customer_id, "staff").store == "postgres"
    same_results(identify_all(customer_id, enrolled), expected)
    assert_no_template_in(json.dumps(report) + logged, enrolled)
    day = dt.datetime.now(dt.UTC).date().isoformat()
    erasures = [r for r in audit_rows(customer_id, day) if "moved to postgres" in str(r)]
    assert len(erasures) == len(GALLERIES)  # each source copy erased with an audit row first

    code, report, _ = run("--customer", customer_id, "--to", "table", "--cache-wait", "0")

    assert code == 0, report
    assert record(customer_id) == ("table", False)
    assert galleries_in("postgres", customer_id) == []
    assert digests("table", customer_id) == source_digests
    same_results(identify_all(customer_id, enrolled), expected)

    code, report, _ = run("--customer", customer_id, "--to", "table", "--cache-wait", "0")
    assert code == 0 and report.get("alreadyMoved") is True  # nothing left to do


# --- a copy that does not match -----------------------------------------------------------------


def test_a_tampered_copy_fails_the_check_and_nothing_switches(customer, monkeypatch):
    customer_id = customer("table")
    enrolled = enrol(customer_id)
    source_digests = digests("table", customer_id)

    def tamper(export: transfer.GalleryExport) -> None:
        if export.gallery_id == "visitors":  # one value of one template, in the target only
            face = export.persons[-1].faces[0]
            face.template[0] = np.float32(face.template[0] + 1e-3)

    patch_import(monkeypatch, "postgres", tamper)
    code, report, logged = run("--customer", customer_id, "--to", "postgres", "--cache-wait", "0")

    assert code == 1
    assert report["switched"] is False
    assert [p["galleryId"] for p in report["problems"]] == ["visitors"]
    assert "digest" in report["problems"][0]["problem"]
    assert record(customer_id) == ("table", False)  # not switched, writes open again
    assert digests("table", customer_id) == source_digests  # the source is untouched
    assert galleries_in("postgres", customer_id) == []  # the copies are erased
    assert_no_template_in(json.dumps(report) + logged, enrolled)


# --- a crash, and the move resumed ------------------------------------------------------------


class Crash(Exception):
    """Stands for the process dying mid-copy."""


def crashed_move(
    monkeypatch: pytest.MonkeyPatch,
    customer_id: str,
    target: str,
    change: Callable[[transfer.GalleryExport], None],
) -> None:
    """A move to ``target`` whose imports go through ``change``, which ends it with Crash."""
    mover = galleries.Mover(customer_id, target, "tester", cache_wait=0, log=lambda _: None)
    with monkeypatch.context() as patch:
        patch_import(patch, target, change)
        with pytest.raises(Crash):
            mover.run()


def test_an_interrupted_move_resumes_and_keeps_erasures(customer, monkeypatch):
    customer_id = customer("table")
    enrolled = enrol(customer_id)
    imported: list[str] = []
    real_import = store.backend("postgres").import_gallery

    def crash_midway(export: transfer.GalleryExport) -> None:
        imported.append(export.gallery_id)
        if len(imported) == 2:  # the second gallery: write part of it, then die
            partial = dataclasses.replace(export, persons=export.persons[:1])
            real_import(customer_id, partial)
            raise Crash

    crashed_move(monkeypatch, customer_id, "postgres", crash_midway)

    assert record(customer_id) == ("table", True)
    assert galleries_in("postgres", customer_id) == sorted(imported)
    # Meanwhile: writes are refused, erasures reach both stores.
    with pytest.raises(GalleryStoreMoving):
        store.create_person(customer_id, "staff", "Late", "")
    gone = store.list_persons(customer_id, imported[0])[0].person_id
    store.delete_person(customer_id, imported[0], gone)
    del enrolled[gone]

    code, report, _ = run("--customer", customer_id, "--to", "postgres", "--cache-wait", "0")

    assert code == 0, report
    assert report["resumed"] is True
    assert report["alreadyCopied"] == [imported[0]]  # complete copy, erasure applied: kept
    assert record(customer_id) == ("postgres", False)
    assert galleries_in("table", customer_id) == []
    persons = {p.person_id for g in GALLERIES for p in store.list_persons(customer_id, g)}
    assert persons == set(enrolled)
    hits = {c for r in identify_all(customer_id, enrolled) for probe in r for c, _ in probe}
    assert gone not in hits


def test_a_crash_after_the_switch_is_finished_by_a_rerun(customer, monkeypatch):
    customer_id = customer("table")
    enrol(customer_id)
    waits: list[float] = []

    def die_on_second_wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:  # switched, about to erase the originals
            raise Crash

    mover = galleries.Mover(
        customer_id, "postgres", "t", cache_wait=1, log=lambda _: None, sleep=die_on_second_wait
    )
    with pytest.raises(Crash):
        mover.run()
    assert record(customer_id) == ("postgres", False)
    assert galleries_in("table", customer_id) == sorted(GALLERIES)  # originals still there
    # After the switch the customer erases a person: only the new store sees it.
    gone = store.list_persons(customer_id, "staff")[0].person_id
    store.delete_person(customer_id, "staff", gone)

    code, report, _ = run("--customer", customer_id, "--to", "postgres", "--cache-wait", "0")

    assert code == 0, report
    assert report["alreadyMoved"] is True
    assert report["erasedFromSource"] == sorted(GALLERIES)  # the stale copy went too
    assert galleries_in("table", customer_id) == []


def test_galleries_without_a_copy_are_never_erased(customer, monkeypatch):
    """A customer on the default store whose default changes: its galleries are not copies."""
    customer_id = customer("")
    enrol(customer_id)  # into the default store, table
    before = digests("table", customer_id)
    monkeypatch.setenv("FACEGATE_GALLERY_STORE", "postgres")

    code, report, _ = run("--customer", customer_id, "--to", "postgres", "--cache-wait", "0")

    assert code == 1
    assert report["leftInSource"] == sorted(GALLERIES) and report["erasedFromSource"] == []
    assert digests("table", customer_id) == before


def test_a_broken_off_move_can_be_cancelled(customer, monkeypatch):
    customer_id = customer("postgres")
    enrol(customer_id)
    source_digests = digests("postgres", customer_id)

    def crash(export: transfer.GalleryExport) -> None:
        raise Crash

    crashed_move(monkeypatch, customer_id, "table", crash)
    assert record(customer_id) == ("postgres", True)

    code, report, _ = run("--customer", customer_id, "--to", "postgres", "--cache-wait", "0")

    assert code == 0 and report["cancelled"] is True
    assert record(customer_id) == ("postgres", False)
    assert galleries_in("table", customer_id) == []
    assert digests("postgres", customer_id) == source_digests
    store.create_person(customer_id, "staff", "Writable again", "")


# --- erasures racing a move ------------------------------------------------------------------


def persons_in(name: str, customer_id: str) -> set[str]:
    found = set()
    for gallery_id in galleries_in(name, customer_id):
        with contextlib.suppress(NotFound):
            export = store.backend(name).export_gallery(customer_id, gallery_id)
            found |= {p.person_id for p in export.persons}
    return found


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_erasures_during_a_move_survive_in_neither_store(customer, round_):
    """Threads erase persons and try writes while the move runs; whatever the interleaving,
    no erased person is left in either store, and the move either switches or leaves the
    customer where it was with nothing in the target."""
    rng = random.Random(round_)
    source, target = ("table", "postgres") if round_ % 2 == 0 else ("postgres", "table")
    customer_id = customer(source)
    enrolled = enrol(customer_id)
    victims = rng.sample(sorted(enrolled), 3)
    where = {
        p: g for g in GALLERIES for p in (x.person_id for x in store.list_persons(customer_id, g))
    }
    mover = galleries.Mover(customer_id, target, "tester", cache_wait=0.2, log=lambda _: None)

    def later(call: Callable[[], object]) -> Callable[[], str]:
        def run() -> str:
            time.sleep(rng.uniform(0, 1.5))
            try:
                call()
                return "ok"
            except FaceGateError as error:
                return error.code

        return run

    calls = [mover.run] + [
        later(lambda p=p: store.delete_person(customer_id, where[p], p)) for p in victims
    ]
    calls.append(later(lambda: store.create_person(customer_id, "staff", "Late", "")))
    with ThreadPoolExecutor(len(calls)) as pool:
        outcomes = list(pool.map(lambda call: call(), calls))

    code, erasures, write = outcomes[0], outcomes[1:-1], outcomes[-1]
    assert set(erasures) <= {"ok"}, erasures
    assert write in {"ok", "GalleryStoreMoving"}
    now, moving = record(customer_id)
    assert moving is False
    if code == 0:
        assert now == target and galleries_in(source, customer_id) == []
    else:  # an erasure landed between copy and check: refused, nothing switched
        assert code == 1 and now == source and galleries_in(target, customer_id) == []
    left = persons_in("table", customer_id) | persons_in("postgres", customer_id)
    assert not left & set(victims), f"erased persons survive: {left & set(victims)}"
    assert set(enrolled) - set(victims) <= left


# --- waiting out the registry cache, the command line ------------------------------------------


def test_a_move_waits_out_the_registry_cache_twice(customer):
    customer_id = customer("table")
    enrol(customer_id)
    waits: list[float] = []
    wait = galleries.default_cache_wait()
    assert wait == registry.cache_seconds() + galleries.CACHE_MARGIN_SECONDS
    mover = galleries.Mover(
        customer_id, "postgres", "tester", cache_wait=wait, log=lambda _: None, sleep=waits.append
    )
    assert mover.run() == 0
    assert waits == [wait, wait]  # after pausing writes, and after switching


def test_the_command_line_moves_a_customer(customer):
    customer_id = customer("postgres")
    enrol(customer_id)
    done = subprocess.run(
        [sys.executable, "-m", "tools.admin", "galleries", "move", "--customer", customer_id,
         "--to", "table", "--cache-wait", "0", "--actor", "ops@example.org"],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["from"], report["to"], report["switched"]) == ("postgres", "table", True)
    registry.reset_caches()
    assert record(customer_id) == ("table", False)
    assert galleries_in("postgres", customer_id) == []
    assert sorted(galleries_in("table", customer_id)) == sorted(GALLERIES)
    bad = subprocess.run(
        [sys.executable, "-m", "tools.admin", "galleries", "move", "--customer", customer_id,
         "--to", "elsewhere"],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
