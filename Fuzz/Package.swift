// swift-tools-version: 6.0
// libFuzzer targets for Flint's file readers. Not part of the main build: `make fuzz` builds
// this package with `-sanitize=fuzzer,address` into .build-fuzz and runs each target on its
// seed corpus in Corpus/ for FUZZ_SECONDS.
import PackageDescription

let package = Package(
    name: "FlintFuzz",
    dependencies: [.package(name: "Flint", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzIDX", dependencies: ["FuzzSupport", .product(name: "FlintData", package: "Flint")]),
        .executableTarget(name: "FuzzGzip", dependencies: ["FuzzSupport", .product(name: "FlintData", package: "Flint")]),
        .executableTarget(name: "FuzzCSV", dependencies: ["FuzzSupport", .product(name: "FlintData", package: "Flint")]),
        .executableTarget(name: "FuzzIDXFile", dependencies: ["FuzzSupport", .product(name: "FlintData", package: "Flint")]),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["FuzzSupport", .product(name: "FlintData", package: "Flint")]),
    ],
    swiftLanguageModes: [.v6]
)
