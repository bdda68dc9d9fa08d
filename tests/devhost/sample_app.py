"""A small FunctionApp that exercises every trigger the dev host runs (tests only).

Blob, queue and timer functions record each invocation as a blob under
``devhost-records/`` (one blob per call) so the tests can count calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid

import azure.functions as func

from shared.storage import clients

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

RECORDS = "devhost-records"
_barrier = threading.Barrier(4)


def record(kind: str, name: str, details: dict | None = None) -> None:
    """One blob per invocation: ``devhost-records/{kind}/{name}/{uuid}`` (JSON ``details``)."""
    blob = f"{kind}/{name}/{uuid.uuid4()}"
    data = json.dumps(details).encode() if details is not None else b""
    clients.blob_service().get_blob_client(RECORDS, blob).upload_blob(data)


@app.route(route="echo/{id}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    return func.HttpResponse(
        json.dumps(
            {
                "method": req.method,
                "url": req.url,
                "id": req.route_params.get("id"),
                "params": dict(req.params),
                "header": req.headers.get("x-sample"),
                "length": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        ),
        mimetype="application/json",
        headers={"X-Echo": "1"},
    )


@app.route(route="files/{folder}/{name}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="bytes", methods=["POST"])
def bytes_back(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")


@app.route(route="fail", methods=["GET", "POST"])
def fail(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("the sample function failed on purpose")


@app.route(route="together", methods=["GET"])
def together(req: func.HttpRequest) -> func.HttpResponse:
    """Succeeds only when four requests are inside the function at the same time."""
    try:
        _barrier.wait(timeout=20)
    except threading.BrokenBarrierError:
        return func.HttpResponse("not concurrent", status_code=409)
    return func.HttpResponse("together")


@app.route(route="sleep", methods=["GET"])
def sleep(req: func.HttpRequest) -> func.HttpResponse:
    if req.params.get("tag"):
        record("sleep", req.params["tag"])  # tells a test that the call has started
    threading.Event().wait(float(req.params.get("s", "1")))
    return func.HttpResponse("slept")


@app.route(route="aio/{word}", methods=["GET"])
async def aio(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return func.HttpResponse(req.route_params["word"].upper())


@app.route(route="secure", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def secure(req: func.HttpRequest) -> str:
    return "secret"


@app.route(route="admin", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin(req: func.HttpRequest) -> str:
    return "admin"


@app.function_name("Uppercase")
@app.blob_trigger(
    arg_name="blob", path="devhost-in/{customer}/{name}", connection="FACEGATE_STORAGE"
)
def uppercase(blob: func.InputStream) -> None:
    summary = {
        "name": blob.name,
        "length": blob.length,
        "uri": blob.uri,
        "metadata": blob.metadata,
        "contentType": blob.blob_properties["ContentType"],
        "text": blob.read().decode().upper(),
    }
    record("uppercase", blob.name, summary)


@app.function_name("Picky")
@app.blob_trigger(arg_name="blob", path="devhost-picky/{name}", connection="FACEGATE_STORAGE")
def picky(blob: func.InputStream) -> None:
    """Fails on every blob whose name starts with ``bad``."""
    name = blob.name.split("/", 1)[1]
    record("picky", name)
    if name.startswith("bad"):
        raise ValueError("this blob is refused on purpose")


@app.function_name("Slow")
@app.blob_trigger(arg_name="blob", path="devhost-slow/{name}", connection="FACEGATE_STORAGE")
def slow(blob: func.InputStream) -> None:
    """Holds its worker until the test writes ``release/{name}`` (at most a minute)."""
    name = blob.name.split("/", 1)[1]
    record("slow-started", name)
    release = clients.blob_service().get_blob_client(RECORDS, f"release/{name}")
    for _ in range(1200):
        if release.exists():
            break
        threading.Event().wait(0.05)
    record("slow-finished", name)


@app.function_name("FromEvents")
@app.blob_trigger(
    arg_name="blob", path="devhost-events/{name}", connection="FACEGATE_STORAGE", source="EventGrid"
)
def from_events(blob: func.InputStream) -> None:
    record("events", blob.name.split("/", 1)[1])


@app.function_name("Tick")
@app.timer_trigger(schedule="*/2 * * * * *", arg_name="timer", run_on_startup=True)
def tick(timer: func.TimerRequest) -> None:
    record("tick", "past-due" if timer.past_due else "on-time")


@app.function_name("QueueEcho")
@app.queue_trigger(arg_name="msg", queue_name="devhost-q-echo", connection="FACEGATE_STORAGE")
async def queue_echo(msg: func.QueueMessage) -> None:
    """Records what the message looked like."""
    await asyncio.sleep(0)
    body = msg.get_body().decode()
    stamps = {
        "insertion_time": msg.insertion_time,
        "expiration_time": msg.expiration_time,
        "time_next_visible": msg.time_next_visible,
    }
    record(
        "queue-echo",
        body,
        {
            "id": msg.id,
            "body": body,
            "dequeue_count": msg.dequeue_count,
            "pop_receipt": bool(msg.pop_receipt),
            **{k: v.isoformat() if v else None for k, v in stamps.items()},
        },
    )


@app.function_name("QueueFickle")
@app.queue_trigger(arg_name="msg", queue_name="devhost-q-fickle", connection="FACEGATE_STORAGE")
def queue_fickle(msg: str) -> None:
    """Gets the body as ``str``; fails on every message that starts with ``bad``."""
    record("queue-fickle", msg)
    if msg.startswith("bad"):
        raise ValueError("this message is refused on purpose")


@app.function_name("QueueSlow")
@app.queue_trigger(arg_name="msg", queue_name="devhost-q-slow", connection="FACEGATE_STORAGE")
def queue_slow(msg: func.QueueMessage) -> None:
    """Runs longer than the test host's message lease (2 s): the lease must be renewed."""
    name = msg.get_body().decode()
    record("queue-slow-started", name, {"dequeue_count": msg.dequeue_count})
    threading.Event().wait(2.6)
    record("queue-slow-finished", name)


@app.function_name("BlobPoisonReader")
@app.queue_trigger(
    arg_name="msg", queue_name="webjobs-blobtrigger-poison", connection="FACEGATE_STORAGE"
)
def blob_poison_reader(msg: func.QueueMessage) -> None:
    """Gets the host's poison message for a blob that failed every try (like FaceGate's)."""
    body = json.loads(msg.get_body())
    record("blob-poison", body["BlobName"], body)
