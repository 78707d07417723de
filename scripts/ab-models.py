#!/usr/bin/env python3
"""Compares two flint-bench builds on the model workloads, paired round by round.

    scripts/ab-models.py OLD NEW [--models lstm,convnet] [--rounds 10] [--seconds 2]

Each round runs `OLD models --devices cpu --models M --seconds S --no-peak --json` and the same
with NEW, back to back, and takes NEW's samples/s over OLD's for every workload; the order
alternates (OLD first in odd rounds, NEW first in even ones), because on a shared machine the
second of a pair runs faster often enough to pass for a gain: the same change measured +6.7% with
NEW always second and -6.1% with NEW always first. Prints, per model and workload, the median of
the rounds' ratios with its range and the medians of the two orders separately: a change is real
when both orders agree."""
import argparse
import json
import statistics
import subprocess
import sys


def measure(binary, model, seconds):
    """samples/s per workload of one `flint-bench models` run of `model` on the CPU."""
    command = [binary, "models", "--devices", "cpu", "--models", model, "--seconds", str(seconds), "--no-peak", "--json"]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"ab-models: {' '.join(command)} exited with status {result.returncode}")
    rates = {}
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            row = json.loads(line)
            if row.get("samples_per_second"):
                rates[row["workload"]] = row["samples_per_second"]
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="the baseline flint-bench binary")
    parser.add_argument("new", help="the flint-bench binary to compare with it")
    parser.add_argument("--models", default="mlp,cnn,convnet,wide,lstm", help="comma-separated models (default all)")
    parser.add_argument("--rounds", type=int, default=10, help="pairs per model (default 10; at least 2)")
    parser.add_argument("--seconds", type=float, default=2.0, help="flint-bench's budget per measurement (default 2)")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2: one round in each order")
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        ratios = {}  # workload -> [(round, new / old)]
        for r in range(args.rounds):
            pair = [("old", args.old), ("new", args.new)]
            if r % 2 == 1:
                pair.reverse()
            rates = {name: measure(binary, model, args.seconds) for name, binary in pair}
            for workload, old in rates["old"].items():
                if workload in rates["new"]:
                    ratios.setdefault(workload, []).append((r, rates["new"][workload] / old))
            print(f"{model} round {r + 1}/{args.rounds}: " + ", ".join(
                f"{w} {v[-1][1]:.3f}" for w, v in ratios.items() if v and v[-1][0] == r), file=sys.stderr, flush=True)
        for workload, pairs in ratios.items():
            values = [v for _, v in pairs]
            first = [v for r, v in pairs if r % 2 == 0]   # OLD ran first
            second = [v for r, v in pairs if r % 2 == 1]  # NEW ran first
            print(f"{model:8} {workload:18} new/old median {statistics.median(values):.3f} "
                  f"(range {min(values):.3f}–{max(values):.3f}; old first {statistics.median(first):.3f}, "
                  f"new first {statistics.median(second) if second else float('nan'):.3f}; {len(values)} rounds)")


if __name__ == "__main__":
    main()
