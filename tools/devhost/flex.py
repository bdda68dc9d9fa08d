"""Flex Consumption limits the dev host warns about, so a local run does not hide them.

- ``WEBSITE_TIME_ZONE`` is not supported on Flex Consumption (nor on Linux Consumption):
  timers always run in UTC there, so the dev host ignores it too, with a warning.
- An app whose start (import + indexing of its functions) takes longer than 30 s fails
  to start on Flex; the dev host measures it and warns.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger("devhost.flex")
START_LIMIT_SECONDS = 30.0


def time_zone_ignored(env: Mapping[str, str] | None = None) -> bool:
    """True (and a warning) when WEBSITE_TIME_ZONE is set: timers still run in UTC."""
    value = (os.environ if env is None else env).get("WEBSITE_TIME_ZONE", "").strip()
    if value:
        log.warning(
            "WEBSITE_TIME_ZONE=%r is ignored: Flex Consumption does not support it, timers run "
            "in UTC there (write NCRONTAB schedules in UTC)",
            value,
        )
    return bool(value)


def check_start(seconds: float) -> bool:
    """True (and a warning) when the app took longer to start than Flex allows."""
    slow = seconds > START_LIMIT_SECONDS
    if slow:
        log.warning(
            "the app took %.1f s to import and index; Flex Consumption fails an app start "
            "beyond %.0f s (load models and clients lazily)",
            seconds,
            START_LIMIT_SECONDS,
        )
    return slow
