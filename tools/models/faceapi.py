"""ONNX graphs for face-api.js nets, rebuilt with ``onnx.helper`` from their weight manifests.

face-api.js ships weights only (a tfjs weights manifest + ``.bin``, mostly uint8-quantised);
the architecture lives in its JavaScript. The forward passes below follow face-api.js
0.22.2 (``build/commonjs/faceRecognitionNet``, ``xception/TinyXception.js`` +
``ageGenderNet``, ``faceFeatureExtractor`` + ``faceExpressionNet``) op for op, so the
golden test against face-api.js itself can be tight.

Conventions of every graph built here: input ``input`` is NHWC float32 RGB in 0..255 at
the net's fixed size (the caller crops/aligns and resizes; face-api.js would pad to a
square and resize bilinearly first); the per-channel mean subtraction and scaling happen
inside the graph. uint8-quantised tensors stay uint8 in the file and are dequantised in
the graph (``q * scale + min``, as tfjs does); onnxruntime constant-folds that once at load,
so inference costs the same as float weights while the file is about 4x smaller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
MEAN_RGB = (122.782, 117.001, 104.298)  # face-api.js / dlib channel means


@dataclass(frozen=True)
class Weight:
    """One tensor of a weights manifest: float values, or uint8 codes + (scale, min)."""

    shape: tuple[int, ...]
    values: np.ndarray  # float32 (unquantised) or uint8 codes
    scale: float | None = None
    minimum: float | None = None

    @property
    def quantised(self) -> bool:
        return self.scale is not None

    def dequantised(self) -> np.ndarray:
        if not self.quantised:
            return self.values
        return (self.values.astype(np.float64) * self.scale + self.minimum).astype(np.float32)


def read_weights(manifest: Path) -> dict[str, Weight]:
    """Parse a tfjs weights manifest (the format face-api.js uses) into named weights."""
    groups = json.loads(manifest.read_text())
    weights: dict[str, Weight] = {}
    for group in groups:
        blob = b"".join((manifest.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = tuple(int(d) for d in spec["shape"])
            count = int(np.prod(shape))
            quant = spec.get("quantization")
            if quant:
                if quant["dtype"] != "uint8":
                    raise ValueError(f"{spec['name']}: unsupported quantisation {quant['dtype']}")
                codes = np.frombuffer(blob, np.uint8, count, offset).reshape(shape)
                offset += count
                weights[spec["name"]] = Weight(shape, codes, quant["scale"], quant["min"])
            else:
                values = np.frombuffer(blob, np.float32, count, offset).reshape(shape)
                offset += 4 * count
                weights[spec["name"]] = Weight(shape, values)
        if offset != len(blob):
            raise ValueError(f"{manifest.name}: {len(blob) - offset} bytes left over")
    return weights


class GraphBuilder:
    """A tiny helper around ``onnx.helper``: unique names, initialisers, dequantisation."""

    def __init__(self, weights: dict[str, Weight]) -> None:
        self.weights = weights
        self.used: set[str] = set()
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def op(self, op_type: str, inputs: list[str], hint: str = "", **attrs) -> str:
        out = self._name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self._name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def weight(self, key: str, perm: tuple[int, ...] | None = None, shape=None) -> str:
        """The named weight as a float tensor, transposed/reshaped for ONNX layouts."""
        w = self.weights[key]
        self.used.add(key)
        values = w.values if perm is None else np.transpose(w.values, perm)
        if shape is not None:
            values = values.reshape(shape)
        if not w.quantised:
            return self.const(key, values.astype(np.float32))
        codes = self.const(key + "/q", values.astype(np.uint8))
        as_float = self.op("Cast", [codes], key + "/f", to=TensorProto.FLOAT)
        scaled = self.op("Mul", [as_float, self.const(key + "/s", np.float32(w.scale))])
        return self.op("Add", [scaled, self.const(key + "/m", np.float32(w.minimum))], key)

    # -- layers (NCHW inside the graph) -------------------------------------------------
    def conv(self, x: str, key: str, stride: int, pad: str, bias: str | None = None) -> str:
        """tf.conv2d with HWIO filters ``key``; ``pad`` is 'same' (TF rules) or 'valid'."""
        filters = self.weight(key, (3, 2, 0, 1))
        inputs = [x, filters] + ([self.weight(bias, shape=(-1,))] if bias else [])
        pad_attr = {"auto_pad": "SAME_UPPER"} if pad == "same" else {}
        return self.op("Conv", inputs, "conv", strides=[stride, stride], **pad_attr)

    def separable(self, x: str, prefix: str, stride: int) -> str:
        """tf.separableConv2d(depthwise, pointwise, 'same') + bias."""
        dw = self.weights[prefix + "/depthwise_filter"]
        channels = dw.shape[2]
        depth = self.op(
            "Conv",
            [x, self.weight(prefix + "/depthwise_filter", (2, 3, 0, 1))],
            "dwconv",
            group=channels,
            strides=[stride, stride],
            auto_pad="SAME_UPPER",
        )
        point = self.weight(prefix + "/pointwise_filter", (3, 2, 0, 1))
        return self.op("Conv", [depth, point, self.weight(prefix + "/bias")], "pwconv")

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def channel_const(self, hint: str, values) -> str:
        return self.const(hint, np.asarray(values, np.float32).reshape(1, -1, 1, 1))

    def normalised_input(self, divisor: float) -> str:
        """NHWC 0..255 RGB -> NCHW, minus the channel means, divided by ``divisor``."""
        x = self.op("Transpose", ["input"], "nchw", perm=[0, 3, 1, 2])
        x = self.op("Sub", [x, self.channel_const("mean_rgb", MEAN_RGB)], "centred")
        return self.op("Div", [x, self.const("divisor", np.float32(divisor))], "normalised")

    def finish(self, name: str, size: int, outputs: list[tuple[str, str, list]]) -> onnx.ModelProto:
        unused = set(self.weights) - self.used
        if unused:
            raise ValueError(f"{name}: weights not used by the graph: {sorted(unused)}")
        for src, dst, _ in outputs:
            self.nodes.append(helper.make_node("Identity", [src], [dst], name=dst))
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", size, size, 3])],
            [helper.make_tensor_value_info(dst, TensorProto.FLOAT, shp) for _, dst, shp in outputs],
            self.inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tools.models"
        )
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


# -- FaceRecognitionNet: dlib ResNet-34, 150x150 -> 128-d ----------------------------------
def _rec_conv(g: GraphBuilder, x: str, prefix: str, stride: int, relu: bool, pad: str) -> str:
    out = g.conv(x, prefix + "/conv/filters", stride, pad, bias=prefix + "/conv/bias")
    out = g.op("Mul", [out, g.weight(prefix + "/scale/weights", shape=(1, -1, 1, 1))])
    out = g.op("Add", [out, g.weight(prefix + "/scale/biases", shape=(1, -1, 1, 1))])
    return g.relu(out) if relu else out


def _rec_residual(g: GraphBuilder, x: str, prefix: str) -> str:
    out = _rec_conv(g, x, prefix + "/conv1", 1, True, "same")
    out = _rec_conv(g, out, prefix + "/conv2", 1, False, "same")
    return g.relu(g.add(out, x))


def _rec_residual_down(g: GraphBuilder, x: str, prefix: str, size: int) -> tuple[str, int]:
    out = _rec_conv(g, x, prefix + "/conv1", 2, True, "valid")
    out = _rec_conv(g, out, prefix + "/conv2", 1, False, "same")
    conv_size, pool_size = (size - 3) // 2 + 1, (size - 2) // 2 + 1
    if conv_size != pool_size:  # face-api appends one zero row (bottom) and column (right)
        pads = g.const("pads", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64))
        out = g.op("Pad", [out, pads], "pad_out")
    pooled = g.op("AveragePool", [x], "avgpool", kernel_shape=[2, 2], strides=[2, 2])
    c_in = g.weights[prefix + "/conv1/conv/filters"].shape[2]
    c_out = g.weights[prefix + "/conv1/conv/filters"].shape[3]
    if c_in != c_out:  # zero channels appended to the shortcut
        pads = g.const("pads", np.array([0, 0, 0, 0, 0, c_out - c_in, 0, 0], np.int64))
        pooled = g.op("Pad", [pooled, pads], "pad_channels")
    return g.relu(g.add(pooled, out)), pool_size


def build_recognition(weights: dict[str, Weight]) -> onnx.ModelProto:
    g = GraphBuilder(weights)
    x = g.normalised_input(256.0)
    kernel = weights["conv32_down/conv/filters"].shape[0]
    x = _rec_conv(g, x, "conv32_down", 2, True, "valid")
    x = g.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2])
    size = (((150 - kernel) // 2 + 1) - 3) // 2 + 1  # 150 -> 72 -> 35
    for p in ("conv32_1", "conv32_2", "conv32_3"):
        x = _rec_residual(g, x, p)
    x, size = _rec_residual_down(g, x, "conv64_down", size)
    for p in ("conv64_1", "conv64_2", "conv64_3"):
        x = _rec_residual(g, x, p)
    x, size = _rec_residual_down(g, x, "conv128_down", size)
    for p in ("conv128_1", "conv128_2"):
        x = _rec_residual(g, x, p)
    x, size = _rec_residual_down(g, x, "conv256_down", size)
    for p in ("conv256_1", "conv256_2"):
        x = _rec_residual(g, x, p)
    x, size = _rec_residual_down(g, x, "conv256_down_out", size)
    pooled = g.op("ReduceMean", [x, g.const("axes", np.array([2, 3], np.int64))], keepdims=0)
    desc = g.op("MatMul", [pooled, g.weight("fc")], "fc")
    return g.finish("faceapi_recognition_resnet34", 150, [(desc, "descriptor", ["N", 128])])


# -- AgeGenderNet: TinyXception(2) + two fc heads, 112x112 ---------------------------------
def _reduction_block(g: GraphBuilder, x: str, prefix: str, activate_input: bool) -> str:
    out = g.relu(x) if activate_input else x
    out = g.separable(out, prefix + "/separable_conv0", 1)
    out = g.separable(g.relu(out), prefix + "/separable_conv1", 1)
    out = g.op(
        "MaxPool", [out], "maxpool", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"
    )
    shortcut = g.conv(
        x, prefix + "/expansion_conv/filters", 2, "same", prefix + "/expansion_conv/bias"
    )
    return g.add(out, shortcut)


def _main_block(g: GraphBuilder, x: str, prefix: str) -> str:
    out = g.separable(g.relu(x), prefix + "/separable_conv0", 1)
    out = g.separable(g.relu(out), prefix + "/separable_conv1", 1)
    out = g.separable(g.relu(out), prefix + "/separable_conv2", 1)
    return g.add(out, x)


def _fc(g: GraphBuilder, x: str, prefix: str) -> str:
    return g.add(g.op("MatMul", [x, g.weight(prefix + "/weights")]), g.weight(prefix + "/bias"))


def build_age_gender(weights: dict[str, Weight]) -> onnx.ModelProto:
    g = GraphBuilder(weights)
    x = g.normalised_input(256.0)
    x = g.relu(g.conv(x, "entry_flow/conv_in/filters", 2, "same", "entry_flow/conv_in/bias"))
    x = _reduction_block(g, x, "entry_flow/reduction_block_0", activate_input=False)
    x = _reduction_block(g, x, "entry_flow/reduction_block_1", activate_input=True)
    for i in range(2):
        x = _main_block(g, x, f"middle_flow/main_block_{i}")
    x = _reduction_block(g, x, "exit_flow/reduction_block", activate_input=True)
    x = g.relu(g.separable(x, "exit_flow/separable_conv", 1))
    x = g.op("AveragePool", [x], "avgpool", kernel_shape=[7, 7], strides=[2, 2])
    x = g.op("Flatten", [x], "flat", axis=1)
    age = g.op("Reshape", [_fc(g, x, "fc/age"), g.const("shape", np.array([-1], np.int64))])
    gender = g.op("Softmax", [_fc(g, x, "fc/gender")], "gender", axis=1)
    return g.finish(
        "faceapi_age_gender_tinyxception",
        112,
        [(age, "age", ["N"]), (gender, "gender", ["N", 2])],
    )


# -- FaceExpressionNet: FaceFeatureExtractor (4 dense blocks) + fc, 112x112 ---------------
def _dense_block4(g: GraphBuilder, x: str, prefix: str, first: bool) -> str:
    if first:
        out1 = g.conv(x, prefix + "/conv0/filters", 2, "same", prefix + "/conv0/bias")
    else:
        out1 = g.separable(x, prefix + "/conv0", 2)
    out1 = g.relu(out1)
    # face-api.js sums out1 + (out2 + (out3 + out4)); running sums add the same terms in
    # another order (last-bit rounding, within the golden tolerance) with each convolution's
    # output used once, so onnxruntime folds every Add into the convolution before it
    sum2 = g.add(g.separable(out1, prefix + "/conv1", 1), out1)
    sum3 = g.add(g.separable(g.relu(sum2), prefix + "/conv2", 1), sum2)
    sum4 = g.add(g.separable(g.relu(sum3), prefix + "/conv3", 1), sum3)
    return g.relu(sum4)


def build_expression(weights: dict[str, Weight]) -> onnx.ModelProto:
    g = GraphBuilder(weights)
    x = g.normalised_input(255.0)
    for i in range(4):
        x = _dense_block4(g, x, f"dense{i}", first=i == 0)
    x = g.op("AveragePool", [x], "avgpool", kernel_shape=[7, 7], strides=[2, 2])
    x = g.op("Flatten", [x], "flat", axis=1)
    probs = g.op("Softmax", [_fc(g, x, "fc")], "expression", axis=1)
    return g.finish("faceapi_expression_densenet", 112, [(probs, "expression", ["N", 7])])


BUILDERS = {
    "face_recognition_model": build_recognition,
    "age_gender_model": build_age_gender,
    "face_expression_model": build_expression,
}


def build(manifest: Path, out: Path) -> None:
    """Build the ONNX graph for the face-api.js weights manifest ``manifest`` into ``out``."""
    net = manifest.name.removesuffix("-weights_manifest.json")
    model = BUILDERS[net](read_weights(manifest))
    onnx.save(model, out)
