"""Operator erasure: a customer's biometric data erased by an operator, audited first.

Customers erase their own data over HTTP (``DELETE``, Cedar action ``erase``);
these functions are for operators (the admin CLI, the console), who are not
customers and so are not decided by Cedar: each call writes one audit row in the
customer's trail (action ``erase``, the actor, the target) before it erases, and
erases nothing when that row cannot be written. Each is idempotent: repeating a
call finishes one that broke off.
"""

from __future__ import annotations

from typing import Any

from shared.biometrics import faceids, store
from shared.errors import BadArgument
from shared.identifiers import gallery_id as check_gallery_id
from shared.policy import audit, model


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise BadArgument("the operator erasing must be named (actor).")
    return actor.strip()


def erase_gallery(customer_id: str, gallery_id: str, actor: str) -> dict[str, Any]:
    """Erase one gallery of a customer (every person and template in it)."""
    customer_id, gallery_id = model.customer_id(customer_id), check_gallery_id(gallery_id)
    operation = audit.record_operator(
        customer_id, model.ERASE, _actor(actor), f"gallery:{gallery_id}"
    )
    store.delete_gallery(customer_id, gallery_id)
    return {"customerId": customer_id, "galleryId": gallery_id, "auditId": operation}


def erase_customer_galleries(customer_id: str, actor: str) -> dict[str, Any]:
    """Erase every biometric template of a customer: all galleries (also ones whose erasure
    broke off) in every store it may have used, anything left outside a gallery, and its
    faceIds."""
    customer_id = model.customer_id(customer_id)
    operation = audit.record_operator(customer_id, model.ERASE, _actor(actor), "all-biometrics")
    erased, leftover = store.erase_customer(customer_id)
    face_ids = faceids.erase_customer(customer_id)
    return {
        "customerId": customer_id,
        "galleries": erased,
        "leftoverRows": leftover,
        "faceIds": face_ids,
        "auditId": operation,
    }
