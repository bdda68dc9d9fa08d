"""Housekeeping on a timer: faceIds live 24 hours, then they are purged."""

import logging

import azure.functions as func

from shared.biometrics import faceids

bp = func.Blueprint()
log = logging.getLogger("facegate.maintenance")


@bp.function_name("purge_faceids")
@bp.timer_trigger(arg_name="timer", schedule="0 */10 * * * *", run_on_startup=False)
def purge_faceids(timer: func.TimerRequest) -> None:
    """Every 10 minutes: delete every faceId past its 24 hours (reads refuse them already)."""
    purged = faceids.purge_expired()
    log.info("purged %d expired faceIds", purged)
