"""Fuzzing the blob pipeline's parsers: the blob name and the upload's metadata.

The customer is its container (storage guards it); inside it, an accepted name must
address itself and nothing else however storage or a URL library later resolves it
(``\\`` is stored as ``/``; ``.`` and ``..`` segments are removed from request URLs), or
its result would land on another upload's result. The metadata says what to do (features, galleryid,
capturecontext, purpose); anything it holds is a valid request or a BadArgument,
which the pipeline turns into a final failed result.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import BadArgument
from shared.pipeline import uploads
from shared.policy import context_from, model
from tests.hardening.fuzzing import fuzz_settings, outcome, target

pytestmark = pytest.mark.fuzz

SEGMENTS = st.one_of(
    st.sampled_from(
        ["acme", "victim", ".", "..", "", "...", "a.jpg", "%2e%2e", "..\\victim", "x\\..\\..", " "]
    ),
    st.text(alphabet="ab.\\/%2e_-", max_size=8),
    st.text(max_size=12),
)
BLOB_NAMES = st.one_of(
    st.lists(SEGMENTS, min_size=1, max_size=6).map("/".join),
    st.lists(SEGMENTS, min_size=1, max_size=6).map(lambda s: "uploads/" + "/".join(s)),
    st.text(max_size=40),
)


def as_storage_resolves(path: str) -> str:
    """What a blob path addresses once ``\\`` became ``/`` and dot segments were resolved
    (RFC 3986 remove_dot_segments, as URL libraries do before the request is sent)."""
    out: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    return "/".join(out)


@fuzz_settings()
@given(BLOB_NAMES)
@target("pipeline/blob-name")
def test_fuzz_blob_name(name: str) -> None:
    try:
        checked = uploads.check_name(name)
    except BadArgument as error:
        assert error.code == "BadArgument" and len(error.message) < 400
        outcome("pipeline/blob-name", "BadArgument")
        return
    assert checked == name and name
    ref = uploads.UploadRef("acme", name)
    for path in (ref.name, ref.result_name):
        resolved = as_storage_resolves(path)
        assert resolved == path, f"{path!r} is stored or sent as {resolved!r}"
    outcome("pipeline/blob-name", "accepted")


CUSTOMER = model.Customer.create(
    id="fuzz", name="fuzz", sector="commercial", country="US", status="active",
    actions=model.ACTIONS, purposes=("qa",), default_features=("detect", "age"),
)  # fmt: skip
FEATURES = st.lists(
    st.one_of(
        st.sampled_from(["detect", "age", "gender", "emotion", "identify", "DETECT", " age "]),
        st.text(max_size=12),
    ),
    max_size=6,
).map(",".join)
METADATA_KEYS = st.one_of(
    st.sampled_from(
        [
            *("features", "Features", "galleryid", "GalleryId", "capturecontext", "purpose"),
            *("customer", "customerid", "x-ms-meta-features"),
        ]
    ),
    st.text(max_size=12),
)
METADATA_VALUES = st.one_of(
    FEATURES,
    st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True),
    st.sampled_from(["photo", "realtime", "body-camera", "vehicle-camera", "drone", "qa", ""]),
    st.text(max_size=80),
)


@fuzz_settings()
@given(st.dictionaries(METADATA_KEYS, METADATA_VALUES, max_size=6))
@target("pipeline/metadata")
def test_fuzz_upload_metadata(metadata: dict[str, str]) -> None:
    try:
        request = uploads.parse_request(metadata, CUSTOMER)
        context = context_from(
            capture=request.capture, channel="blob", purpose=request.purpose, request_id="r"
        )
    except BadArgument as error:
        assert error.code == "BadArgument" and len(error.message) < 400
        outcome("pipeline/metadata", "BadArgument")
        return
    features = request.features
    assert "detect" in features and len(set(features)) == len(features)
    assert set(features) <= set(model.FEATURES)
    assert ("identify" in features) == (request.gallery_id is not None)
    assert context.channel == "blob"
    assert context.capture in (*model.CAPTURES, model.UNKNOWN_CAPTURE)
    outcome("pipeline/metadata", "identify" if request.gallery_id else "accepted")
