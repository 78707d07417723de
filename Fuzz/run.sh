#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets (with AddressSanitizer) into .build-fuzz and runs each
# reader for FUZZ_SECONDS (default 60), starting from the committed seeds in Fuzz/Corpus and
# the inputs earlier runs found (.build-fuzz/corpus). FUZZ_RUNS=N also stops a reader after N
# executions; FUZZ_READERS picks readers. Prints executions and crashes per reader
# and fails if any reader crashed; a crashing input is kept in .build-fuzz/artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
SECONDS_EACH=${FUZZ_SECONDS:-60}
READERS=${FUZZ_READERS:-"idx idxfile gzip csv safetensors"}
# Allocation stacks of depth 2 and a small quarantine: several times more executions per second,
# and a crash found this way is rerun with full reports (the command is printed).
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=2:quarantine_size_mb=16}

# lld: gold fails on the sanitized debug info of the kernel-embedding build tool.
$SWIFT build --package-path Fuzz --scratch-path .build-fuzz -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld || exit 1

status=0
summary=()
for reader in $READERS; do
    case $reader in
        idx) target=FuzzIDX ;; idxfile) target=FuzzIDXFile ;; gzip) target=FuzzGzip ;; csv) target=FuzzCSV ;;
        safetensors) target=FuzzSafeTensors ;;
        *) echo "unknown reader '$reader' (idx, idxfile, gzip, csv, safetensors)"; exit 2 ;;
    esac
    mkdir -p ".build-fuzz/corpus/$reader" .build-fuzz/artifacts
    log=".build-fuzz/$reader.log"
    echo "== $target for ${SECONDS_EACH} s (log: $log)"
    ".build-fuzz/release/$target" ".build-fuzz/corpus/$reader" "Fuzz/Corpus/$reader" \
        -max_total_time="$SECONDS_EACH" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -print_final_stats=1 -artifact_prefix=".build-fuzz/artifacts/$reader-" >"$log" 2>&1
    code=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(ls ".build-fuzz/corpus/$reader" | wc -l)
    if [ $code -eq 0 ]; then
        crashes=0
    else
        crashes=1
        status=1
        artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
        echo "   CRASH (exit $code): $(grep -m1 -E 'ERROR|Fatal error|panic' "$log")"
        echo "   reproduce: ASAN_OPTIONS= .build-fuzz/release/$target $artifact"
    fi
    summary+=("$(printf '%-5s %12s executions  %8s exec/s  %5s corpus inputs  %s crashes' "$reader" "${runs:-?}" "${rate:-?}" "$corpus" "$crashes")")
done
echo
printf '%s\n' "${summary[@]}"
exit $status
