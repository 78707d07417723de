import Flint
import Foundation
import Testing

/// Broken drivers and impossible requests: reported once, clearly, and the CPU keeps working.
/// Cases that change process-wide state (the OpenCL loader, the kernel sources) run in a child
/// process (Swift Testing exit tests).
@Suite struct DeviceFaults {
    static var hasOpenCL: Bool { !TestDevices.openCL.isEmpty }

    static func stderr(_ result: ExitTest.Result?) -> String {
        String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    }

    static func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    @Test func libraryThatIsNotOpenCLIsReportedOnceAndTheCPUWorks() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            // libz loads fine but has no OpenCL entry points; it used to crash even CPU-only runs.
            setenv("FLINT_OPENCL_LIBRARY", "libz.so.1", 1)
            precondition(Device.available == [.cpu], "expected only the CPU, got \(Device.available)")
            precondition(Device.available == [.cpu])
            precondition(try! Device.named("cpu") == .cpu)
            precondition((Tensor([1, 2], on: .cpu) * 3).toArray() == [3, 6])
            precondition((try? Device.named("opencl")) == nil)
        }
        let message = Self.stderr(result)
        #expect(Self.occurrences(of: "libz.so.1 is not an OpenCL loader", in: message) == 1, "\(message)")
        #expect(message.contains("the CPU backend still works"), "\(message)")
    }

    @Test func emptyLibraryVariableIsReportedOnce() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            setenv("FLINT_OPENCL_LIBRARY", "", 1)
            _ = Device.available
            _ = Device.available
            precondition((Tensor([1, 2], on: .cpu) + 1).toArray() == [2, 3])
        }
        let message = Self.stderr(result)
        #expect(Self.occurrences(of: "FLINT_OPENCL_LIBRARY is set but empty", in: message) == 1, "\(message)")
    }

    /// A kernels folder with conv.cl broken: the device opens, says so once, and its convolution
    /// and pooling (run on the CPU backend) give the CPU's results.
    @Test(.enabled(if: hasOpenCL, "needs an OpenCL device"))
    func brokenProgramFallsBackToTheCPU() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let kernels = try! DeviceFaults.kernelsWithBrokenConv()
            setenv("FLINT_KERNELS_DIR", kernels.path, 1)
            let gpu = try! Device.named("opencl")
            _ = try! Device.named("opencl")
            try? FileManager.default.removeItem(at: kernels)
            let x = Tensor.normal([2, 9, 9, 3], seed: 1, on: .cpu), w = Tensor.normal([3, 3, 3, 4], seed: 2, on: .cpu)
            let expected = x.conv2d(w, padding: .same).maxPool2d(size: (2, 2)).toArray()
            let actual = x.to(gpu).conv2d(w.to(gpu), padding: .same).maxPool2d(size: (2, 2)).toArray()
            precondition(zip(actual, expected).allSatisfy { Swift.abs($0 - $1) <= 1e-4 }, "fallback results differ from the CPU")
            precondition(gpu.diagnostics.unavailablePrimitives.contains(.im2col))
        }
        let message = Self.stderr(result)
        #expect(Self.occurrences(of: "some kernels failed to build", in: message) == 1, "\(message)")
        #expect(message.contains("conv.cl did not compile") && message.contains("im2col, col2im, maxPool2d, maxPool2dBackward")
                && message.contains("FLINT_STRICT_KERNELS=1"), "\(message)")
    }

    @Test(.enabled(if: hasOpenCL, "needs an OpenCL device"))
    func strictKernelsMakeABrokenProgramAnError() async {
        await #expect(processExitsWith: .success) {
            let kernels = try! DeviceFaults.kernelsWithBrokenConv()
            defer { try? FileManager.default.removeItem(at: kernels) }
            setenv("FLINT_KERNELS_DIR", kernels.path, 1)
            setenv("FLINT_STRICT_KERNELS", "1", 1)
            do {
                _ = try Device.named("opencl")
                preconditionFailure("a broken program must fail the device in strict mode")
            } catch {
                precondition("\(error)".contains("'conv' failed to build"), "unexpected error \(error)")
            }
        }
    }

    @Test func allocationsTooLargeForTheDeviceThrowWhenChecked() throws {
        for device in TestDevices.all {
            let limit = device.backend.maxAllocationBytes
            try device.checkAllocation(shape: [1000, 10])
            let tooMany = limit / 4 + 1
            #expect(throws: DeviceError.allocationTooLarge(device: "\(device) (\(device.info.name))", shape: [tooMany],
                                                           requested: tooMany * 4, limit: limit)) {
                try device.checkAllocation(shape: [tooMany])
            }
            #expect(throws: DeviceError.self) { try device.checkAllocation(shape: [Int.max / 2, 3]) }
        }
        let message = DeviceError.allocationTooLarge(device: "opencl:0 (x)", shape: [4], requested: 16, limit: 8).description
        #expect(message.contains("needs 16 bytes") && message.contains("at most 8 bytes"), "\(message)")
    }

    /// Creating the tensor anyway stops with a message saying what was asked and what fits.
    @Test(.enabled(if: hasOpenCL, "needs an OpenCL device"))
    func allocationTooLargeStopsWithBothSizes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let gpu = try! Device.named("opencl")
            _ = Tensor.zeros([gpu.backend.maxAllocationBytes / 4 + 1], on: gpu)
        }
        let message = Self.stderr(result)
        #expect(message.contains("bytes in one buffer") && message.contains("allows at most"), "\(message)")
    }

    /// A copy of the repository's kernels with a compile error appended to conv.cl.
    static func kernelsWithBrokenConv() throws -> URL {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Kernels").standardized
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-broken-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".cl") {
            var text = try String(contentsOf: source.appendingPathComponent(name), encoding: .utf8)
            if name == "conv.cl" { text += "\n__kernel void broken(__global float *x) { x[0] = undeclared_identifier; }\n" }
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return folder
    }
}
