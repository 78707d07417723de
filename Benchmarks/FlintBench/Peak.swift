import Flint
import Foundation

/// A device's fp32 peak estimated from what the driver reports: compute units × highest clock ×
/// FLOPs per compute unit per cycle. Drivers do not report the last factor, so it is assumed by
/// vendor and device type (one FMA counts as 2 FLOPs):
/// - NVIDIA GPU: 256 (a streaming multiprocessor of Ampere GA10x, Ada or Hopper: 128 FP32 lanes;
///   Volta, Turing and A100 have 64, i.e. 128 — set `FLINT_PEAK_FLOPS_PER_CU` there);
/// - AMD GPU: 128 (a GCN/CDNA/RDNA compute unit: 64 lanes; RDNA3's dual issue is not counted);
/// - Intel GPU: 16 (an execution unit: 8 lanes);
/// - CPU (PoCL: a compute unit is a hardware thread): 32 (two 8-wide FMA units, AVX2);
/// - anything else: 32.
/// `FLINT_PEAK_FLOPS_PER_CU` overrides the factor.
struct PeakEstimate {
    var gflops: Double
    var flopsPerUnitPerCycle: Int
    var assumption: String

    init?(_ info: DeviceInfo, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard info.kind == .opencl, info.computeUnits > 0, info.maxClockMHz > 0 else { return nil }
        let vendor = (info.platform + " " + info.name).lowercased()
        var factor: Int
        switch info.deviceType {
        case "GPU" where vendor.contains("nvidia"):
            (factor, assumption) = (256, "NVIDIA SM: 128 FP32 lanes x FMA")
        case "GPU" where vendor.contains("amd") || vendor.contains("radeon") || vendor.contains("advanced micro"):
            (factor, assumption) = (128, "AMD CU: 64 lanes x FMA")
        case "GPU" where vendor.contains("intel"):
            (factor, assumption) = (16, "Intel EU: 8 lanes x FMA")
        case "CPU":
            (factor, assumption) = (32, "CPU thread: 2 x 8-wide FMA (AVX2)")
        default:
            (factor, assumption) = (32, "unknown device: 16 lanes x FMA")
        }
        if let override = environment["FLINT_PEAK_FLOPS_PER_CU"].flatMap(Int.init), override > 0 {
            (factor, assumption) = (override, "FLINT_PEAK_FLOPS_PER_CU")
        }
        flopsPerUnitPerCycle = factor
        gflops = Double(info.computeUnits) * Double(info.maxClockMHz) * Double(factor) / 1000
    }

    /// `opencl:0: peak ≈ 66.9 TFLOP/s (132 CU × 1980 MHz × 256 FLOPs/cycle: NVIDIA SM …)`.
    func line(_ info: DeviceInfo) -> String {
        String(format: "%@: fp32 peak ≈ %.0f GFLOP/s (%d CU × %d MHz × %d FLOPs/cycle per CU, assumed: %@)",
               info.identifier, gflops, info.computeUnits, info.maxClockMHz, flopsPerUnitPerCycle, assumption)
    }
}
