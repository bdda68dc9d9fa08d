"""An operator erases every gallery of a customer from the console.

The erasure itself is the erasure service's operator entry point
(``shared.service.erasure.erase_customer_galleries``: every gallery, person, face template
and faceId of the customer, final under concurrency, with its own row in the customer's
audit trail naming the actor). The console first writes its change record (who, how they
signed in, why), so nothing is erased that the console's history does not show.
"""

from __future__ import annotations

from typing import Any

from shared.console import changes
from shared.console.operators import Operator
from shared.policy import registry
from shared.service import erasure


def erase_customer_galleries(customer_id: str, operator: Operator, reason: object) -> dict:
    """Erase all of a customer's biometric data; returns the change and what was erased."""
    why = changes.reason_of(reason)
    customer = registry.load_customer(customer_id)
    change = changes.record_erasure(customer.id, operator, why, {"erase": "all-biometrics"})
    erased: dict[str, Any] = erasure.erase_customer_galleries(
        customer.id, actor=f"{operator.name} (console, {operator.via})"
    )
    return {"change": change.to_dict(), "erasedGalleries": sorted(erased["galleries"]),
            "faceIds": erased["faceIds"], "auditId": erased["auditId"]}  # fmt: skip
