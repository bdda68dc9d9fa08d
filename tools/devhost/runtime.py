"""What a trigger runner needs from the host, handed down so no runner imports the host.

``host.py`` builds one ``Runtime`` and gives it to every blob, queue and timer runner;
the HTTP server gets the host through the ``ServedHost`` protocol in httpserver.py.
Imports only point down: host -> runners -> runtime, never back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tools.devhost.functions import FunctionSpec
from tools.devhost.hostconfig import HostConfig

# (spec, trigger kwargs, binding data, log detail) -> (ok, return value)
Invoke = Callable[[FunctionSpec, dict[str, Any], dict[str, Any], str], tuple[bool, Any]]


class Tracker:
    """Counts running invocations so shutdown can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        with self._idle:
            self._count += 1
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    @property
    def running(self) -> int:
        return self._count

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


@dataclass(frozen=True)
class Runtime:
    """The host's services a runner uses: run a function, count it, wake a queue poller."""

    config: HostConfig
    host_id: str
    invoke: Invoke
    tracker: Tracker
    notify_queue: Callable[[str, str], None]
