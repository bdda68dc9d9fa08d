"""`python -m tools.admin galleries move`: move every gallery of a customer to the other store.

A real move, step by step (docs/galleries-postgres.md, "Moving a customer's galleries"):

1. the customer's registry record gets ``gallery_store_moving`` (and its current store named
   explicitly); after the registry cache has expired on every instance, gallery writes other
   than erasure answer 409 GalleryStoreMoving and erasures reach both stores;
2. each gallery is copied with the source store's ``export_gallery`` and the target's
   ``import_gallery`` (same ids). A gallery already in the target with the same digest is
   kept; any other copy there (a crash mid-copy) is erased and copied again;
3. every gallery is checked: persons, faces and the digest of ids, names, userData, models
   and template bytes (``GalleryExport.digest``), read afresh from both stores. On any
   difference the copies in the target are erased, the record goes back to its store
   without ``gallery_store_moving``, and the tool exits 1: nothing switched;
4. the record names the target store and ``gallery_store_moving`` is cleared (one write);
5. after the cache has expired again, the source copies are erased, each with an operator
   audit row first, by the store's own gallery erasure.

Each step can be repeated: run the same command again after a crash and it resumes (a crash
after step 4 is finished by erasing the source copies whose target copy matches); `--to` the
store the customer is still in cancels a broken-off move (its copies erased, the flag
cleared). A dry run reads both stores and changes nothing. Output is JSON; no template, and
no more of a digest than a prefix, is ever printed or logged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.biometrics import store, transfer
from shared.errors import BadArgument, NotFound, ServiceUnavailable
from shared.policy import audit, model, registry

CACHE_MARGIN_SECONDS = 5.0  # on top of FACEGATE_REGISTRY_CACHE_SECONDS: clocks and slow reads
DIGEST_SHOWN = 16  # hex characters of a digest in the report (enough to compare by eye)

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Mover:
    """One customer's move to ``target``; ``cache_wait`` seconds outlast the registry cache."""

    customer_id: str
    target: str
    actor: str
    cache_wait: float
    log: Log = _stderr
    sleep: Callable[[float], None] = time.sleep
    report: dict[str, Any] = field(default_factory=dict)

    # --- the stores ---------------------------------------------------------------------------

    def _other(self, name: str) -> str:
        (other,) = [s for s in store.STORES if s != name]
        return other

    def _placement(self) -> tuple[model.Customer, str]:
        """The customer's record (uncached) and the store it names ("" resolved)."""
        customer = registry.load_customer(self.customer_id)
        return customer, customer.gallery_store or store.default_store()

    def _export(self, name: str, gallery_id: str) -> transfer.GalleryExport | None:
        try:
            return store.backend(name).export_gallery(self.customer_id, gallery_id)
        except NotFound:
            return None

    def _active_ids(self, name: str) -> list[str]:
        galleries = store.backend(name).all_galleries(self.customer_id)
        return sorted(g.gallery_id for g in galleries if g.state == store.ACTIVE)

    def _all_ids(self, name: str) -> list[str]:
        return sorted({g.gallery_id for g in store.backend(name).all_galleries(self.customer_id)})

    def _erase(self, name: str, gallery_id: str, why: str) -> None:
        """Erase one gallery from one store, audited first (the operator erasure's rule)."""
        where = f"gallery:{gallery_id} in {name} ({why})"
        audit.record_operator(self.customer_id, model.ERASE, self.actor, where)
        with contextlib.suppress(NotFound):  # erased meanwhile
            store.backend(name).delete_gallery(self.customer_id, gallery_id)
        store.forget(self.customer_id, gallery_id)
        self.log(f"erased {where}")

    def _wait_cache(self, why: str) -> None:
        if self.cache_wait > 0:
            self.log(f"waiting {self.cache_wait:g} s for every instance's registry cache ({why})")
            self.sleep(self.cache_wait)

    # --- dry run ------------------------------------------------------------------------------

    def plan(self) -> dict[str, Any]:
        """What a real run would do now; reads both stores, writes nothing."""
        customer, current = self._placement()
        source = self._other(self.target) if current == self.target else current
        galleries = []
        for gallery_id in self._active_ids(source):
            exported = self._export(source, gallery_id)
            if exported is None:
                continue
            digest = exported.digest()
            copy = self._export(self.target, gallery_id)
            state = "none" if copy is None else "same" if copy.digest() == digest else "different"
            galleries.append({**_summary(exported, digest), "inTarget": state})
        return {
            "customerId": self.customer_id,
            "from": source,
            "to": self.target,
            "currentStore": current,
            "moving": customer.gallery_store_moving,
            "dryRun": True,
            "galleries": galleries,
            "totals": _totals(galleries),
        }

    # --- the move -----------------------------------------------------------------------------

    def run(self) -> int:
        customer, current = self._placement()
        self.report = {"customerId": self.customer_id, "to": self.target, "dryRun": False}
        if current == self.target and not customer.gallery_store_moving:
            self.report["from"] = self._other(self.target)
            return self._finish(self._other(self.target), None)
        source = current
        if source == self.target:  # a move away from the target broke off: cancel it
            return self._cancel()
        self.report["from"] = source
        self._start(customer, source)
        copied = self._copy_all(source)
        problems, copied = self._verify(source, copied)
        if problems:
            return self._abandon(source, problems)
        registry.update_customer(
            self.customer_id,
            gallery_store=self.target,
            gallery_store_moving=False,
            check=lambda c: _still_moving(c, source),
        )
        self.log(f"switched {self.customer_id}: galleries now in {self.target}")
        self.report["switched"] = True
        self._wait_cache("the new store takes over")
        return self._finish(source, copied)

    def _start(self, customer: model.Customer, source: str) -> None:
        if customer.gallery_store_moving:
            self.log(f"resuming the move of {self.customer_id} from {source} to {self.target}")
            self.report["resumed"] = True
        else:
            leftovers = self._all_ids(self.target)
            if leftovers:
                raise BadArgument(
                    f"the {self.target} store already holds galleries of {self.customer_id!r} "
                    f"({', '.join(leftovers)}) although no move is under way; erase them "
                    "(tools.admin erase) or find out where they came from first."
                )
            registry.update_customer(
                self.customer_id,
                gallery_store=source,
                gallery_store_moving=True,
                check=lambda c: _not_moving(c),
            )
            self.log(f"{self.customer_id}: gallery writes paused, erasures reach both stores")
            self.report["resumed"] = False
        self._wait_cache("writes pause everywhere")

    def _copy_all(self, source: str) -> list[str]:
        """Copy every active gallery; returns their ids. Stale target copies are erased."""
        wanted = self._active_ids(source)
        for gallery_id in self._all_ids(self.target):
            if gallery_id not in wanted:  # a copy whose source was erased meanwhile
                self._erase(self.target, gallery_id, "its source is gone")
        in_target = set(self._all_ids(self.target))
        copied, skipped = [], []
        for gallery_id in wanted:
            exported = self._export(source, gallery_id)
            if exported is None:  # erased while we worked
                continue
            copy = self._export(self.target, gallery_id)
            if copy is not None and copy.digest() == exported.digest():
                skipped.append(gallery_id)
                copied.append(gallery_id)
                continue
            if gallery_id in in_target:  # partial, different or being erased
                self._erase(self.target, gallery_id, "an incomplete copy, copied again")
            store.backend(self.target).import_gallery(self.customer_id, exported)
            copied.append(gallery_id)
            self.log(
                f"copied gallery {gallery_id}: {exported.person_count} persons, "
                f"{exported.face_count} faces"
            )
        self.report["alreadyCopied"] = skipped
        return copied

    def _verify(self, source: str, copied: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """Each gallery afresh from both stores: (the differences, empty when all match; the
        galleries checked)."""
        problems: list[dict[str, Any]] = []
        checked: list[dict[str, Any]] = []
        for gallery_id in sorted(set(copied) | set(self._active_ids(source))):
            original = self._export(source, gallery_id)
            copy = self._export(self.target, gallery_id)
            if original is None:  # erased during the move (erasures reach both stores)
                if copy is not None:
                    self._erase(self.target, gallery_id, "erased in the source during the move")
                continue
            digest = original.digest()
            row = _summary(original, digest)
            if copy is None:
                problems.append({**row, "problem": "not in the target"})
                continue
            copy_digest = copy.digest()
            differences = [
                what
                for what, a, b in (
                    ("persons", original.person_count, copy.person_count),
                    ("faces", original.face_count, copy.face_count),
                    ("digest", digest, copy_digest),
                )
                if a != b
            ]
            if differences:
                problems.append(
                    {
                        **row,
                        "problem": "copy differs: " + ", ".join(differences),
                        "target": _summary(copy, copy_digest),
                    }
                )
            else:
                checked.append(row)
        self.report["galleries"] = checked
        self.report["totals"] = _totals(checked)
        return problems, [row["galleryId"] for row in checked]

    def _abandon(self, source: str, problems: list[dict[str, Any]]) -> int:
        """A copy did not match: erase the target's copies, leave the customer where it was."""
        for gallery_id in self._all_ids(self.target):
            self._erase(self.target, gallery_id, "the move failed its check")
        registry.update_customer(
            self.customer_id,
            gallery_store=source,
            gallery_store_moving=False,
            check=lambda c: _still_moving(c, source),
        )
        self.log(
            f"NOT moved: {len(problems)} galleries differ; {self.customer_id} stays in {source}"
        )
        self.report.update(switched=False, problems=problems)
        return 1

    def _cancel(self) -> int:
        """Back to where the customer is: erase the broken-off move's copies, clear the flag."""
        other = self._other(self.target)
        self.report["from"] = other
        for gallery_id in self._all_ids(other):
            self._erase(other, gallery_id, "the move was cancelled")
        registry.update_customer(
            self.customer_id,
            gallery_store_moving=False,
            check=lambda c: _still_moving(c, self.target),
        )
        self.log(f"cancelled the move of {self.customer_id}; it stays in {self.target}")
        self.report.update(cancelled=True, switched=False)
        return 0

    def _finish(self, source: str, moved: list[str] | None) -> int:
        """Erase the source's copies: the galleries just moved (``moved``; every one of them,
        even if an erasure after the switch has changed its copy since), or after a crash
        past the switch (``moved`` None) those the target holds under the same id; and any
        gallery whose erasure broke off. Anything else stays and is reported: it may be a
        customer's only copy (say, after FACEGATE_GALLERY_STORE changed under it)."""
        in_target = set(self._active_ids(self.target))
        erased, kept = [], []
        for gallery in store.backend(source).all_galleries(self.customer_id):
            gallery_id = gallery.gallery_id
            if gallery.state != store.ACTIVE:
                self._erase(source, gallery_id, "finishing its erasure")
            elif gallery_id in (in_target if moved is None else set(moved)):
                self._erase(source, gallery_id, f"moved to {self.target}")
            else:
                kept.append(gallery_id)
                continue
            erased.append(gallery_id)
        self.report.update(erasedFromSource=sorted(erased), switched=True)
        if moved is None:
            self.report["alreadyMoved"] = True
        if kept:
            self.report["leftInSource"] = kept
            self.log(f"{len(kept)} galleries stay in {source}: {self.target} has no such gallery")
            return 1
        return 0


def _still_moving(customer: model.Customer, source: str) -> None:
    if not customer.gallery_store_moving or customer.gallery_store not in ("", source):
        raise BadArgument("the customer's store changed during the move; nothing switched.")


def _not_moving(customer: model.Customer) -> None:
    if customer.gallery_store_moving:
        raise BadArgument("another move of this customer started meanwhile.")


def _summary(export: transfer.GalleryExport, digest: str) -> dict[str, Any]:
    return {
        "galleryId": export.gallery_id,
        "recognitionModel": export.recognition_model,
        "persons": export.person_count,
        "faces": export.face_count,
        "digest": digest[:DIGEST_SHOWN],
    }


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "galleries": len(rows),
        "persons": sum(r["persons"] for r in rows),
        "faces": sum(r["faces"] for r in rows),
    }


