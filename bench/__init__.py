"""Speed and accuracy harnesses for shared.vision.

``python -m bench.eval --data DIR`` (make eval) and ``python -m bench.speed`` (make bench).
"""
