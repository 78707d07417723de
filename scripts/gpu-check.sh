#!/bin/sh
# One short run on a machine with an OpenCL GPU (make gpu-check): builds, runs the conformance
# suite, the GEMM tuning tests, the kernels' OpenCL C 1.2 check and the broken-program fallbacks on
# every OpenCL device, tunes the GPU's GEMM (printing each
# candidate's rate), then `flint-bench ops` (GFLOP/s and the share of the peak estimated from
# compute units x clock) and `flint-bench models` on the first OpenCL GPU.
#
# GPU_CHECK_DEVICE=opencl:N picks the device instead (with FLINT_OPENCL_PROFILE=gpu, a dry run of
# the GPU kernels on PoCL). GPU_CHECK_SECONDS is each benchmark row's time (default 0.5),
# GPU_CHECK_MATMUL_SIZES the square GEMM sizes (default 256,512,1024,2048,4096). A failing step
# does not stop the later ones (one short run should report everything); the exit status is 1
# when any step failed.
#
# GPU_CHECK_PREBUILT=folder runs release binaries built elsewhere (`flint` and `flint-bench` in
# that folder, e.g. built with --static-swift-stdlib) on a machine without Swift: no build, and
# `flint doctor` (every primitive against the CPU backend) stands in for the test suite. Where a
# PyTorch that sees a CUDA GPU is installed, its models run beside Flint's (compare.py
# --torch-device cuda); where GPU_CHECK_DATA names a folder holding mnist/, the MLP, CNN and LSTM
# train one epoch on the GPU and report their test accuracy.
set -eu
SWIFT=${SWIFT:-swift}
SECONDS_PER_ROW=${GPU_CHECK_SECONDS:-0.5}
PREBUILT=${GPU_CHECK_PREBUILT:-}
MATMUL_SIZES=${GPU_CHECK_MATMUL_SIZES:-256,512,1024,2048,4096}
failed=""
# step NAME COMMAND...: runs it, and remembers NAME if it fails.
step() {
    name=$1; shift
    "$@" || { echo "gpu-check: $name failed (status $?)" >&2; failed="$failed $name"; }
}

if [ -n "$PREBUILT" ]; then
    bin=$PREBUILT
else
    $SWIFT build -c release --product flint
    $SWIFT build -c release --product flint-bench
    $SWIFT build -Xcc -O2 --build-tests
    bin=.build/release
fi

device=${GPU_CHECK_DEVICE:-$("$bin/flint" devices --json | grep '"type":"GPU"' | head -n 1 | sed 's/.*"id":"\([^"]*\)".*/\1/')}
if [ -z "$device" ]; then
    echo "gpu-check: no OpenCL GPU found (flint devices lists:)" >&2
    "$bin/flint" devices >&2
    echo "Install the vendor's OpenCL driver (NVIDIA: the driver's libnvidia-opencl and ocl-icd), or set GPU_CHECK_DEVICE." >&2
    exit 1
fi
echo "== gpu-check on $device"
"$bin/flint" devices

if [ -n "$PREBUILT" ]; then
    echo "== flint doctor on $device (every primitive against the CPU backend)"
    step doctor "$bin/flint" doctor --devices "$device"
else
    echo "== conformance suite and GEMM configurations on every device"
    step tests env FLINT_REQUIRE_OPENCL=1 $SWIFT test -Xcc -O2 --skip-build --filter 'Conformance|TuningTests|GemmTests|KernelDialect|DeviceFaults'
fi

echo "== tuning $device (results cached for the runs below)"
step tune "$bin/flint" tune --devices "$device" --verbose
step tune-show "$bin/flint" tune --devices "$device" --show

echo "== flint-bench ops on $device"
step ops "$bin/flint-bench" ops --devices "$device" --seconds "$SECONDS_PER_ROW" --matmul-sizes "$MATMUL_SIZES"

if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "== flint-bench models on $device beside PyTorch on CUDA"
    step models python3 Benchmarks/peers/compare.py --flint-bench "$bin/flint-bench" --peers pytorch --torch-device cuda \
        --seconds "$SECONDS_PER_ROW" --devices "$device" --no-peak
else
    echo "== flint-bench models on $device"
    step models "$bin/flint-bench" models --devices "$device" --seconds "$SECONDS_PER_ROW"
fi

if [ -n "${GPU_CHECK_DATA:-}" ]; then
    for model in mlp cnn lstm; do
        echo "== flint train --model $model --epochs 1 on $device"
        step "train-$model" "$bin/flint" train --model "$model" --epochs 1 --device "$device" --data-dir "$GPU_CHECK_DATA" \
            --output "${TMPDIR:-/tmp}/flint-gpu-check-$model"
    done
fi

if [ -n "$failed" ]; then
    echo "gpu-check: failed steps:$failed" >&2
    exit 1
fi
echo "gpu-check: every step passed"
