// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Flint",
    products: [
        .library(name: "Flint", targets: ["Flint"]),
        .library(name: "FlintCore", targets: ["FlintCore"]),
        .library(name: "FlintBackend", targets: ["FlintBackend"]),
        // The file readers on their own (the fuzzing package in Fuzz/ builds on them).
        .library(name: "FlintData", targets: ["FlintData"]),
        .executable(name: "flint", targets: ["FlintCLI"]),
        .executable(name: "flint-bench", targets: ["FlintBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (make docs); used by no target.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System libraries: the OpenCL ICD loader and OpenBLAS.
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),

        // The Backend protocol and the primitive descriptors every backend implements.
        .target(name: "FlintBackend"),
        // Flush-to-zero for the CPU backend's threads (see its header).
        .target(name: "CFloatMode"),
        // Exponential-heavy row loops compiled for AVX2 and the baseline, picked at load time.
        .target(name: "CVectorMath"),
        // FlintCPU's own AVX2 matrix product (see its header; unoptimised builds use OpenBLAS).
        .target(name: "CGemm"),
        // The CPU backend's worker threads (spin briefly between jobs, then sleep).
        .target(name: "CWorkers"),
        .target(name: "FlintCPU", dependencies: ["FlintBackend", "CBLAS", "CFloatMode", "CVectorMath", "CGemm", "CWorkers"]),
        .target(
            name: "FlintOpenCL",
            dependencies: ["FlintBackend", "COpenCL"],
            plugins: ["EmbedKernels"]
        ),

        // Kernels/*.cl are compiled into FlintOpenCL as string constants by this plugin,
        // so an installed or moved binary still finds them.
        .executableTarget(name: "KernelEmbedder"),
        .plugin(name: "EmbedKernels", capability: .buildTool(), dependencies: ["KernelEmbedder"]),

        // Tensors, devices and ops on any registered backend; knows no concrete backend.
        .target(name: "FlintCore", dependencies: ["FlintBackend"]),
        // Datasets on the host: IDX (MNIST family, gzip handled), search paths, errors.
        .target(name: "FlintData", dependencies: ["CZlib", "FlintBackend"]),
        // Process groups over MPI (Open MPI opened at run time; a world of one without it).
        .target(name: "FlintDistributed", dependencies: ["FlintCore"]),
        // Layers, losses, optimizers and the Keras-style training loop.
        .target(name: "FlintNN", dependencies: ["FlintCore", "FlintData", "FlintDistributed"]),
        // The umbrella: re-exports the library and lists the backends that come with it (CPU, OpenCL).
        .target(name: "Flint", dependencies: ["FlintCore", "FlintBackend", "FlintCPU", "FlintOpenCL", "FlintData", "FlintNN",
                                              "FlintDistributed"]),

        .executableTarget(
            name: "FlintCLI",
            dependencies: ["Flint", "FlintCore", "FlintNN", "FlintData", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "FlintBench",
            dependencies: ["Flint", "FlintCore", "FlintNN", "FlintData", "CBLAS", "CPeakFlops",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/FlintBench"
        ),
        // The CPU's fp32 peak for flint-bench's share-of-peak figures: an FMA loop per core.
        .target(name: "CPeakFlops", path: "Benchmarks/CPeakFlops"),

        // Writes checkpoints until killed; the crash-safety test kills it at random moments.
        .executableTarget(name: "flint-checkpoint-stress", dependencies: ["Flint", "FlintNN", "FlintCore"],
                          path: "Tests/CheckpointStress"),

        // Runs under mpirun for the distributed tests.
        .executableTarget(name: "flint-distributed-check", dependencies: ["Flint", "FlintNN", "FlintCore", "FlintDistributed"],
                          path: "Tests/DistributedCheck"),

        // The primitive-level conformance suite, written against `any Backend`: every test target
        // that has a backend runs its checks (FlintTests on every registered device,
        // ReferenceBackendTests on a plain-Swift backend that FlintCore does not know).
        .target(name: "BackendConformance", dependencies: ["FlintBackend"], path: "Tests/BackendConformance"),
        .testTarget(name: "ReferenceBackendTests", dependencies: ["FlintCore", "BackendConformance"]),
        .testTarget(name: "FlintCPUTests", dependencies: ["FlintCPU", "FlintBackend"]),
        .testTarget(name: "FlintOpenCLTests", dependencies: ["FlintOpenCL", "FlintBackend"]),
        // Targets that import the umbrella also list the modules it re-exports: SwiftPM's
        // incremental build does not see changes through an @_exported import otherwise.
        .testTarget(name: "FlintTests", dependencies: ["Flint", "FlintCore", "FlintNN", "BackendConformance"]),
        .testTarget(name: "FlintDataTests", dependencies: ["FlintData"]),
        .testTarget(name: "FlintNNTests", dependencies: ["Flint", "FlintCore", "FlintNN", "FlintData"]),
        // User-defined activation, metric, initializer, schedule, loss, optimizer and callback,
        // written against the public `Flint` module only.
        .testTarget(name: "FlintExtensionTests", dependencies: ["Flint", "FlintCore", "FlintNN"]),
    ],
    swiftLanguageModes: [.v6]
)
