"""SDK-type bindings (``blob.BlobClient`` ...), passed the way the Python worker passes them.

With ``azurefunctions-extensions-bindings-blob`` installed, a blob trigger or blob input
parameter annotated with one of its types (``BlobClient``, ``ContainerClient``,
``StorageStreamDownloader``) is a *deferred* binding: the host reads nothing and sends
``model_binding_data`` (``{"Connection", "ContainerName", "BlobName"}`` as JSON, source
``AzureStorageBlobs``); the extension's converter builds the client from the connection
setting. We build the same datum and call the same converter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

try:  # the extension is optional: apps that do not use SDK types do not need it
    from azurefunctions.extensions.base import Datum as _Datum
    from azurefunctions.extensions.base import meta as _meta
except ImportError:  # pragma: no cover - depends on the environment
    _Datum = None
    _meta = None

SOURCE = "AzureStorageBlobs"


@dataclass(frozen=True)
class ModelBindingData:
    """The fields of the worker's ModelBindingData protobuf the extensions read."""

    content: str
    version: str = "1.0"
    source: str = SOURCE
    content_type: str = "application/json"


def is_sdk_type(annotation: Any) -> bool:
    """True when ``annotation`` is a type an installed SDK-type extension converts."""
    return _meta is not None and _meta.get_binding_registry().check_supported_type(annotation)


def decode(binding_type: str, annotation: Any, connection: str, container: str, blob: str) -> Any:
    """The SDK object for ``container/blob`` in the account of ``connection``."""
    converter = _meta.get_binding_registry().get(binding_type) if _meta else None
    if converter is None:
        raise TypeError(f"no SDK-type converter registered for {binding_type!r} bindings")
    content = json.dumps({"Connection": connection, "ContainerName": container, "BlobName": blob})
    datum = _Datum(ModelBindingData(content), "model_binding_data")
    return converter.decode(datum, trigger_metadata={}, pytype=annotation)