def default_cache_wait() -> float:
    """Seconds until every instance has re-read a registry record: its TTL plus a margin."""
    return registry.cache_seconds() + CACHE_MARGIN_SECONDS


def move(args: argparse.Namespace) -> int:
    """The `galleries move` command."""
    from shared.biometrics.postgres import connection

    if not connection.configured():
        raise ServiceUnavailable(
            "no PostgreSQL gallery store is configured (FACEGATE_POSTGRES_URL, or "
            "FACEGATE_POSTGRES_HOST with Entra sign-in); nothing was moved."
        )
    customer_id = model.customer_id(args.customer)
    wait = default_cache_wait() if args.cache_wait is None else max(0.0, args.cache_wait)
    mover = Mover(customer_id, args.to, args.actor_name, wait)
    if args.dry_run:
        _emit(mover.plan())
        return 0
    try:
        code = mover.run()
    finally:
        if mover.report:
            _emit(mover.report)
    return code


def _emit(data: Any) -> None:
    print(json.dumps(data, indent=2))


def add_parser(areas: Any, actor: Callable[[argparse.Namespace], str]) -> None:
    """`galleries move` under the admin CLI's areas."""
    galleries = areas.add_parser(
        "galleries", help="where a customer's galleries live"
    ).add_subparsers(dest="command", required=True)
    sub = galleries.add_parser(
        "move",
        help="move every gallery of a customer to the other store (checked; resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("--customer", required=True)
    sub.add_argument("--to", required=True, choices=store.STORES, help="the target store")
    sub.add_argument(
        "--dry-run",
        dest="dry_run",
        action="store_true",
        help="print the galleries, persons and faces that would move; change nothing",
    )
    sub.add_argument(
        "--cache-wait",
        dest="cache_wait",
        type=float,
        metavar="SECONDS",
        help="how long to wait for instances' registry caches (default: "
        "FACEGATE_REGISTRY_CACHE_SECONDS + 5; 0 only where no instance serves the customer)",
    )
    sub.add_argument("--actor", help="who moves, for the audit rows (default: $USER)")
    sub.set_defaults(run=lambda args: move(_with_actor(args, actor)))


def _with_actor(args: argparse.Namespace, actor: Callable[[argparse.Namespace], str]) -> Any:
    args.actor_name = actor(args)
    return args
