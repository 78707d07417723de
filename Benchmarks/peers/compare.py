"""Runs `flint-bench models --json` and the peer benchmarks (PyTorch, scikit-learn) in one go and prints
one table: a row per (model, workload), a column per Flint device and per peer, and Flint's ratio to the
best peer. Arguments this script does not know are passed to flint-bench (e.g. --devices cpu, --models mlp).
Model by model, Flint and the peers run back to back (Flint first in odd rounds, last in even ones), so
that each ratio compares measurements taken minutes apart at most, on a machine whose speed drifts.
Compare ratios within one run, not absolute figures across runs: a shared machine is noisy."""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import EXIT_UNAVAILABLE, WORKLOADS, selected  # noqa: E402

PEERS = {"pytorch": "pytorch_bench.py", "sklearn": "sklearn_bench.py"}
# The models a peer has (others are not started for).
PEER_MODELS = {"sklearn": {"mlp"}}


def note(message):
    print(message, file=sys.stderr, flush=True)


def run(label, command, env=None):
    """JSON objects from the command's stdout lines (its stderr passes through as progress)."""
    note(f"== {label}: {' '.join(command)}")
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env, check=False)
    except OSError as error:
        note(f"   skipped {label}: {error}")
        return []
    if result.returncode == EXIT_UNAVAILABLE and label != "flint":
        note(f"   skipped {label}: its library is not installed")
        return []
    rows = []
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            note(f"   {label}: ignored a malformed line: {line[:120]}")
            continue
        if {"device", "model", "workload"} <= row.keys():
            rows.append(row)
    if result.returncode != 0:
        note(f"   {label} exited with status {result.returncode}; keeping its {len(rows)} line(s)")
    return rows


def models_option(passthrough):
    """The models a `--models a,b` (or `--models=a,b`) among flint-bench's arguments names, or None,
    and those arguments without it."""
    rest, models = [], None
    i = 0
    while i < len(passthrough):
        arg = passthrough[i]
        if arg == "--models" and i + 1 < len(passthrough):
            models, i = passthrough[i + 1], i + 2
            continue
        if arg.startswith("--models="):
            models = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return ([m.strip() for m in models.split(",") if m.strip()] if models is not None else None), rest


def peer_selection(spec, model):
    """The peers' --workloads for one model from the --workloads `spec`, or None for none of it."""
    pairs = selected(spec, WORKLOADS)
    workloads = [w for m, w in pairs if m == model]
    if not workloads:
        return None
    return model if len(workloads) == 3 else ",".join(f"{model}/{w}" for w in workloads)


def fmt_rate(value):
    return f"{value:,.0f}/s" if value >= 100 else f"{value:,.1f}/s"


def merged(rows_by_round):
    """One row whose samples/s and latency are the medians over the rounds that measured it."""
    rows = [r for r in rows_by_round if r is not None]
    if not rows:
        return None
    row = dict(rows[0])
    for field in ("samples_per_second", "latency_us"):
        values = [r[field] for r in rows if r.get(field) is not None]
        if values:
            row[field] = statistics.median(values)
    return row


def cell(row, workload):
    if row is None:
        return "-"
    if workload == "infer_b1" and row.get("latency_us") is not None:
        return f"{row['latency_us']:,.1f} µs"
    return fmt_rate(row["samples_per_second"]) if row.get("samples_per_second") is not None else "-"


def ratio(mine, peer_rows, workload):
    """Flint ÷ best peer as (value, best peer, "lat" or ""): samples/s (higher is better) or, for
    infer_b1, latency (lower is better); None where either side is missing."""
    if mine is None or not peer_rows:
        return None
    if workload == "infer_b1":
        candidates = [r for r in peer_rows if r.get("latency_us")]
        if mine.get("latency_us") and candidates:
            best = min(candidates, key=lambda r: r["latency_us"])
            return mine["latency_us"] / best["latency_us"], best["device"], " lat"
    candidates = [r for r in peer_rows if r.get("samples_per_second")]
    if not mine.get("samples_per_second") or not candidates:
        return None
    best = max(candidates, key=lambda r: r["samples_per_second"])
    return mine["samples_per_second"] / best["samples_per_second"], best["device"], ""


