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
        .target(name: "FlintCPU", dependencies: ["FlintBackend", "CBLAS", "CFloatMode"]),
        .target(
            name: "FlintOpenCL",
            dependencies: ["FlintBackend", "COpenCL"],
            plugins: ["EmbedKernels"]
        ),

        // Kernels/*.cl are compiled into FlintOpenCL as string constants by this plugin,
        // so an installed or moved binary still finds them.
        .executableTarget(name: "KernelEmbedder"),
        .plugin(name: "EmbedKernels", capability: .buildTool(), dependencies: ["KernelEmbedder"]),

        // Tensors, devices and ops, on top of whichever backend a device selects.
        .target(name: "FlintCore", dependencies: ["FlintBackend", "FlintCPU", "FlintOpenCL"]),
        // Datasets on the host: IDX (MNIST family, gzip handled), search paths, errors.
        .target(name: "FlintData", dependencies: ["CZlib"]),
        // Layers, losses, optimizers and the Keras-style training loop.
        .target(name: "FlintNN", dependencies: ["FlintCore", "FlintData"]),
        .target(name: "Flint", dependencies: ["FlintCore", "FlintBackend", "FlintData", "FlintNN"]),

        .executableTarget(
            name: "FlintCLI",
            dependencies: ["Flint", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "FlintBench",
            dependencies: ["Flint", "CBLAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/FlintBench"
        ),

        .testTarget(name: "FlintCPUTests", dependencies: ["FlintCPU", "FlintBackend"]),
        .testTarget(name: "FlintOpenCLTests", dependencies: ["FlintOpenCL", "FlintBackend"]),
        .testTarget(name: "FlintTests", dependencies: ["Flint"]),
        .testTarget(name: "FlintDataTests", dependencies: ["FlintData"]),
        .testTarget(name: "FlintNNTests", dependencies: ["Flint"]),
    ],
    swiftLanguageModes: [.v6]
)
