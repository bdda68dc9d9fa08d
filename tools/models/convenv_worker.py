"""Runs INSIDE the converter venv (.build/conv-venv): TensorFlow-side conversions and references.

This file is executed as a script by that venv's interpreter and imports nothing from the
repository, so the app's own environment never needs TensorFlow. Sub-commands:

* ``tflite SRC OUT`` / ``tfjs SRC OUT``: tf2onnx conversion (opset 17) with two shims
  tf2onnx 1.17 needs on TF 2.21 + numpy 2 (see :func:`_install_shims`).
* ``ref-tflite SRC IN.npz OUT.npz``: run the original model in ``tf.lite.Interpreter``;
  inputs are taken in the interpreter's input order from ``x0, x1, ...``; outputs are
  written under the interpreter's output names.
* ``ref-dlib DAT IN.npz OUT.npz``: the original dlib ResNet (``dlib-bin``) on the 150x150
  uint8 RGB chip ``pixels``; writes ``descriptor``.
* ``mtcnn PKG_ROOT NET OUT IN.npz REF.npz``: build ipazc ``mtcnn`` 1.0.0's Keras network
  ``NET`` (pnet/rnet/onet) from the package code, load its MIT weights, export ONNX, and
  write the Keras outputs for ``x0`` to ``REF.npz`` (``out0``, ``out1``, ...).
"""

from __future__ import annotations

import json
import os
import runpy
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np

OPSET = 17


def _install_shims() -> None:
    """Make tf2onnx 1.17 work with numpy 2 and with tfjs graphs from older converters.

    1. numpy 2 removed ``np.product``, which tf2onnx's tfjs reader still calls.
    2. Older tfjs converters wrote ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative`` /
       ``_FusedMatMul`` nodes without the ``TArgs`` attribute that TF 2.x's op registry
       requires when tf2onnx asks it for output shapes ("NodeDef missing attr 'TArgs'").
       The attribute is the list of the extra args' types, all equal to ``T``.
    """
    if not hasattr(np, "product"):
        np.product = np.prod  # type: ignore[attr-defined]
    from tf2onnx import tfjs_utils

    fused = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}
    original = tfjs_utils.get_output_shapes

    def with_targs(node_def, *args, **kwargs):
        if node_def.op in fused and "TArgs" not in node_def.attr:
            count = node_def.attr["num_args"].i if "num_args" in node_def.attr else 0
            node_def.attr["TArgs"].list.type.extend([node_def.attr["T"].type] * count)
        return original(node_def, *args, **kwargs)

    tfjs_utils.get_output_shapes = with_targs


def convert(kind: str, src: str, out: str) -> None:
    _install_shims()
    flag = "--tflite" if kind == "tflite" else "--tfjs"
    sys.argv = ["tf2onnx.convert", flag, src, "--output", out, "--opset", str(OPSET)]
    runpy.run_module("tf2onnx.convert", run_name="__main__")


def ref_tflite(src: str, in_npz: str, out_npz: str) -> None:
    import tensorflow as tf

    feeds = np.load(in_npz)
    interp = tf.lite.Interpreter(model_path=src)
    interp.allocate_tensors()
    for i, detail in enumerate(interp.get_input_details()):
        interp.set_tensor(detail["index"], feeds[f"x{i}"].astype(detail["dtype"]))
    interp.invoke()
    outs = {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
    np.savez(out_npz, **outs)
    print(json.dumps({"runtime": f"tf.lite.Interpreter (tensorflow {tf.__version__})"}))


def ref_dlib(dat: str, in_npz: str, out_npz: str) -> None:
    import dlib

    chip = np.ascontiguousarray(np.load(in_npz)["pixels"], dtype=np.uint8)
    model = dlib.face_recognition_model_v1(dat)
    descriptor = np.asarray(model.compute_face_descriptor(chip, 0), np.float32)
    np.savez(out_npz, descriptor=descriptor)
    print(json.dumps({"runtime": f"dlib {dlib.__version__} (dlib-bin)"}))


def mtcnn(pkg_root: str, net: str, out: str, in_npz: str, ref_npz: str) -> None:
    import tensorflow as tf
    import tf2onnx

    _install_shims()
    sys.path.insert(0, pkg_root)
    from mtcnn.utils.tensorflow import load_weights

    module = __import__(f"mtcnn.network.{net}", fromlist=[net.upper()])
    model = getattr(module, net[0].upper() + net[1:].replace("net", "Net"))()
    model.build()
    model.set_weights(load_weights(f"{net}.lz4"))
    x = np.load(in_npz)["x0"]
    ref = model(tf.constant(x))
    np.savez(ref_npz, **{f"out{i}": np.asarray(t) for i, t in enumerate(ref)})
    side = None if net == "pnet" else {"rnet": 24, "onet": 48}[net]
    spec = (tf.TensorSpec((None, side, side, 3), tf.float32, name="input"),)
    fn = tf.function(lambda t: model(t))
    tf2onnx.convert.from_function(fn, input_signature=spec, opset=OPSET, output_path=out)
    print(json.dumps({"runtime": f"keras (tensorflow {tf.__version__})"}))


def main(argv: list[str]) -> None:
    cmd, args = argv[0], argv[1:]
    if cmd in ("tflite", "tfjs"):
        convert(cmd, *args)
    elif cmd == "ref-tflite":
        ref_tflite(*args)
    elif cmd == "ref-dlib":
        ref_dlib(*args)
    elif cmd == "mtcnn":
        mtcnn(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
