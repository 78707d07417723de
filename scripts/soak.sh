#!/usr/bin/env bash
# make soak: trains for SOAK_SECONDS (default 3600) and samples the process's resident memory
# every SOAK_INTERVAL seconds (default 1). The RSS at the end of the first epoch is the
# baseline (every pool and cache is warm by then); the run fails if the RSS at the end of any
# later epoch exceeds it by more than SOAK_TOLERANCE percent (default 5). The samples are kept
# in .build/soak/rss.tsv (seconds, epochs finished, RSS in KiB) and the training log beside it.
#
# SOAK_MODEL (mlp), SOAK_DATASET (mnist), SOAK_DEVICE (flint's default) and SOAK_ARGS (extra
# `flint train` options) choose the run; datasets are found as `flint train` finds them
# (FLINT_DATA_DIR, /usr/share/datasets, ~/.cache/flint/datasets).
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
duration=${SOAK_SECONDS:-3600}
interval=${SOAK_INTERVAL:-1}
tolerance=${SOAK_TOLERANCE:-5}
model=${SOAK_MODEL:-mlp}
dataset=${SOAK_DATASET:-mnist}
out=.build/soak
mkdir -p "$out"

$SWIFT build -c release --product flint || exit 1
args=(train --model "$model" --dataset "$dataset" --epochs 1000000 --output "$out/output")
[ -n "${SOAK_DEVICE:-}" ] && args+=(--device "$SOAK_DEVICE")
# shellcheck disable=SC2206
[ -n "${SOAK_ARGS:-}" ] && args+=($SOAK_ARGS)

echo "Soak: flint ${args[*]} for ${duration} s, RSS every ${interval} s (log: $out/train.log)"
.build/release/flint "${args[@]}" >"$out/train.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null' EXIT

start=$(date +%s)
printf 'seconds\tepochs\trss_kib\n' >"$out/rss.tsv"
baseline="" last_epochs=0 worst=0 worst_epoch=0 peak=0 epoch_ends=()
while kill -0 "$pid" 2>/dev/null; do
    now=$(( $(date +%s) - start ))
    [ "$now" -ge "$duration" ] && break
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
    [ -z "$rss" ] && break
    epochs=$(grep -c '^Epoch [0-9]*/[0-9]* - ' "$out/train.log")
    printf '%s\t%s\t%s\n' "$now" "$epochs" "$rss" >>"$out/rss.tsv"
    [ "$rss" -gt "$peak" ] && peak=$rss
    if [ "$epochs" -gt "$last_epochs" ]; then
        # The first sample after an epoch's line: the memory that epoch left behind.
        if [ -z "$baseline" ]; then
            baseline=$rss
            echo "  epoch 1 done at ${now} s: baseline RSS $((rss / 1024)) MiB"
        fi
        epoch_ends+=("$rss")
        if [ "$rss" -gt "$worst" ]; then worst=$rss; worst_epoch=$epochs; fi
        last_epochs=$epochs
    fi
    sleep "$interval"
done

if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    echo "FAILED: flint stopped by itself after $(( $(date +%s) - start )) s (exit $?); the end of $out/train.log:"
    tail -5 "$out/train.log"
    exit 1
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
trap - EXIT

if [ -z "$baseline" ] || [ "${#epoch_ends[@]}" -lt 2 ]; then
    echo "FAILED: fewer than two epochs in ${duration} s; raise SOAK_SECONDS"
    exit 1
fi
final=${epoch_ends[-1]}
growth() { awk -v a="$1" -v b="$baseline" 'BEGIN { printf "%+.2f", (a - b) * 100 / b }'; }
echo "Soak: ${last_epochs} epochs in ${duration} s. RSS at the end of epoch 1 $((baseline / 1024)) MiB;" \
     "last epoch $((final / 1024)) MiB ($(growth "$final")%); highest epoch end $((worst / 1024)) MiB at epoch ${worst_epoch}" \
     "($(growth "$worst")%); peak sample $((peak / 1024)) MiB"
if awk -v w="$worst" -v b="$baseline" -v t="$tolerance" 'BEGIN { exit !(w > b * (1 + t / 100)) }'; then
    echo "FAILED: memory grew more than ${tolerance}% after the first epoch (samples in $out/rss.tsv)"
    exit 1
fi
echo "OK: within ${tolerance}% of the first epoch's"
