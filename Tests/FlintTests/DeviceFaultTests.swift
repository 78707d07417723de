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

    /// Any one program broken (as elementwise.cl was by NVIDIA's compiler): a workload touching
    /// every primitive, forward and backward, still runs on the device and gives the CPU's
    /// results. A primitive that launches another program's kernels (GEMM copies column-major
    /// operands with elementwise's copy) must fall back with that program too. One child process
    /// per program, which learns its program from the environment.
    @Test(.enabled(if: hasOpenCL, "needs an OpenCL device"))
    func anyBrokenProgramFallsBackToTheCPU() async {
        let programs = (try? FileManager.default.contentsOfDirectory(atPath: Self.kernelsFolder.path)) ?? []
        let names = programs.filter { $0.hasSuffix(".cl") }.map { String($0.dropLast(3)) }.sorted()
        #expect(names.count >= 8, "Kernels/ lists \(names)")
        for program in names {
            setenv("FLINT_TEST_BROKEN_PROGRAM", program, 1)
            let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
                let program = ProcessInfo.processInfo.environment["FLINT_TEST_BROKEN_PROGRAM"]!
                let kernels = try! DeviceFaults.kernels(breaking: program)
                setenv("FLINT_KERNELS_DIR", kernels.path, 1)
                let gpu = try! Device.named("opencl")
                try? FileManager.default.removeItem(at: kernels)
                precondition(!gpu.diagnostics.unavailablePrimitives.isEmpty, "\(program): nothing listed as unavailable")
                let expected = DeviceFaults.workload(on: .cpu), actual = DeviceFaults.workload(on: gpu)
                precondition(expected.count == actual.count)
                for (a, e) in zip(actual, expected) {
                    precondition(Swift.abs(a - e) <= 1e-3 * Swift.max(1, Swift.abs(e)), "\(program): \(a) on the device vs \(e) on the CPU")
                }
                precondition(Tensor.uniform([1000], seed: 7, on: gpu).toArray().allSatisfy { $0 >= 0 && $0 < 1 })
            }
            let message = Self.stderr(result)
            #expect(message.contains("\(program).cl did not compile"), "\(message)")
        }
        unsetenv("FLINT_TEST_BROKEN_PROGRAM")
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

    /// Every primitive, forward and backward: convolution, pooling, products (one with a
    /// column-major operand), an LSTM cell, softmax, gather, reductions, argmax and an Adam step.
    static func workload(on device: Device) -> [Float] {
        let x = Tensor.normal([2, 6, 6, 2], seed: 1, on: device).requiringGrad()
        let w = Tensor.normal([3, 3, 2, 3], seed: 2, on: device).requiringGrad()
        let features = x.conv2d(w, padding: .same).maxPool2d(size: (2, 2)).reshaped(to: [2, 27]).relu()
        let dense = Tensor.normal([4, 27], seed: 3, on: device).requiringGrad()
        let logits = features.matmul(dense, transposeOther: true)  // column-major B: a copy first
        let gates = Tensor.normal([2, 16], seed: 4, on: device)
        let cell = Tensor.lstmCell(input: gates, recurrent: logits.matmul(Tensor.normal([4, 16], seed: 5, on: device)),
                                   cell: Tensor.normal([2, 4], seed: 6, on: device))
        let picked = cell.gather(axis: 1, indices: Tensor(int32: [0, 3], shape: [2, 1], on: device))
        let loss = cell.logSoftmax().sum() + picked.sum() + logits.softmax().max()
        loss.backward()
        let step = AdamStep(learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, correction1: 0.1,
                            correction2: 0.001, l2: 0, decoupledDecay: 0)
        let updated = Tensor.adamStep(step, parameter: dense, gradient: dense.grad!, m: nil, v: nil).parameter
        return [loss.item()] + x.grad!.toArray() + w.grad!.toArray() + updated.toArray()
            + logits.argmax(axis: 1).toInt32Array().map(Float.init)
    }

    static func kernelsWithBrokenConv() throws -> URL { try kernels(breaking: "conv") }

    /// The repository's `Kernels` folder.
    static let kernelsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Kernels").standardized

    /// A copy of the repository's kernels with a compile error appended to `program`.cl.
    static func kernels(breaking program: String) throws -> URL {
        let source = kernelsFolder
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-broken-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".cl") {
            var text = try String(contentsOf: source.appendingPathComponent(name), encoding: .utf8)
            if name == "\(program).cl" { text += "\n__kernel void broken(__global float *x) { x[0] = undeclared_identifier; }\n" }
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return folder
    }
}
