"""Per-customer limits, and the audited 429 when one is reached.

Two limits, each "N/S" (N per S-second window), from the customer's registry record or
else the app's default setting:

- ``rate_limit`` (FACEGATE_RATE_LIMIT, default 10/1 like Azure Face's standard tier):
  every authenticated HTTP request, on both route families.
- ``verify_limit`` (FACEGATE_VERIFY_LIMIT, default 100/3600): verify calls of one face
  against a person of one gallery. Verifying a face against every person of a gallery
  is identification; a customer approved to verify, not to identify, gets this many
  tries per gallery per window, and the loop stops there.

A refusal is a RateLimited error (429 + Retry-After) and one audit row: action
``request`` or ``verify``, decision ``deny``, policy id ``rate-limit`` or
``verify-gallery-limit``. These are quotas, not responsible-use rules, so they are not
Cedar policies; the audit trail records them like decisions all the same.
"""

from __future__ import annotations

import uuid

from shared import settings
from shared.errors import RateLimited
from shared.limits.counter import Taken, take
from shared.policy import Caller, Context, Customer, audit, context_from, model

RATE_POLICY = "rate-limit"
VERIFY_POLICY = "verify-gallery-limit"


def parse(spec: str) -> tuple[int, int]:
    """ "N/S" -> (N, S)."""
    match = model.LIMIT.fullmatch(spec.strip())
    if match is None:
        raise ValueError(f"not a rate limit: {spec!r}")
    return int(match.group(1)), int(match.group(2))


def _limit(own: str, setting: str) -> tuple[int, int]:
    try:
        return parse(own or settings.get(setting))
    except ValueError:
        return parse(next(s.default for s in settings.SETTINGS if s.name == setting))


def request_limit(customer: Customer) -> tuple[int, int]:
    return _limit(customer.rate_limit, "FACEGATE_RATE_LIMIT")


def verify_limit(customer: Customer) -> tuple[int, int]:
    return _limit(customer.verify_limit, "FACEGATE_VERIFY_LIMIT")


def _refuse(
    customer: Customer, context: Context, action: str, policy: str, taken: Taken, what: str
) -> RateLimited:
    audit.record(
        customer.id,
        str(uuid.uuid4()),
        model.utc_now(),
        context,
        [audit.Outcome(action, False, (policy,))],
    )
    return RateLimited(
        f"{what}; try again in {taken.retry_after} seconds.", retry_after=taken.retry_after
    )


def admit_request(customer: Customer, request_id: str, channel: str = "http") -> None:
    """Count one request of ``customer``; RateLimited (audited) past its limit."""
    limit, window = request_limit(customer)
    taken = take(f"{customer.id}:requests", limit, window)
    if not taken.allowed:
        context = context_from(channel=channel, request_id=request_id)
        raise _refuse(
            customer, context, "request", RATE_POLICY, taken,
            f"Rate limit is exceeded: at most {limit} requests per {window} s",
        )  # fmt: skip


def admit_verify(caller: Caller, gallery_id: str) -> None:
    """Count one verify against ``gallery_id``; RateLimited (audited) past the limit.

    Called before the policy decision, so a refused verify has one audit group (this one).
    """
    customer, context = caller.customer, caller.context
    limit, window = verify_limit(customer)
    taken = take(f"{customer.id}:verify:{gallery_id}", limit, window)
    if not taken.allowed:
        raise _refuse(
            customer, context, "verify", VERIFY_POLICY, taken,
            f"At most {limit} verifications against one gallery per {window} s (verifying "
            "against every person of a gallery is identification, which needs approval)",
        )  # fmt: skip
