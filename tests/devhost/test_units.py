"""The dev host's pieces without a server: routes, blob paths, NCRONTAB, indexing, queues."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import azure.functions as func
import pytest

from tests.devhost.conftest import wait_until
from tools.dev.azurite import ROOT
from tools.devhost import eventgrid, hostconfig, ncrontab, queuetrigger
from tools.devhost.blobpath import BlobPathError, BlobPathPattern, fill
from tools.devhost.blobtrigger import POISON_QUEUE
from tools.devhost.functions import FunctionSpec, app_functions, index
from tools.devhost.keys import Keys
from tools.devhost.queuemessage import (
    MessageDecodeError,
    QueueNameError,
    decode_body,
    encode_body,
    normalize_queue_name,
    poison_queue_name,
    trigger_value,
)
from tools.devhost.queuemessage import binding_data as queue_binding_data
from tools.devhost.queuetrigger import Backoff
from tools.devhost.routing import RouteError, RouteTable, compile_route


# -- routes ------------------------------------------------------------------------------
def _table(*templates: str) -> RouteTable[str]:
    table: RouteTable[str] = RouteTable()
    for template in templates:
        table.add(compile_route(template, template, ["GET"]))
    return table


def test_route_parameters():
    route = compile_route("items/{id}/{slug}", "f", None)
    assert route.match("items/42/ab") == {"id": "42", "slug": "ab"}
    assert route.match("ITEMS/42/ab") == {"id": "42", "slug": "ab"}  # literals ignore case
    assert route.match("items/42") is None and route.match("items/42/ab/c") is None
    assert route.match("items//ab") is None  # a parameter is never empty
    assert compile_route("e/{name}", "f").match("e/a%20b") == {"name": "a b"}
    assert compile_route("health", "f").match("/health/") == {}


def test_literal_routes_win_over_parameters():
    table = _table("items/{id}", "items/new")
    route, params, _ = table.resolve("items/new", "GET")
    assert route is not None and route.template == "items/new" and params == {}
    route, params, _ = table.resolve("items/7", "GET")
    assert route is not None and route.template == "items/{id}" and params == {"id": "7"}


def test_wrong_method_reports_the_allowed_ones():
    route, _, allowed = _table("items/{id}").resolve("items/7", "DELETE")
    assert route is None and allowed == {"GET"}


@pytest.mark.parametrize(
    "template",
    ["a/{x?}", "{*x}", "a/{x}/{X}", "a/{x:int}", "a/{x=1}", "d/{file}.{ext}", "a/{", "a//b"],
)
def test_bad_route_templates_are_refused(template):
    with pytest.raises(RouteError):
        compile_route(template, "f")


# -- blob paths --------------------------------------------------------------------------
def test_blob_pattern_binding_data_is_greedy_like_the_host():
    pattern = BlobPathPattern.parse("uploads/{customer}/{name}")
    assert pattern.match("uploads", "c1/x.png") == {"customer": "c1", "name": "x.png"}
    assert pattern.match("uploads", "c1/sub/x.png") == {"customer": "c1/sub", "name": "x.png"}
    assert pattern.match("uploads", "x.png") is None
    assert pattern.match("results", "c1/x.png") is None
    assert pattern.literal_prefix == ""


def test_blob_pattern_documented_examples():
    ext = BlobPathPattern.parse("input/{blobname}.{blobextension}")
    assert ext.match("input", "original-Blob1.txt") == {
        "blobname": "original-Blob1",
        "blobextension": "txt",
    }
    prefixed = BlobPathPattern.parse("input/original-{name}")
    assert prefixed.match("input", "original-Blob1.txt") == {"name": "Blob1.txt"}
    assert prefixed.match("input", "copy-Blob1.txt") is None
    assert prefixed.literal_prefix == "original-"
    braces = BlobPathPattern.parse("images/{{20140101}}-{name}")
    assert braces.match("images", "{20140101}-soundfile.mp3") == {"name": "soundfile.mp3"}
    assert BlobPathPattern.parse("samples").match("samples", "any/thing") == {}
    assert BlobPathPattern.parse("samples/{name}.png").match("samples", "a.jpg") is None


@pytest.mark.parametrize("path", ["{c}/x", "/x", "c/", "c/{a}/{A}", "c/{a"])
def test_bad_blob_paths_are_refused(path):
    with pytest.raises(BlobPathError):
        BlobPathPattern.parse(path)


def test_fill_binding_paths(monkeypatch):
    monkeypatch.setenv("OUT_CONTAINER", "results")
    path = fill("%OUT_CONTAINER%/{Customer}/{name}.json", {"customer": "c1", "name": "a/b.png"})
    assert path == "results/c1/a/b.png.json"
    first, second = fill("x/{rand-guid}", {}), fill("x/{rand-guid}", {})
    assert first != second and len(first) == len("x/") + 36
    with pytest.raises(BlobPathError):
        fill("x/{missing}", {})


# -- NCRONTAB ----------------------------------------------------------------------------
T0 = datetime(2026, 11, 27, 10, 15, 30, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/5 * * * * *", datetime(2026, 11, 27, 10, 15, 35, tzinfo=UTC)),
        ("0 */5 * * * *", datetime(2026, 11, 27, 10, 20, 0, tzinfo=UTC)),
        ("0 30 9 * * *", datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)),
        ("0 30 9 * * 1-5", datetime(2026, 11, 30, 9, 30, 0, tzinfo=UTC)),
        ("0 0 0 1 1 *", datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)),
        ("0 * * * *", datetime(2026, 11, 27, 11, 0, 0, tzinfo=UTC)),  # five fields
        ("0 0 12 13 * 5", datetime(2027, 8, 13, 12, 0, 0, tzinfo=UTC)),  # day AND weekday
        ("0 0 0 * * 7", datetime(2026, 11, 29, 0, 0, 0, tzinfo=UTC)),  # 7 is Sunday
    ],
)
def test_ncrontab_next_occurrence(expression, expected):
    assert ncrontab.parse(expression).next_after(T0) == expected


def test_timespan_schedules_and_errors():
    assert ncrontab.parse("00:05:00").next_after(T0) == datetime(
        2026, 11, 27, 10, 20, 30, tzinfo=UTC
    )
    for bad in ("* * * *", "61 * * * * *", "*/0 * * * * *", "0 0 0 31 2 *", "a b c d e f",
                "0 0 0 * * Mon"):  # fmt: skip
        with pytest.raises(ncrontab.ScheduleError):
            ncrontab.parse(bad).next_after(T0)


# -- indexing ----------------------------------------------------------------------------
def test_index_follows_the_worker_rules(tmp_path):
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="ok")
    def ok(req: func.HttpRequest, context: func.Context) -> str:
        return context.function_name

    @app.route(route="extra")
    def extra(req: func.HttpRequest, name: str) -> str:  # `name` is no binding
        return name

    @app.blob_trigger(arg_name="blob", path="c/{name}", connection="X")
    def wrong_type(blob: int) -> None:
        pass

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="X")
    def queued(msg: func.QueueMessage) -> None:
        pass

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="X")
    def untyped(msg: str) -> None:  # str: the generic binding
        pass

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="X")
    @app.queue_output(arg_name="out", queue_name="o", connection="X")
    def with_output(msg: str, out: func.Out[str]) -> None:
        pass

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="X")
    @app.blob_input(arg_name="data", path="c/{queueTrigger}", connection="X")
    def with_bytes_input(msg: str, data: bytes) -> None:
        pass

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="X")
    def wrong_queue_type(msg: int) -> None:
        pass

    @app.event_hub_message_trigger(arg_name="event", event_hub_name="h", connection="X")
    def hub(event: func.EventHubEvent) -> None:
        pass

    specs, errors = index(app, tmp_path)
    assert [s.name for s in specs] == ["ok", "queued", "untyped"]
    assert specs[0].takes_context
    text = "\n".join(errors)
    assert "extra: the following parameters are declared in Python but not in function.json" in text
    assert "wrong_type: type of blob binding" in text
    assert "wrong_queue_type: type of msg binding" in text
    assert "hub: trigger 'eventHubTrigger' is not supported" in text
    assert "with_output: queue out 'out' is not supported" in text
    assert "with_bytes_input: blob in 'data' is not supported" in text
    again, _ = index(app, tmp_path)  # get_functions() ran once; the cache answers
    assert [s.name for s in again] == ["ok", "queued", "untyped"]
    assert app_functions(app) is app_functions(app)


def test_the_real_app_indexes_with_every_function_kind_recognised():
    from function_app import app

    specs, errors = index(app, ROOT)
    assert errors == []
    kinds = {s.name: s.trigger_type for s in specs}
    assert set(kinds.values()) == {"httpTrigger", "queueTrigger", "timerTrigger"}
    assert kinds["health"] == "httpTrigger"
    assert kinds["process_upload"] == "queueTrigger"
    assert kinds["upload_poison"] == "queueTrigger"
    assert kinds["purge_faceids"] == "timerTrigger"
    poison = next(s for s in specs if s.name == "upload_poison").trigger
    assert (poison["queueName"], poison["connection"]) == (
        "uploadevents-poison",
        "FACEGATE_STORAGE",
    )
    process = next(s for s in specs if s.name == "process_upload")
    assert process.is_deferred("upload") and not process.is_deferred("event")


# -- queues ------------------------------------------------------------------------------
def test_queue_names_and_their_poison_queues():
    assert normalize_queue_name("Uploads-Done") == "uploads-done"  # the host lowercases
    for bad in ("ab", "a--b", "-ab", "ab-", "a_b", "a" * 64):
        with pytest.raises(QueueNameError):
            normalize_queue_name(bad)
    assert poison_queue_name("work") == "work-poison"
    assert poison_queue_name(POISON_QUEUE) is None  # a poison queue has no poison queue
    assert poison_queue_name("a" * 57) is None  # "-poison" would make it too long
    assert poison_queue_name("a" * 56) == "a" * 56 + "-poison"


def test_message_encoding_round_trip_and_bad_base64():
    assert encode_body("héllo", "base64") == base64.b64encode("héllo".encode()).decode()
    assert decode_body(encode_body(b"\x00\xff", "base64"), "base64") == b"\x00\xff"
    assert encode_body("plain", "none") == "plain"
    assert decode_body("plain", "none") == b"plain"
    with pytest.raises(MessageDecodeError):
        decode_body("not base64!", "base64")


def test_queue_message_is_built_by_the_library_converter():
    stamp = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    sdk = SimpleNamespace(
        id="m1",
        dequeue_count=3,
        pop_receipt="pr",
        inserted_on=stamp,
        expires_on=stamp + timedelta(days=7),
        next_visible_on=stamp + timedelta(minutes=10),
    )
    body = b'{"ContainerName": "uploads", "BlobName": "c1/a.png", "ETag": "0x1"}'
    message = trigger_value(sdk, body, func.QueueMessage)
    assert isinstance(message, func.QueueMessage)
    assert (message.id, message.dequeue_count, message.pop_receipt) == ("m1", 3, "pr")
    assert message.get_body() == body
    assert message.get_json()["BlobName"] == "c1/a.png"
    assert message.insertion_time == stamp
    assert message.expiration_time == stamp + timedelta(days=7)
    assert message.time_next_visible == stamp + timedelta(minutes=10)
    assert trigger_value(sdk, body, str) == body.decode()
    assert trigger_value(sdk, body, bytes) == body
    data = queue_binding_data(sdk, body)
    assert data["BlobName"] == "c1/a.png" and data["QueueTrigger"] == body.decode()
    assert fill("results/{BlobName}.json", data) == "results/c1/a.png.json"


def test_queue_polling_backs_off_to_the_maximum_and_resets_on_a_hit():
    backoff = Backoff(maximum=2.0)
    delays = [backoff.next(False) for _ in range(8)]
    assert all(0.1 <= d <= 2.0 for d in delays)
    assert delays[-1] == 2.0
    assert backoff.next(True) == pytest.approx(0.1)
    assert backoff.next(False) < 0.5


# -- host.json, keys, Event Grid ---------------------------------------------------------
def test_host_json_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(hostconfig.BODY_LIMIT_SETTING, "1234")
    path = tmp_path / "host.json"
    path.write_text(
        json.dumps(
            {
                "functionTimeout": "00:10:00",
                "extensions": {
                    "http": {"routePrefix": ""},
                    "blobs": {"maxDegreeOfParallelism": 3, "poisonBlobThreshold": 2},
                    "queues": {
                        "messageEncoding": "none",
                        "batchSize": 4,
                        "newBatchThreshold": 1,
                        "maxPollingInterval": 500,  # 1.x style: milliseconds
                        "visibilityTimeout": "00:00:30",
                        "maxDequeueCount": 2,
                    },
                },
            }
        )
    )
    config = hostconfig.load(path)
    assert (config.route_prefix, config.blob_parallelism, config.poison_blob_threshold) == (
        "",
        3,
        2,
    )
    assert config.queue_message_encoding == "none"
    assert (config.queue_batch_size, config.queue_new_batch_threshold) == (4, 1)
    assert config.queue_max_polling_interval == 0.5
    assert config.queue_visibility_timeout == 30
    assert config.queue_max_dequeue_count == 2
    assert config.function_timeout_seconds == 600
    assert config.body_limit == 1234
    monkeypatch.delenv(hostconfig.BODY_LIMIT_SETTING)
    defaults = hostconfig.load(tmp_path / "missing.json")
    assert defaults.route_prefix == "api" and defaults.poison_blob_threshold == 5
    assert defaults.body_limit == 100 * 1024 * 1024
    assert (defaults.queue_batch_size, defaults.queue_max_dequeue_count) == (16, 5)
    assert defaults.queue_new_batch_threshold == 8 * (os.cpu_count() or 1)
    assert defaults.queue_max_polling_interval is None  # the dev host then polls like func start
    assert defaults.queue_visibility_timeout == 0 and defaults.queue_message_encoding == "base64"
    for wrong in ({"batchSize": 33}, {"maxDequeueCount": 0}, {"maxPollingInterval": "00:00:00"}):
        path.write_text(json.dumps({"extensions": {"queues": wrong}}))
        with pytest.raises(ValueError):
            hostconfig.load(path)


def test_keys_by_auth_level():
    keys = Keys(function="f", master="m")
    assert keys.allows("ANONYMOUS", None)
    assert keys.allows("FUNCTION", "f") and keys.allows("FUNCTION", "m")
    assert not keys.allows("FUNCTION", None) and not keys.allows("FUNCTION", "x")
    assert keys.allows("ADMIN", "m") and not keys.allows("ADMIN", "f")


def test_event_grid_blob_names_from_subject_or_azurite_url():
    account = "http://127.0.0.1:10000/devstoreaccount1/"
    body = json.dumps(
        [
            {
                "eventType": "Microsoft.Storage.BlobCreated",
                "subject": "/blobServices/default/containers/uploads/blobs/c1/a b.png",
            },
            {
                "type": "Microsoft.Storage.BlobCreated",
                "data": {"url": "http://127.0.0.1:10000/devstoreaccount1/uploads/c2/x%20y.png"},
            },
            {"eventType": "Microsoft.Storage.BlobDeleted", "subject": "ignored"},
        ]
    ).encode()
    events = eventgrid.blob_created_events(body, account)
    assert [(e.container, e.blob_name) for e in events] == [
        ("uploads", "c1/a b.png"),
        ("uploads", "c2/x y.png"),
    ]
    cloud = {"data": json.dumps({"validationCode": "abc"})}
    assert json.loads(eventgrid.validation_response(json.dumps(cloud).encode())) == {
        "validationResponse": "abc"
    }
    with pytest.raises(eventgrid.EventGridError):
        eventgrid.blob_created_events(b"not json")


def test_local_settings_fill_the_environment_but_never_override_it(tmp_path, monkeypatch):
    from tools.devhost.__main__ import _load_settings

    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"DEVHOST_T_NEW": "from-file", "DEVHOST_T_SET": "file"}}))
    monkeypatch.setenv("DEVHOST_T_SET", "env")
    monkeypatch.delenv("DEVHOST_T_NEW", raising=False)
    assert _load_settings(path) == 1
    assert os.environ["DEVHOST_T_NEW"] == "from-file"
    assert os.environ["DEVHOST_T_SET"] == "env"
    monkeypatch.delenv("DEVHOST_T_NEW")
    assert _load_settings(tmp_path / "missing.json") == 0


class _FakeQueue:
    """A storage queue in memory: what QueueTriggerRunner calls, with delete/update counts."""

    url = "memory://queue"

    def __init__(self, bodies: list[str]) -> None:
        self.waiting = [
            SimpleNamespace(
                id=f"m{i}",
                content=base64.b64encode(body.encode()).decode(),
                dequeue_count=1,
                pop_receipt=f"pr{i}",
                inserted_on=None,
                expires_on=None,
                next_visible_on=None,
            )
            for i, body in enumerate(bodies)
        ]
        self.deleted: list[str] = []
        self.received = 0
        self.most_held = 0  # most messages received and not yet deleted, at any time
        self.lock = threading.Lock()

    def get_queue_properties(self) -> None:
        return None

    def receive_messages(self, *, messages_per_page, max_messages, visibility_timeout):
        with self.lock:
            batch, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
            self.received += len(batch)
            self.most_held = max(self.most_held, self.received - len(self.deleted))
        return batch

    def delete_message(self, message_id: str, pop_receipt: str) -> None:
        with self.lock:
            self.deleted.append(message_id)


class _FakeQueueHost:
    """A Runtime for QueueTriggerRunner (duck-typed); invoke() counts concurrent calls."""

    def __init__(self, config: hostconfig.HostConfig) -> None:
        self.config = config
        self.tracker = self
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.bodies: list[str] = []

    @contextlib.contextmanager
    def track(self):
        yield

    def invoke(self, spec, kwargs, binding_data, detail):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.bodies.append(kwargs["msg"].get_body().decode())
        threading.Event().wait(0.05)
        with self.lock:
            self.running -= 1
        return True, None

    def notify_queue(self, connection: str, name: str) -> None:
        pass


def test_queue_runner_runs_at_most_batch_size_plus_new_batch_threshold_at_once(monkeypatch):
    bodies = [f"b{i}" for i in range(20)]
    queue = _FakeQueue(bodies)
    service = SimpleNamespace(get_queue_client=lambda name: queue)
    monkeypatch.setattr(queuetrigger.storage, "queue_service", lambda connection: service)
    config = dataclasses.replace(
        hostconfig.HostConfig(), queue_batch_size=2, queue_new_batch_threshold=1
    )
    host = _FakeQueueHost(config)
    trigger = {"type": "queueTrigger", "name": "msg", "queueName": "work", "connection": "X"}
    spec = FunctionSpec("Work", [trigger], lambda msg: None, Path.cwd(), ["msg"])
    runner = queuetrigger.QueueTriggerRunner(host, spec, lease_seconds=60, max_polling_interval=0.1)
    runner.start()
    try:
        wait_until(lambda: len(queue.deleted) == len(bodies), "every message to be deleted", 30)
    finally:
        runner.stop()
    assert sorted(host.bodies) == sorted(bodies)  # each message ran once
    assert sorted(queue.deleted) == sorted(f"m{i}" for i in range(20))
    assert 2 <= host.most <= 3  # in parallel, but never more than batchSize + newBatchThreshold
    assert queue.most_held <= 3  # and no more messages are leased than can run


def test_flex_limits_are_warned_about(caplog):
    from tools.devhost import flex

    assert flex.time_zone_ignored({"WEBSITE_TIME_ZONE": "Europe/Paris"}) is True
    assert flex.time_zone_ignored({}) is False
    assert flex.check_start(31.0) is True and flex.check_start(2.0) is False
    text = caplog.text
    assert "WEBSITE_TIME_ZONE='Europe/Paris' is ignored" in text and "31.0 s" in text


def test_the_dev_host_has_no_import_circle():
    """Imports only point down (host -> runners -> runtime): runners get a Runtime, the HTTP
    server a ServedHost protocol, and no module imports host.py back."""
    import ast

    package = ROOT / "tools" / "devhost"
    modules = {p.stem for p in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("tools.devhost."):
                    deps.add(node.module.split(".")[2])
                elif node.module == "tools.devhost":
                    deps |= {alias.name for alias in node.names if alias.name in modules}
        graph[path.stem] = deps - {path.stem}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep}))
            for dep in graph.get(start, ())
        )

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert circles == []
    assert not any("host" in deps for name, deps in graph.items() if name != "__main__")
