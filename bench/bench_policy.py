"""Cost of the policy gate on a warm cache, with and without the audit write, beside one analysis.

    python -m bench.bench_policy [--calls 500]

Runs against a private in-memory Azurite (started on free ports, stopped at the
end), so the audit write is a real Table insert over loopback HTTP. Prints a
table of medians and 95th percentiles and writes reports/bench/policy.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from shared.policy import authenticate, context_from, decide, decide_all, engine, model, registry
from shared.policy.decisions import evaluate_all
from tools.dev.azurite import ROOT, Azurite, storage_of_this_process

PHOTO = ROOT / "tests" / "data" / "photos" / "astronaut.png"


def _timed(fn: Callable[[], object], calls: int) -> dict[str, float]:
    fn()  # warm
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p95_ms": samples[int(0.95 * (len(samples) - 1))],
        "calls": calls,
    }


def _analysis(calls: int) -> dict[str, float] | str:
    """One detect with head pose and quality on the astronaut portrait, if vision is there."""
    try:
        from shared.service import engine as vision_engine

        image = PHOTO.read_bytes()
        analyzer = vision_engine.analyzer()
        return _timed(lambda: analyzer.analyze(image, ("headPose", "qualityForRecognition")), calls)
    except Exception as exc:  # the vision module is optional for this bench
        return f"n/a ({type(exc).__name__}: {str(exc)[:80]})"


def run(calls: int) -> dict[str, object]:
    with (
        Azurite.on_free_ports() as emulator,
        storage_of_this_process(emulator.connection_string),
    ):
        customer = registry.add_customer(
            model.Customer.create(
                id="bench",
                name="Bench",
                sector="commercial",
                country="FR",
                status="active",
                actions=model.ACTIONS,
                purposes="benchmark",
            )
        )
        key, _ = registry.issue_key(customer.id)
        context = context_from("photo", "http", "benchmark", "bench")
        policies = engine.bundle()
        authenticate(key)
        rows = {
            "cedar evaluate (1 action)": _timed(
                lambda: engine.evaluate(customer, "detect", context, policies), calls
            ),
            "authenticate (warm cache)": _timed(lambda: authenticate(key), calls),
            "decision, no audit write": _timed(
                lambda: evaluate_all(customer, ["detect"], context), calls
            ),
            "decide (incl. audit write)": _timed(
                lambda: decide(customer, "detect", context), calls
            ),
            "authenticate + decide": _timed(
                lambda: decide(authenticate(key), "detect", context), calls
            ),
            "one batch, 4 actions, no audit write": _timed(
                lambda: evaluate_all(customer, FOUR_ACTIONS, context), calls
            ),
            "decide_all detect+age+emotion": _timed(
                lambda: decide_all(customer, ["detect", "age", "emotion"], context), calls
            ),
        }
    return {"gate": rows, "analysis": _analysis(max(3, calls // 100))}


FOUR_ACTIONS = ["detect", "age", "emotion", "createTemplate"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args(argv)
    result = run(args.calls)
    print(f"{'what':34} {'median ms':>10} {'p95 ms':>10}")
    for name, row in result["gate"].items():  # type: ignore[union-attr]
        print(f"{name:34} {row['median_ms']:10.3f} {row['p95_ms']:10.3f}")
    analysis = result["analysis"]
    if isinstance(analysis, dict):
        line = f"{analysis['median_ms']:10.3f} {analysis['p95_ms']:10.3f}"
    else:
        line = f"{analysis}"
    print(f"{'one analysis (detect, astronaut)':34} {line}")
    out = Path(ROOT / "reports" / "bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "policy.json").write_text(json.dumps(result, indent=2))
    print(f"written: {out / 'policy.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
