"""Shared timing and output helpers for the peer benchmarks (same JSON schema as flint-bench models)."""
import json
import statistics
import sys
import time


def emit(device, model, workload, samples_per_second, latency_us=None):
    row = {"device": device, "model": model, "workload": workload, "samples_per_second": round(samples_per_second, 1)}
    if latency_us is not None:
        row["latency_us"] = round(latency_us, 1)
    print(json.dumps(row, sort_keys=True), flush=True)


def median_seconds(fn, budget, minimum_runs=3, maximum_runs=1000):
    """Median wall time of fn() over at least minimum_runs calls and about `budget` seconds."""
    samples, spent = [], 0.0
    while len(samples) < minimum_runs or (spent < budget and len(samples) < maximum_runs):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        samples.append(elapsed)
        spent += elapsed
    return statistics.median(samples)


def note(message):
    print(message, file=sys.stderr, flush=True)
