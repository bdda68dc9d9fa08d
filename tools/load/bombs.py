"""What one hostile image costs the decoder: file size, decode time and peak memory.

Each case is decoded in a fresh subprocess, so its peak resident memory
(``ru_maxrss``) is that case's alone. The cases are bombs *within* the limits (40 MP
of zeros: the decoder must accept them) and bombs over them (refused from the
header). Usage: ``python -m tools.load.bombs`` (about half a minute).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tools.dev.azurite import ROOT

# name -> (builder expression over tests.data.hostile.formats as f)
CASES = {
    "png grey 16384x2441 (40 MP)": "f.png_bomb(16384, 2441, 8, 0)",
    "png rgb 6324x6324 (40 MP)": "f.png_bomb(6324, 6324, 8, 2)",
    "png rgba16 6324x6324 (40 MP)": "f.png_bomb(6324, 6324, 16, 6)",
    "png grey16 6324x6324 (40 MP)": "f.png_bomb(6324, 6324, 16, 0)",
    "png palette 6324x6324 (40 MP)": "f.png_bomb(6324, 6324, 8, 3)",
    "png grey 16000x16000 (256 MP, refused)": "f.png_bomb(16000, 16000, 8, 0)",
    "gif frame 10000x10000 on a 48x40 screen (refused)": "f.gif(48, 40, ((0, 0, 10000, 10000),))",
}
# the same file sent by eight callers at once (one process, eight threads)
CONCURRENT = {"8 x png rgba16 6324x6324 at once": "f.png_bomb(6324, 6324, 16, 6)"}

_CHILD = """
import json, resource, sys, time
from tests.data.hostile import formats as f
from shared.vision import imageio
import threading
data = {expr}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.process_time()
outcomes = []
def one():
    try:
        outcomes.append("decoded %dx%d" % imageio.decode(data).rgb.shape[1::-1])
    except Exception as exc:
        outcomes.append(type(exc).__name__)
threads = [threading.Thread(target=one) for _ in range({copies})]
[t.start() for t in threads]
[t.join() for t in threads]
outcome = ", ".join(sorted(set(outcomes)))
print(json.dumps({{
    "bytes": len(data), "cpu_s": time.process_time() - started, "outcome": outcome,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "baseline_mb": before / 1024,
}}))
"""


def measure(expr: str, copies: int = 1) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", _CHILD.format(expr=expr, copies=copies)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    started = time.monotonic()
    print(f"{'case':<52} {'file':>9} {'cpu':>7} {'peak-base':>10}  outcome")
    cases = [(name, expr, 1) for name, expr in CASES.items()]
    cases += [(name, expr, 8) for name, expr in CONCURRENT.items()]
    for name, expr, copies in cases:
        row = measure(expr, copies)
        extra = row["peak_mb"] - row["baseline_mb"]
        print(
            f"{name:<52} {row['bytes'] / 1024:>7.0f}KB {row['cpu_s']:>6.2f}s {extra:>8.0f}MB"
            f"  {row['outcome']}"
        )
    print(f"({time.monotonic() - started:.0f} s; peak-base = peak RSS minus RSS before decoding)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
