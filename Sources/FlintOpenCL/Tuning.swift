import FlintBackend
import Foundation

/// Per-device tunables: work-group sizes and the `-D` values each kernel family is built with.
/// Chosen by device type from measurements on PoCL (CPU); the GPU values are conservative.
struct Tuning {
    /// Work-group size of every 1-D kernel.
    var localSize: Int
    /// Elements each work-item of a `*_linear` kernel handles (contiguous on CPUs).
    var elementsPerItem: Int
    /// Copies whose innermost dimension is strided go tile by tile (CPU caches).
    var tiledCopy: Bool
    /// Side of a tile of `copy_tiled`.
    var copyTile: Int
    /// Work-items a reduction should spread over before it splits the axis into partials.
    var reductionParallelism: Int
    /// Fewest elements one partial of a split reduction should cover.
    var minimumChunk: Int
    /// Partials cover contiguous runs of the axis (CPU) rather than interleaved rows (GPU).
    var chunkedReduction: Bool
    /// Reductions with inner >= `reduceVectorWidth` take vectors of neighbouring columns (CPU).
    var columnReduction: Bool
    /// Columns per work-item of those reductions (2, 4, 8 or 16).
    var reduceVectorWidth: Int
    /// Reductions and softmax over contiguous rows at least `rowGroupMinimum` long take one
    /// work-group per row (`*_rows` kernels, GPUs) instead of one work-item.
    var rowGroups: Bool
    /// Work-items of those groups (a power of two).
    var rowGroupSize: Int
    var rowGroupMinimum: Int
    /// `cpu` or `gpu`: the kernel family in use (`FLINT_OPENCL_PROFILE`, else the device type).
    var profile: String
    /// Float vector width of the register GEMM and the CPU-shaped kernels (2, 4, 8 or 16).
    var gemmVectorWidth: Int
    /// The GEMM configuration before (or without) tuning; the `gemm` program is built with it.
    var gemmStandard: GemmConfig
    /// Work-groups that occupy the device: a product whose C has at most half as many (by the
    /// standard configuration) and a long k is split along k (`Gemm.swift`).
    var splitKGroups: Int
    /// Fewest elements of k one part of a split product covers.
    var splitKChunk: Int
    /// Below this many rows of C, a column-major B is read in place by `gemm_bt` (dot products)
    /// instead of being copied to row-major for `gemm`.
    var gemmColumnMajorBRows: Int
    /// Side of the block of C each `gemm_bt` work-item computes.
    var gemmDotBlock: Int
    /// Work-group shape of the 2-D kernels (GEMM, tiled copy).
    var local2D: (Int, Int)
    /// Philox blocks per work-item of the random kernels (a vector width: 1, 2, 4, 8 or 16).
    var randomBlocks: Int
    /// im2col / col2im work-items move runs of channels (CPU) rather than single elements (GPU).
    var convolutionRuns: Bool

    /// - Parameter profile: "cpu" or "gpu" to force a device family's settings (the environment
    ///   variable `FLINT_OPENCL_PROFILE`, for testing the GPU code paths on a CPU device); nil
    ///   picks by device type.
    init(info: DeviceInfo, maxWorkGroupSize: Int, nativeFloatWidth: Int, profile requested: String? = nil) {
        let isCPU = requested.map { $0 == "cpu" } ?? (info.deviceType == "CPU")
        localSize = min(256, max(1, maxWorkGroupSize))
        elementsPerItem = isCPU ? 64 : 1
        tiledCopy = isCPU
        copyTile = 16
        let units = max(1, info.computeUnits)
        reductionParallelism = isCPU ? units * 1024 : units * 4096
        minimumChunk = isCPU ? 256 : 64
        chunkedReduction = isCPU
        self.profile = isCPU ? "cpu" : "gpu"
        gemmVectorWidth = GemmConfig.vectorWidth(isCPU ? nativeFloatWidth : 4)
        gemmStandard = GemmConfig.standard(cpu: isCPU, nativeWidth: nativeFloatWidth)
        splitKGroups = isCPU ? units * 4 : units * 2
        splitKChunk = isCPU ? 1024 : 256
        gemmColumnMajorBRows = 16
        gemmDotBlock = 4
        local2D = maxWorkGroupSize >= 64 ? (8, 8) : (4, 4)
        randomBlocks = isCPU ? gemmVectorWidth : 1
        columnReduction = isCPU
        rowGroups = !isCPU
        rowGroupSize = [32, 64, 128].last { $0 <= maxWorkGroupSize } ?? 1
        rowGroupMinimum = 32
        reduceVectorWidth = gemmVectorWidth
        convolutionRuns = isCPU
    }

    /// `-D` options per program.
    func options(for program: String) -> String {
        var options = "-cl-std=CL1.2 -cl-denorms-are-zero"
        switch program {
        case "elementwise":
            options += " -DELEMS_PER_ITEM=\(elementsPerItem) -DCOPY_TILE=\(copyTile)"
        case "reduce":
            options += " -DREDUCE_CHUNKED=\(chunkedReduction ? 1 : 0) -DREDUCE_VW=\(reduceVectorWidth) -DREDUCE_WG=\(rowGroupSize)"
        case "gemm":
            options += " -DGEMM_BT_TM=\(gemmDotBlock) -DGEMM_BT_TN=\(gemmDotBlock)"
        case "random":
            options += " -DRANDOM_BLOCKS=\(randomBlocks)"
        case "conv":
            options += " -DCONV_RUNS=\(convolutionRuns ? 1 : 0)"
        case "optim":
            options += " -DELEMS_PER_ITEM=\(elementsPerItem)"
        default:
            break
        }
        return options
    }

    /// The `gemm` program's options for one configuration: the shared ones and its `-D` values.
    func options(for program: String, gemm config: GemmConfig) -> String {
        options(for: program) + " " + config.options
    }
}
