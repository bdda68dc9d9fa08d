"""An operator erases every gallery of a customer (persons, faces, templates, index).

Until the erasure service (issue #13) offers an operator entry point, this goes
through the same store calls as the customer's own ``DELETE /galleries/{id}``:
``store.delete_gallery`` then dropping the in-process index. The change row is
written before anything is erased, naming the galleries.
"""

from __future__ import annotations

import contextlib

from shared.console import changes
from shared.console.operators import Operator
from shared.errors import NotFound
from shared.galleries import store
from shared.galleries.index import INDEXES
from shared.policy import registry

MAX_ROUNDS = 1000  # pages of up to 1000 galleries


def erase_customer_galleries(customer_id: str, operator: Operator, reason: object) -> dict:
    """Erase all of a customer's galleries; returns the change and the gallery ids erased."""
    why = changes.reason_of(reason)
    customer = registry.load_customer(customer_id)
    listed = sorted(g.gallery_id for g in store.list_galleries(customer.id))
    change = changes.record_erasure(customer.id, operator, why, {"galleries": listed})
    erased: list[str] = []
    for _ in range(MAX_ROUNDS):  # a page at a time, until none is left
        page = [g.gallery_id for g in store.list_galleries(customer.id)]
        if not page:
            break
        for gallery_id in page:
            _erase_gallery(customer.id, gallery_id)
            erased.append(gallery_id)
    return {"change": change.to_dict(), "erasedGalleries": sorted(erased)}


def _erase_gallery(customer_id: str, gallery_id: str) -> None:
    """The one call to switch to the erasure service's operator function when it lands."""
    with contextlib.suppress(NotFound):  # erased meanwhile by its owner
        store.delete_gallery(customer_id, gallery_id)
    INDEXES.forget(customer_id, gallery_id)
