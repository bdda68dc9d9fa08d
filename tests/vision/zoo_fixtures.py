"""A second recognition model for tests: a small ONNX embedder built here, its manifest entry
and its adapter. Adding a real embedder takes the same two pieces (docs/vision.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from shared.vision.catalog import DEFAULT_MODELS_DIR, Catalog
from shared.vision.face import Face
from shared.vision.geometry import similarity, warp
from shared.vision.zoo import RecognitionModel

MODEL = "tiny_embedder_16"
SIZE, CELLS, DIM = 112, 4, 16
# ArcFace's 112 px five-point template, in the detector's point order (image left first)
TEMPLATE = np.array(
    [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]
)
WEIGHTS = np.random.default_rng(7).normal(size=(3 * CELLS * CELLS, DIM)).astype(np.float32)


def tiny_embedder() -> bytes:
    """NHWC (N, 112, 112, 3) -> mean of 28x28 cells per channel -> linear map to 16 values."""
    pool = SIZE // CELLS
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node(
            "AveragePool", ["nchw"], ["cells"], kernel_shape=[pool, pool], strides=[pool, pool]
        ),
        helper.make_node("Flatten", ["cells"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "weights"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_embedder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", DIM])],
        [numpy_helper.from_array(WEIGHTS, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


def reference_embedding(chip: np.ndarray) -> np.ndarray:
    """What the graph computes, in numpy (to check the adapter ran it on its own chip)."""
    pool = SIZE // CELLS
    x = chip.astype(np.float32).transpose(2, 0, 1).reshape(3, CELLS, pool, CELLS, pool)
    out = x.mean(axis=(2, 4)).reshape(-1) @ WEIGHTS
    return out / np.linalg.norm(out)


class TinyCosineRecognizer(RecognitionModel):
    """ArcFace-style geometry (112 px chip on the detector's five points, so no mesh is
    needed), L2-normalised embeddings compared by cosine."""

    name = "tiny_cosine_v1"
    dimension = DIM
    match_similarity = 0.8
    models = (MODEL,)

    @staticmethod
    def chip(rgb: np.ndarray, face: Face) -> np.ndarray:
        return warp(rgb, similarity(face.points, TEMPLATE), SIZE)

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        x = self.chip(rgb, face).astype(np.float32)[None]
        (out,) = self.session(MODEL).run(None, {"input": x})
        return (out[0] / np.linalg.norm(out[0])).astype(np.float32)

    def similarity(self, query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        query = np.asarray(query, np.float32).ravel()
        return (np.asarray(matrix, np.float32).reshape(-1, DIM) @ query).astype(np.float64)

    def confidence(self, similarity: np.ndarray | float) -> np.ndarray | float:
        z = np.clip(40.0 * (np.asarray(similarity, np.float64) - self.match_similarity), -50, 50)
        conf = 1.0 / (1.0 + np.exp(-z))
        return float(conf) if np.ndim(conf) == 0 else conf


def catalog_with_tiny_embedder(folder: Path) -> Catalog:
    """A catalogue of the repository's models plus the tiny embedder's file and entry."""
    manifest = json.loads((DEFAULT_MODELS_DIR / "manifest.json").read_text())
    for entry in manifest["models"].values():
        (folder / entry["file"]).symlink_to(DEFAULT_MODELS_DIR / entry["file"])
    data = tiny_embedder()
    (folder / f"{MODEL}.onnx").write_bytes(data)
    real = manifest["models"]["dlib_resnet_128"]
    manifest["models"][MODEL] = {
        **real,
        "name": MODEL,
        "file": f"{MODEL}.onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "licence": "test fixture",
        "source": {"package": "tests.vision.zoo_fixtures", "version": "1"},
        "input": {**real["input"], "size": [SIZE, SIZE], "shape": ["N", SIZE, SIZE, 3]},
        "outputs": [{"name": "embedding", "shape": ["N", DIM], "dtype": "float32"}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return Catalog(folder, threads=1)
