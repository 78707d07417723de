"""Runs flint-bench models and the peer benchmarks in one go and prints one table of
samples/s (and batch-1 latency) with Flint's ratio to the best peer. Compare ratios, not
absolute figures: the machine is shared and noisy."""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(command, env=None):
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    except OSError as error:
        print(f"skipped {command[0]}: {error}", file=sys.stderr)
        return []
    if result.returncode != 0:
        print(f"skipped {' '.join(command)}: exit {result.returncode}\n{result.stderr.strip()[-400:]}", file=sys.stderr)
        return []
    rows = []
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flint-bench", default=".build/release/flint-bench")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="print the merged JSON lines instead of the table")
    args = parser.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    rows = run([args.flint_bench, "models", "--json", "--seconds", str(args.seconds)])
    for script in ["pytorch_bench.py", "sklearn_bench.py"]:
        rows += run([sys.executable, os.path.join(HERE, script), "--seconds", str(args.seconds)], env=env)
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return

    devices = []
    for row in rows:
        if row["device"] not in devices:
            devices.append(row["device"])
    peers = [d for d in devices if not (d == "cpu" or d.startswith("opencl"))]
    flint = [d for d in devices if d not in peers]
    keys = []
    for row in rows:
        key = (row["model"], row["workload"])
        if key not in keys:
            keys.append(key)
    table = {(r["model"], r["workload"], r["device"]): r for r in rows}

    def cell(key, device):
        row = table.get(key + (device,))
        if row is None:
            return "-"
        if key[1] == "infer_b1" and "latency_us" in row:
            return f"{row['latency_us']:.1f} µs"
        return f"{row['samples_per_second']:.0f}/s"

    header = ["model", "workload"] + devices + [f"{d} ÷ best peer" for d in flint]
    lines = []
    for key in keys:
        line = list(key) + [cell(key, d) for d in devices]
        peer_rows = [table[key + (p,)] for p in peers if key + (p,) in table]
        for device in flint:
            mine = table.get(key + (device,))
            if not mine or not peer_rows:
                line.append("-")
            elif key[1] == "infer_b1":
                best = min(r["latency_us"] for r in peer_rows)
                line.append(f"{mine['latency_us'] / best:.2f}× latency")
            else:
                best = max(r["samples_per_second"] for r in peer_rows)
                line.append(f"{mine['samples_per_second'] / best:.2f}× speed")
        lines.append(line)
    widths = [max(len(str(row[i])) for row in [header] + lines) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths]] + lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    print("\nSpeed ratios: higher is faster for Flint. Latency ratios (batch 1): lower is faster for Flint.")


if __name__ == "__main__":
    main()
