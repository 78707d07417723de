import FlintBackend
@testable import FlintOpenCL
import Foundation
import Testing

/// Every kernel source, with the `-D` options of both device families and of every GEMM
/// candidate, read as strict OpenCL C 1.2 by the toolchain's clang (`-pedantic -Werror`).
/// PoCL's clang accepts extensions that other drivers refuse: NVIDIA's compiler rejected
/// elementwise.cl's variadic macros on a real GPU while every PoCL test passed.
@Suite("OpenCL C 1.2 dialect of the kernels")
struct KernelDialectTests {
    /// clang from PATH, else beside `swift` (every Swift toolchain ships one: SwiftPM compiles
    /// the package's C targets with it).
    static let clang: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("clang")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()

    static func tuning(gpu: Bool) -> Tuning {
        let info = DeviceInfo(kind: .opencl, index: 0, name: gpu ? "some GPU" : "some CPU", platform: "test",
                              deviceType: gpu ? "GPU" : "CPU", computeUnits: 8, memoryBytes: 1 << 30, driverVersion: "1")
        return Tuning(info: info, maxWorkGroupSize: gpu ? 1024 : 4096, nativeFloatWidth: 8)
    }

    /// (program, options) pairs a device may build: each program with both families' options,
    /// the gemm program once per configuration either family's search may time.
    static var builds: [(program: String, options: String)] {
        var all: [(String, String)] = []
        for gpu in [false, true] {
            let tuning = tuning(gpu: gpu)
            for program in OpenCLBackend.programNames where program != "gemm" {
                all.append((program, tuning.options(for: program)))
            }
            let configs = [tuning.gemmStandard] + GemmConfig.searchSpace(cpu: !gpu, nativeWidth: 8)
            for config in Set(configs) { all.append(("gemm", tuning.options(for: "gemm", gemm: config))) }
        }
        return all
    }

    /// clang's exit status and messages for `file` read as strict OpenCL C 1.2.
    static func check(_ file: URL, defines: [String]) throws -> (status: Int32, output: String) {
        let compiler: URL = try #require(clang)
        let process = Process()
        process.executableURL = compiler
        process.arguments = ["-x", "cl", "-cl-std=CL1.2", "-Xclang", "-finclude-default-header", "-fsyntax-only",
                             "-pedantic", "-Werror", "-Wall"] + defines + [file.path]
        let messages = Pipe()
        process.standardError = messages
        process.standardOutput = messages
        try process.run()
        let output = String(decoding: messages.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test("every kernel compiles as strict OpenCL C 1.2 with every option set",
          .enabled(if: clang != nil, "no clang on PATH (every Swift toolchain has one)"))
    func strictOpenCL12() throws {
        for (program, options) in Self.builds {
            // -cl-std and -cl-denorms-are-zero are the driver's build options; the -D values matter here.
            let defines = options.split(separator: " ").map(String.init).filter { $0.hasPrefix("-D") }
            let (status, output) = try Self.check(TestDevice.kernelsFolder.appendingPathComponent("\(program).cl"), defines: defines)
            #expect(status == 0, "\(program).cl with \(defines.joined(separator: " ")):\n\(output)")
        }
    }

    @Test("the check sees a variadic macro (what NVIDIA's compiler refused)",
          .enabled(if: clang != nil, "no clang on PATH (every Swift toolchain has one)"))
    func variadicMacroIsRefused() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flint-variadic-\(UUID().uuidString).cl")
        defer { try? FileManager.default.removeItem(at: file) }
        try "#define BODY(...) __VA_ARGS__\n__kernel void k(__global float *x) { BODY(x[0] = 1.0f;) }\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let (status, output) = try Self.check(file, defines: [])
        #expect(status != 0 && output.contains("variadic"), "\(output)")
    }
}
