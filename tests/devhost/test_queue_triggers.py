"""Queue triggers driven end to end through Azurite and the dev host subprocess."""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from datetime import datetime

from azure.core.exceptions import ResourceExistsError

from shared.storage import clients
from tests.devhost.conftest import record_details, records, wait_until


def _queue(name: str):
    queue = clients.queue_service().get_queue_client(name)
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()
    return queue


def _send(queue_name: str, body: str) -> str:
    """Send a message the way a client of a base64 queue does; returns its id."""
    return _queue(queue_name).send_message(base64.b64encode(body.encode()).decode()).id


def _texts(queue_name: str) -> list[str]:
    """The raw text of every visible message (peek: nothing is dequeued)."""
    return [m.content for m in _queue(queue_name).peek_messages(max_messages=32)]


def _queued(queue_name: str) -> int:
    """Messages in the queue, the invisible (running or waiting for a retry) included."""
    return _queue(queue_name).get_queue_properties().approximate_message_count


def test_a_message_is_processed_once_and_deleted(sample_host):
    body = f"hello-{uuid.uuid4().hex[:8]}"
    message_id = _send("devhost-q-echo", body)
    (call,) = wait_until(lambda: record_details("queue-echo", body), "the queue function")
    assert call["id"] == message_id
    assert call["body"] == body
    assert call["dequeue_count"] == 1
    assert call["pop_receipt"] is True
    inserted = datetime.fromisoformat(call["insertion_time"])
    assert datetime.fromisoformat(call["expiration_time"]) > inserted
    assert datetime.fromisoformat(call["time_next_visible"]) > inserted
    wait_until(lambda: _queued("devhost-q-echo") == 0, "the message to be deleted")
    time.sleep(1.0)  # a few polls more: a deleted message is never delivered again
    assert len(records("queue-echo", body)) == 1


def test_a_failing_message_gets_max_dequeue_count_tries_then_the_poison_queue(sample_host):
    tag = uuid.uuid4().hex[:8]
    bad, good = f"bad-{tag}", f"good-{tag}"
    _send("devhost-q-fickle", bad)
    _send("devhost-q-fickle", good)
    wait_until(lambda: records("queue-fickle", good), "the next message to be processed")
    poisoned = base64.b64encode(bad.encode()).decode()
    wait_until(lambda: poisoned in _texts("devhost-q-fickle-poison"), "the poison message")
    assert len(records("queue-fickle", bad)) == 5  # maxDequeueCount, the default
    assert len(records("queue-fickle", good)) == 1
    time.sleep(1.0)  # several polls more: the poisoned message is never tried again
    assert len(records("queue-fickle", bad)) == 5
    assert "moving it to queue 'devhost-q-fickle-poison'" in sample_host.log()


def test_a_message_that_is_not_base64_goes_to_the_poison_queue_without_a_call(sample_host):
    raw = f"not base64 {uuid.uuid4().hex[:8]}!"
    _queue("devhost-q-fickle").send_message(raw)
    wait_until(lambda: raw in _texts("devhost-q-fickle-poison"), "the poison message")
    assert "is not valid base64" in sample_host.log()


def test_a_function_longer_than_the_lease_keeps_its_message(sample_host):
    """The host renews a running message's invisibility, so it is not delivered twice."""
    name = f"slow-{uuid.uuid4().hex[:8]}"
    _send("devhost-q-slow", name)
    wait_until(lambda: records("queue-slow-finished", name), "the slow function", 30)
    wait_until(lambda: _queued("devhost-q-slow") == 0, "the message to be deleted")
    assert record_details("queue-slow-started", name) == [{"dequeue_count": 1}]


def test_kill_mid_function_and_restart_processes_the_message_again(start_devhost):
    """At-least-once, as in Azure: the message of a killed host reappears after its lease."""
    name = f"hang-{uuid.uuid4().hex[:8]}"
    lease = ("--queue-lease-seconds", "2")
    app = "tests.devhost.queue_app:app"
    first = start_devhost(app, "host.json", *lease)
    _send("devhost-q-hang", name)
    wait_until(lambda: records("queue-hang-started", name), "the first try to start")
    first.kill()
    assert records("queue-hang-finished", name) == []

    second = start_devhost(app, "host.json", *lease)
    finished = wait_until(
        lambda: record_details("queue-hang-finished", name), "the message to run again", 30
    )
    assert finished == [{"dequeue_count": 2}]
    wait_until(lambda: _queued("devhost-q-hang") == 0, "the message to be deleted")
    assert second.stop() == 0
