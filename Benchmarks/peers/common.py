"""Shared helpers for the peer benchmarks: the JSON schema of `flint-bench models --json`, the same
timing rule as flint-bench (warm-up excluded, median of at least 3 runs within a time budget), and
workload selection."""
import json
import statistics
import sys
import time

# Every (model, workload) pair flint-bench models measures, in its order.
WORKLOADS = [(model, workload) for model in ("mlp", "cnn", "convnet", "wide", "lstm")
             for workload in ("train", "infer_b1", "infer_b256")]

# Exit status of a peer script whose library cannot be imported; compare.py reports it as "skipped".
EXIT_UNAVAILABLE = 3


def emit(device, model, workload, samples_per_second, latency_us=None):
    """One JSON line on stdout, keys as in `flint-bench models --json`."""
    row = {"device": device, "model": model, "workload": workload,
           "samples_per_second": round(samples_per_second, 1)}
    if latency_us is not None:
        row["latency_us"] = round(latency_us, 1)
    print(json.dumps(row, sort_keys=True), flush=True)


def note(message):
    """Progress and remarks go to stderr so stdout stays pure JSON lines."""
    print(message, file=sys.stderr, flush=True)


def median_seconds(fn, budget, minimum_runs=3, maximum_runs=1000):
    """Median wall time of fn() after one untimed warm-up call: at least `minimum_runs` timed
    calls, more while under `budget` seconds and `maximum_runs` (flint-bench's rule)."""
    fn()
    samples, spent = [], 0.0
    while len(samples) < minimum_runs or (spent < budget and len(samples) < maximum_runs):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        samples.append(elapsed)
        spent += elapsed
    return statistics.median(samples)


def add_common_arguments(parser):
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time budget per measurement, in seconds (at least 3 runs each; default 2)")
    parser.add_argument("--workloads", default="all",
                        help="comma-separated selection: all, a model (mlp, cnn), a workload (train, infer_b1, "
                             "infer_b256) or model/workload (e.g. mlp/infer_b1); default all")


def selected(spec, supported):
    """The (model, workload) pairs of `supported` that the --workloads `spec` asks for."""
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens or "all" in tokens:
        return list(supported)
    known = {m for m, _ in WORKLOADS} | {w for _, w in WORKLOADS} | {f"{m}/{w}" for m, w in WORKLOADS}
    unknown = [t for t in tokens if t not in known]
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    return [(m, w) for m, w in supported if m in tokens or w in tokens or f"{m}/{w}" in tokens]
