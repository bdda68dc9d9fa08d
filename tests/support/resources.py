"""One customer's resources over HTTP: a gallery, a person, an enrolled face and a faceId."""

from __future__ import annotations

import uuid
from typing import Any

from tests.data import make_photos as photos

PHOTO = {"X-Capture-Context": "photo"}


def customer_resources(client: Any, prefix: str) -> dict[str, str]:
    """Create them through the API with ``client`` (a tests.e2e Client); returns their ids."""
    gallery = f"{prefix}-{uuid.uuid4().hex[:8]}"
    created = client.request("PUT", f"/galleries/{gallery}", json={"name": prefix})
    assert created.status_code == 200, created.text
    person = client.post_json(f"/galleries/{gallery}/persons", {"name": "P"}).json()["personId"]
    face = client.request(
        "POST", f"/galleries/{gallery}/persons/{person}/faces",
        data=photos.ASTRONAUT.read_bytes(), headers=PHOTO,
    ).json()["persistedFaceId"]  # fmt: skip
    face_id = client.detect(
        photos.GRACE_HOPPER.read_bytes(), "returnFaceId=true", headers=PHOTO
    ).json()[0]["faceId"]
    return {"galleryId": gallery, "personId": person, "persistedFaceId": face, "faceId": face_id}