def median_ratio(ratios):
    """The median of one ratio per round, named after the peer that was best most often."""
    ratios = [r for r in ratios if r is not None]
    if not ratios:
        return "-"
    devices = [r[1] for r in ratios]
    best = max(devices, key=devices.count)
    return f"{statistics.median([r[0] for r in ratios]):.2f}×{ratios[0][2]} ({best})"


def peak_share(row, flops, peak):
    """The row's useful FLOP rate as a fraction of the measured fp32 peak, or None."""
    if row is None or not flops or not peak or not row.get("samples_per_second"):
        return None
    return row["samples_per_second"] * flops / peak


def render(rounds, flint_devices, peer_devices):
    """The table for one or more rounds (lists of rows): cells are medians over the rounds, and
    ratios and shares of peak the medians of each round's own (its peers, its peak)."""
    tables, peaks = [], []
    for rows in rounds:
        round_peaks = [r for r in rows if r["model"] == "peak"]
        # The divisor: flint-bench's FMA loop on every core (the first peak row), measured in this round.
        peaks.append((round_peaks[0]["peak_gflops"] * 1e9 if round_peaks and round_peaks[0].get("peak_gflops") else None,
                      round_peaks))
        table = {}
        for row in rows:  # the last line wins if a device reports a workload twice
            if row["model"] != "peak":
                table[(row["model"], row["workload"], row["device"])] = row
        tables.append(table)
    rows = [r for rows in rounds for r in rows if r["model"] != "peak"]
    measured_peak = any(p for p, _ in peaks)
    keys = [k for k in WORKLOADS if any(k == (r["model"], r["workload"]) for r in rows)]
    keys += sorted({(r["model"], r["workload"]) for r in rows} - set(keys))
    devices = flint_devices + peer_devices
    # Share of peak for the CPU columns: Flint's cpu and the peers (all run on this CPU), with the
    # useful FLOPs per sample that flint-bench states for the workload.
    share_devices = [d for d in devices if d == "cpu" or d in peer_devices] if measured_peak else []
    header = ["model", "workload"] + [f"flint {d}" for d in flint_devices] + peer_devices \
        + [f"flint {d} / best peer" for d in flint_devices] \
        + [f"{'flint ' + d if d in flint_devices else d} % peak" for d in share_devices]
    lines = []
    for model, workload in keys:
        line = [model, workload]
        line += [cell(merged([t.get((model, workload, d)) for t in tables]), workload) for d in devices]
        for d in flint_devices:
            line.append(median_ratio([ratio(t.get((model, workload, d)),
                                            [t[(model, workload, p)] for p in peer_devices if (model, workload, p) in t],
                                            workload) for t in tables]))
        flops = next((r.get("flops_per_sample") for r in rows
                      if (r["model"], r["workload"]) == (model, workload) and r.get("flops_per_sample")), None)
        for d in share_devices:
            shares = [peak_share(t.get((model, workload, d)), flops, peak) for t, (peak, _) in zip(tables, peaks)]
            shares = [x for x in shares if x is not None]
            line.append(f"{statistics.median(shares):.0%}" if shares else "-")
        lines.append(line)
    widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
    out = ["Ratio columns: train and infer_b256 = Flint samples/s ÷ best peer's (> 1: Flint faster);",
           "infer_b1 = Flint latency ÷ best peer's latency (“× lat”, < 1: Flint faster). Cells: samples/s, "
           "infer_b1: median latency."]
    if len(rounds) > 1:
        out.append(f"{len(rounds)} rounds, Flint and the peers in turn: cells are medians over the rounds; ratios and "
                   "shares of peak are the medians of each round's own.")
    for r, (_, round_peaks) in enumerate(peaks):
        label = f" (round {r + 1})" if len(rounds) > 1 else " in this run"
        for p in round_peaks:
            what = "FMA loop, the divisor of “% peak”" if p is round_peaks[0] else "OpenBLAS, for reference"
            out.append(f"fp32 peak measured{label}: {p['workload']}: {p['peak_gflops']:.1f} GFLOP/s ({what})")
    if measured_peak:
        out.append("% peak = samples/s × useful FLOPs per sample (Benchmarks/FlintBench/ModelKind.swift) ÷ that peak.")
    out.append("")
    for i, row in enumerate([header, ["-" * w for w in widths]] + lines):
        cells = [str(c).ljust(w) if j < 2 else str(c).rjust(w) for j, (c, w) in enumerate(zip(row, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flint-bench", default=".build/release/flint-bench", help="path to flint-bench")
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement (all benchmarks)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated peers to run ({', '.join(PEERS)})")
    parser.add_argument("--workloads", default="all", help="peer workload selection (see pytorch_bench.py --help)")
    parser.add_argument("--torch-device", default="cpu", choices=["cpu", "cuda"],
                        help="where PyTorch runs (cuda: beside Flint's OpenCL GPU, e.g. --devices opencl:0)")
    parser.add_argument("--no-flint", action="store_true", help="run the peers only")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run Flint and the peers in turn this many times and print medians (a noisy machine)")
    parser.add_argument("--json", action="store_true", help="print the merged JSON lines instead of the table")
    args, passthrough = parser.parse_known_args()
    if passthrough[:1] == ["--"]:
        passthrough = passthrough[1:]

    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    load_before = os.getloadavg()[0]
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    peers = []
    for name in [p.strip() for p in args.peers.split(",") if p.strip()]:
        if name in PEERS:
            peers.append(name)
        else:
            note(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    asked, flint_arguments = models_option(passthrough)
    models = [m for m in dict.fromkeys(m for m, _ in WORKLOADS)
              if (asked is None or m in asked) and peer_selection(args.workloads, m) is not None]
    rounds, flint_rows, peer_rows = [], [], []
    for r in range(args.rounds):
        if args.rounds > 1:
            note(f"== round {r + 1} of {args.rounds}")
        round_flint, round_peers = [], []
        for i, model in enumerate(models):
            # The peak once a round, with its first model.
            flint = [args.flint_bench, "models", "--json", "--seconds", str(args.seconds), "--models", model] \
                + ([] if i == 0 else ["--no-peak"]) + flint_arguments
            sides = [] if args.no_flint else [("flint", flint, None)]
            for name in [p for p in peers if model in PEER_MODELS.get(p, {model})]:
                command = [sys.executable, os.path.join(HERE, PEERS[name]), "--seconds", str(args.seconds),
                           "--workloads", peer_selection(args.workloads, model)]
                if name == "pytorch" and args.torch_device != "cpu":
                    command += ["--device", args.torch_device]
                sides.append((name, command, env))
            if r % 2 == 1:
                sides.reverse()
            for name, command, side_env in sides:
                rows = run(name, command, env=side_env)
                (round_flint if name == "flint" else round_peers).extend(rows)
        rounds.append(round_flint + round_peers)
        flint_rows += round_flint
        peer_rows += round_peers

    rows = flint_rows + peer_rows
    if args.json:
        for r, round_rows in enumerate(rounds):
            for row in round_rows:
                print(json.dumps(dict(row, round=r + 1) if args.rounds > 1 else row, sort_keys=True))
        return
    if not rows:
        note("no measurements: nothing to compare")
        sys.exit(1)

    def devices(rs):
        seen = []
        for r in rs:
            if r["device"] not in seen:
                seen.append(r["device"])
        return seen

    print(render(rounds, devices(flint_rows), devices(peer_rows)))
    cores = os.cpu_count() or 1
    load = max(load_before, os.getloadavg()[0])
    if load > cores + 1:
        print(f"\nWarning: load average reached {load:.1f} on {cores} cores: other processes competed for the CPUs. "
              "Figures are unreliable, PyTorch's (spinning OpenMP threads) most of all; rerun on an idle machine.")


if __name__ == "__main__":
    main()
