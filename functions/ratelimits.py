"""Housekeeping of the rate-limit counters: windows that ended are deleted on a timer."""

import logging

import azure.functions as func

from shared.limits import counter

bp = func.Blueprint()
log = logging.getLogger("facegate.ratelimits")


@bp.function_name("purge_rate_counters")
@bp.timer_trigger(arg_name="timer", schedule="30 */10 * * * *", run_on_startup=False)
def purge_rate_counters(timer: func.TimerRequest) -> None:
    """Every 10 minutes: delete counter rows of windows that have ended."""
    purged = counter.purge_expired()
    log.info("purged %d ended rate-limit windows", purged)
