"""A one-function app for the at-least-once test: the dev host is killed while it runs (tests only).

The first delivery of a message records that it started and then blocks, so the
test can kill the host at a known point; a later delivery finishes normally.
"""

from __future__ import annotations

import threading

import azure.functions as func

from tests.devhost.sample_app import record

app = func.FunctionApp()


@app.function_name("Hang")
@app.queue_trigger(arg_name="msg", queue_name="devhost-q-hang", connection="FACEGATE_STORAGE")
def hang(msg: func.QueueMessage) -> None:
    name = msg.get_body().decode()
    record("queue-hang-started", name, {"dequeue_count": msg.dequeue_count})
    if msg.dequeue_count == 1:
        threading.Event().wait(300)  # the test kills the host while we wait here
    record("queue-hang-finished", name, {"dequeue_count": msg.dequeue_count})
