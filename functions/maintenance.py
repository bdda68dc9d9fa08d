"""Housekeeping on a timer: expired faceIds and ended rate-limit windows are purged."""

import logging

import azure.functions as func

from shared.biometrics import faceids
from shared.limits import counter

bp = func.Blueprint()
log = logging.getLogger("facegate.maintenance")


@bp.function_name("purge_faceids")
@bp.timer_trigger(arg_name="timer", schedule="0 */10 * * * *", run_on_startup=False)
def purge_faceids(timer: func.TimerRequest) -> None:
    """Every 10 minutes: delete every faceId past its 24 hours (reads refuse them already)."""
    purged = faceids.purge_expired()
    log.info("purged %d expired faceIds", purged)


@bp.function_name("purge_rate_counters")
@bp.timer_trigger(arg_name="timer", schedule="30 */10 * * * *", run_on_startup=False)
def purge_rate_counters(timer: func.TimerRequest) -> None:
    """Every 10 minutes: delete the counter rows of rate-limit windows that have ended."""
    purged = counter.purge_expired()
    log.info("purged %d ended rate-limit windows", purged)
