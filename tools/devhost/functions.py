"""Index a FunctionApp the way the Python worker does, and invoke its functions.

The worker refuses a function whose Python parameters and bindings differ, and
converts trigger data with the converters registered in ``azure.functions``;
we do the same, so a function that works here also loads in Azure.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import _abc as azf_abc
from azure.functions import meta

from tools.devhost import sdktypes

log = logging.getLogger("devhost.functions")

SUPPORTED_TRIGGERS = ("httpTrigger", "blobTrigger", "timerTrigger", "queueTrigger")
# Besides its trigger, a function may have only what FaceGate uses: the HTTP response as
# its return value, and blob inputs bound as SDK types (no bytes read by the host).

# FunctionApp.get_functions() may be called only once per app (azure-functions 1.26).
_indexed: dict[int, list[func.Function]] = {}
_index_lock = threading.Lock()


class FunctionLoadError(RuntimeError):
    """A function the real worker would refuse to load."""


@dataclass
class FunctionSpec:
    """One indexed function: its metadata (function.json bindings) and its callable."""

    name: str
    bindings: list[dict[str, Any]]
    user_function: Callable[..., Any]
    script_root: Path
    parameters: list[str] = field(default_factory=list)
    annotations: dict[str, Any] = field(default_factory=dict)
    takes_context: bool = False

    @property
    def function_id(self) -> str:
        """The id the host uses in receipts, poison messages and webhooks."""
        return f"Host.Functions.{self.name}"

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.bindings if b["type"].endswith("Trigger"))

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    def bindings_of(self, kind: str, direction: str) -> list[dict[str, Any]]:
        return [
            b
            for b in self.bindings
            if b["type"] == kind and str(b.get("direction", "")).upper() == direction
        ]

    def annotation(self, name: str) -> Any:
        return self.annotations.get(name)

    def is_deferred(self, name: str) -> bool:
        """True when the parameter takes an SDK type (the host passes a reference, no bytes)."""
        return sdktypes.is_sdk_type(self.annotations.get(name))


def load_app(target: str) -> func.FunctionApp:
    """Import ``module:attribute`` (default attribute ``app``) from the working directory."""
    module_name, _, attribute = target.partition(":")
    root = str(Path.cwd())
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app")
    if not hasattr(app, "get_functions"):
        raise TypeError(f"{target} is not a FunctionApp")
    return app


def app_functions(app: func.FunctionApp) -> list[func.Function]:
    """``app.get_functions()``, called once per app object and cached."""
    with _index_lock:
        functions = _indexed.get(id(app))
        if functions is None:
            functions = _indexed[id(app)] = app.get_functions()
        return functions


def index(app: func.FunctionApp, script_root: Path) -> tuple[list[FunctionSpec], list[str]]:
    """Specs of the functions we can run, and one error line per function we cannot."""
    specs: list[FunctionSpec] = []
    errors: list[str] = []
    for function in app_functions(app):
        name = function.get_function_name()
        bindings = json.loads(function.get_function_json())["bindings"]
        try:
            specs.append(_spec(name, bindings, function.get_user_function(), script_root))
        except FunctionLoadError as exc:
            errors.append(f"{name}: {exc}")
    return specs, errors


def _spec(
    name: str, bindings: list[dict[str, Any]], user_function: Callable[..., Any], root: Path
) -> FunctionSpec:
    trigger = next((b for b in bindings if b["type"].endswith("Trigger")), None)
    if trigger is None or trigger["type"] not in SUPPORTED_TRIGGERS:
        kind = trigger["type"] if trigger else "no trigger"
        raise FunctionLoadError(f"trigger {kind!r} is not supported by the dev host")
    signature = inspect.signature(user_function)
    try:
        hints = dict(inspect.get_annotations(user_function, eval_str=True))
    except Exception:  # an annotation that cannot be evaluated: the worker ignores it too
        hints = {}
    params = list(signature.parameters)
    bound = {b["name"] for b in bindings if b["name"] != "$return"}
    takes_context = "context" in params and "context" not in bound
    declared = set(params) - ({"context"} if takes_context else set())
    if declared - bound:
        raise FunctionLoadError(
            "the following parameters are declared in Python but not in function.json: "
            f"{sorted(declared - bound)}"
        )
    if bound - declared:
        raise FunctionLoadError(
            "the following parameters are declared in function.json but not in Python: "
            f"{sorted(bound - declared)}"
        )
    for binding in bindings:
        if binding is not trigger:
            _check_extra_binding(binding, hints.get(binding["name"]))
    for binding in (trigger,):
        pytype = hints.get(binding["name"])
        if sdktypes.is_sdk_type(pytype):
            if binding["type"] != "blobTrigger":
                raise FunctionLoadError(
                    f"SDK type {pytype!r} of {binding['name']} is supported on blob triggers "
                    "and blob inputs only"
                )
            continue
        converter = meta.get_binding_registry().get(binding["type"])
        if pytype is None or converter is None:
            continue
        if not _check_annotation(converter, pytype):
            raise FunctionLoadError(
                f"type of {binding['name']} binding in function.json {binding['type']!r} "
                f"does not match its Python annotation {pytype!r}"
            )
    return FunctionSpec(name, bindings, user_function, root, params, hints, takes_context)


def _check_extra_binding(binding: dict[str, Any], pytype: Any) -> None:
    """Only the bindings FaceGate uses besides its triggers; anything else is refused."""
    kind, direction = binding["type"], str(binding.get("direction", "")).upper()
    if kind == "http" and direction == "OUT" and binding["name"] == "$return":
        return
    if kind == "blob" and direction == "IN" and sdktypes.is_sdk_type(pytype):
        return
    raise FunctionLoadError(
        f"{kind} {direction.lower() or 'binding'} {binding['name']!r} is not supported by the dev "
        "host: only an HTTP response returned by the function and blob inputs typed as an SDK "
        "client (blob.BlobClient, ...) are (FaceGate uses nothing else)"
    )


def _check_annotation(converter: Any, pytype: Any) -> bool:
    # like the worker: a str/bytes parameter uses the generic binding, whatever the type
    if not isinstance(pytype, type) or pytype in (str, bytes):
        return True
    return converter.check_input_type_annotation(pytype)


class _TraceContext(azf_abc.TraceContext):
    def __init__(self, trace_parent: str = "", trace_state: str = "") -> None:
        self._parent, self._state = trace_parent, trace_state

    @property
    def trace_state(self) -> str:
        return self._state

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(azf_abc.RetryContext):
    def __init__(self, retry_count: int, max_retry_count: int) -> None:
        self._count, self._max = retry_count, max_retry_count

    @property
    def retry_count(self) -> int:
        return self._count

    @property
    def max_retry_count(self) -> int:
        return self._max

    @property
    def exception(self) -> Any:
        return None


class Context(azf_abc.Context):
    """``func.Context`` for a function that declares a ``context`` parameter."""

    _local = threading.local()

    def __init__(self, spec: FunctionSpec, invocation_id: str, trace_parent: str = "") -> None:
        self._spec = spec
        self._invocation_id = invocation_id
        self._trace = _TraceContext(trace_parent)
        self._retry = _RetryContext(0, 0)

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._spec.name

    @property
    def function_directory(self) -> str:
        return str(self._spec.script_root)

    @property
    def trace_context(self) -> Any:
        return self._trace

    @property
    def retry_context(self) -> Any:
        return self._retry


class AsyncRunner:
    """One event loop in its own thread, like the worker's loop for ``async def`` functions."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="devhost-asyncio", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class Invoker:
    """Calls user functions, sync in the caller's thread and async on the shared loop."""

    def __init__(self) -> None:
        self._async = AsyncRunner()

    def call(self, spec: FunctionSpec, kwargs: dict[str, Any], invocation_id: str) -> Any:
        if spec.takes_context:
            kwargs = {**kwargs, "context": Context(spec, invocation_id)}
        result = spec.user_function(**kwargs)
        if inspect.isawaitable(result):
            result = self._async.run(result)
        return result

    def close(self) -> None:
        self._async.close()


def new_invocation_id() -> str:
    return str(uuid.uuid4())
