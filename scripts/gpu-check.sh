#!/bin/sh
# One short run on a machine with an OpenCL GPU (make gpu-check): builds, runs the conformance
# suite and the GEMM tuning tests on every OpenCL device, tunes the GPU's GEMM (printing each
# candidate's rate), then `flint-bench ops` (GFLOP/s and the share of the peak estimated from
# compute units x clock) and `flint-bench models` on the first OpenCL GPU.
#
# GPU_CHECK_DEVICE=opencl:N picks the device instead (with FLINT_OPENCL_PROFILE=gpu, a dry run of
# the GPU kernels on PoCL). GPU_CHECK_SECONDS is each benchmark row's time (default 0.5).
set -eu
SWIFT=${SWIFT:-swift}
SECONDS_PER_ROW=${GPU_CHECK_SECONDS:-0.5}

$SWIFT build -c release --product flint
$SWIFT build -c release --product flint-bench
$SWIFT build --build-tests

device=${GPU_CHECK_DEVICE:-$(.build/release/flint devices --json | grep '"type":"GPU"' | head -n 1 | sed 's/.*"id":"\([^"]*\)".*/\1/')}
if [ -z "$device" ]; then
    echo "gpu-check: no OpenCL GPU found (flint devices lists:)" >&2
    .build/release/flint devices >&2
    echo "Install the vendor's OpenCL driver (NVIDIA: the driver's libnvidia-opencl and ocl-icd), or set GPU_CHECK_DEVICE." >&2
    exit 1
fi
echo "== gpu-check on $device"
.build/release/flint devices

echo "== conformance suite and GEMM configurations on every device"
FLINT_REQUIRE_OPENCL=1 $SWIFT test --skip-build --filter 'Conformance|TuningTests|GemmTests'

echo "== tuning $device (results cached for the runs below)"
.build/release/flint tune --devices "$device" --verbose

echo "== flint-bench ops on $device"
.build/release/flint-bench ops --devices "$device" --seconds "$SECONDS_PER_ROW"

echo "== flint-bench models on $device"
.build/release/flint-bench models --devices "$device" --seconds "$SECONDS_PER_ROW"
