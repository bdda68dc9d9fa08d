"""Peak resident memory of one FaceGate worker, to size the Flex Consumption instance.

Imports the app as the host does (every blueprint), opens an onnxruntime session for
every model in models/ and runs each once, then holds the buffers of the largest image
the API accepts (4096 x 4096 RGB, as bytes and as float32). With ``--analyzer`` it runs
the real analyzer instead (every attribute plus embeddings on a tiled test photo).
Prints the peak RSS after each step: one Python worker handles requests on threads,
so this plus the Functions host (a few hundred MB) must fit in ``instanceMemoryMB``.

Usage: ``.venv/bin/python -m tools.infra.measure_memory [--analyzer] [--side 4096]``
"""

from __future__ import annotations

import argparse
import resource
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
PHOTO = REPO / "tests" / "data" / "photos" / "astronaut.png"
DYNAMIC_SIDE = 320  # stand-in for a dynamic spatial dimension (e.g. MTCNN's P-Net)


def peak_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _shape(dims: list[object]) -> list[int]:
    shape = [d if isinstance(d, int) and d > 0 else DYNAMIC_SIDE for d in dims]
    if shape and not (isinstance(dims[0], int) and dims[0] > 0):
        shape[0] = 1  # batch
    return shape


def run_every_model(threads: int) -> int:
    """Open and run once every ONNX file in models/; returns how many ran."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: converter leftovers warn on load
    sessions = []
    for path in sorted(MODELS.glob("*.onnx")):
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {}
        for spec in session.get_inputs():
            dtype = np.float32 if "float" in spec.type else np.int64
            feeds[spec.name] = np.zeros(_shape(list(spec.shape)), dtype)
        session.run(None, feeds)
        sessions.append(session)
        print(f"  {path.name}: peak {peak_mb():.0f} MB")
    return len(sessions)


def run_analyzer(side: int) -> None:
    from PIL import Image

    from shared.vision.analyzer import Analyzer
    from shared.vision.face import ATTRIBUTES

    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    reps = -(-side // photo.shape[0])
    image = np.ascontiguousarray(np.tile(photo, (reps, reps, 1))[:side, :side])
    analyzer = Analyzer()
    for attempt in (1, 2):
        faces = analyzer.analyze(image, ATTRIBUTES, embeddings=True)
        print(f"analyze {side}x{side} run {attempt}: {len(faces)} faces, peak {peak_mb():.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096, help="image side in pixels")
    parser.add_argument("--threads", type=int, default=1, help="ONNX intra-op threads")
    parser.add_argument("--analyzer", action="store_true", help="run the real analyzer")
    args = parser.parse_args()
    print(f"python started: peak {peak_mb():.0f} MB")

    import function_app  # noqa: F401  (imports every registered blueprint, as the host does)

    print(f"app imported: peak {peak_mb():.0f} MB")
    if args.analyzer:
        run_analyzer(args.side)
        return 0
    count = run_every_model(args.threads)
    print(f"{count} models open and run once: peak {peak_mb():.0f} MB")
    pixels = np.full((args.side, args.side, 3), 127, np.uint8)
    as_float = pixels.astype(np.float32) / 255.0
    print(
        f"plus one {args.side}x{args.side} image (uint8 + float32, "
        f"{(pixels.nbytes + as_float.nbytes) / 2**20:.0f} MB): peak {peak_mb():.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
