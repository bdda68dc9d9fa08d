"""Blob receipts: one per (function, blob version), where the real host keeps them.

A receipt is an empty blob in the ``azure-webjobs-hosts`` container of the host
storage account (``AzureWebJobsStorage``), named
``blobreceipts/{hostId}/{functionId}/{etag}/{container}/{blobName}`` with
metadata ``IsCompleted``. Like the host, we hold a lease on the receipt while we
work on the blob, so two hosts (or a restarted one) never run the same version
at once. We add two metadata fields: ``Attempts`` (the host counts tries with
its queue's dequeue count instead) and ``Poisoned``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient

HOSTS_CONTAINER = "azure-webjobs-hosts"
log = logging.getLogger("devhost.receipts")


@dataclass(frozen=True)
class Receipt:
    completed: bool = False
    attempts: int = 0
    poisoned: bool = False

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> Receipt:
        lower = {k.lower(): v for k, v in (metadata or {}).items()}
        try:
            attempts = int(lower.get("attempts", "0"))
        except ValueError:
            attempts = 0
        return cls(
            completed=lower.get("iscompleted", "").lower() == "true",
            attempts=attempts,
            poisoned=lower.get("poisoned", "").lower() == "true",
        )

    def metadata(self) -> dict[str, str]:
        return {
            "IsCompleted": str(self.completed).lower(),
            "Attempts": str(self.attempts),
            "Poisoned": str(self.poisoned).lower(),
        }


@dataclass
class Claim:
    """A leased receipt: only its holder may run the blob version."""

    blob: BlobClient
    lease: BlobLeaseClient
    receipt: Receipt


class ReceiptStore:
    """Reads, claims and completes receipts; renews the leases of running claims."""

    def __init__(self, service: BlobServiceClient, host_id: str, lease_seconds: int = 15) -> None:
        self._container = service.get_container_client(HOSTS_CONTAINER)
        self._host_id = host_id
        self._lease_seconds = lease_seconds
        self._ready = False
        self._lock = threading.Lock()
        self._active: set[BlobLeaseClient] = set()
        self._stop = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew_loop, name="devhost-leases", daemon=True
        )
        self._renewer.start()

    def _ensure_container(self) -> None:
        if self._ready:
            return
        with contextlib.suppress(ResourceExistsError):
            self._container.create_container()
        self._ready = True

    def name(self, function_id: str, container: str, blob_name: str, etag: str) -> str:
        # the ETag comes before the blob name: blob names may contain slashes
        return (
            f"blobreceipts/{self._host_id}/{function_id}/{etag.strip(chr(34))}/"
            f"{container}/{blob_name}"
        )

    def read(self, function_id: str, container: str, blob_name: str, etag: str) -> Receipt | None:
        self._ensure_container()
        blob = self._container.get_blob_client(self.name(function_id, container, blob_name, etag))
        try:
            return Receipt.from_metadata(blob.get_blob_properties().metadata)
        except ResourceNotFoundError:
            return None

    def claim(self, function_id: str, container: str, blob_name: str, etag: str) -> Claim | None:
        """Lease the receipt (creating it); None when another holder has it."""
        self._ensure_container()
        blob = self._container.get_blob_client(self.name(function_id, container, blob_name, etag))
        with contextlib.suppress(ResourceExistsError):
            blob.upload_blob(b"", metadata=Receipt().metadata(), overwrite=False)
        try:
            lease = blob.acquire_lease(lease_duration=self._lease_seconds)
        except HttpResponseError as exc:
            if exc.status_code == 409:
                return None
            raise
        try:
            receipt = Receipt.from_metadata(blob.get_blob_properties(lease=lease).metadata)
        except Exception:
            with contextlib.suppress(HttpResponseError):
                lease.release()
            raise
        with self._lock:
            self._active.add(lease)
        return Claim(blob, lease, receipt)

    def update(self, claim: Claim, receipt: Receipt) -> None:
        claim.blob.set_blob_metadata(receipt.metadata(), lease=claim.lease)
        claim.receipt = receipt

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._active.discard(claim.lease)
        try:
            claim.lease.release()
        except HttpResponseError:
            log.debug("lease on %s already gone", claim.blob.blob_name)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._lease_seconds / 3):
            with self._lock:
                leases = list(self._active)
            for lease in leases:
                try:
                    lease.renew()
                except HttpResponseError:
                    log.warning("could not renew a receipt lease", exc_info=True)

    def close(self) -> None:
        self._stop.set()
