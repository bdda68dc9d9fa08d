"""Model builder: pinned registry packages -> models/*.onnx + manifest + golden records."""
