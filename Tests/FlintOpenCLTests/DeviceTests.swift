import FlintBackend
import FlintOpenCL
import Foundation
import Testing

@Suite("OpenCL discovery, errors and memory", .enabled(if: TestDevice.available || TestDevice.required, openCLSkipReason))
struct DeviceTests {
    @Test("discovery lists sane devices, PoCL among them when installed")
    func discovery() throws {
        let devices = OpenCLBackend.devices()
        #expect(!devices.isEmpty)
        for (position, device) in devices.enumerated() {
            #expect(device.kind == .opencl)
            #expect(device.index == position)
            #expect(!device.name.isEmpty && device.name == device.name.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(!device.platform.isEmpty)
            #expect(["CPU", "GPU", "Accelerator", "Other"].contains(device.deviceType))
            #expect(device.computeUnits > 0)
            #expect(device.memoryBytes > 0)
            #expect(!device.driverVersion.isEmpty)
        }
        #expect(OpenCLBackend.devices() == devices, "order must be stable")
        if let pocl = devices.first(where: { $0.platform.contains("Portable Computing Language") }) {
            #expect(pocl.deviceType == "CPU")
        }
        let backend = try TestDevice.backend()
        #expect(backend.info == devices[0])
    }

    @Test("a device index past the end is a typed error")
    func noSuchDevice() {
        let count = OpenCLBackend.devices().count
        #expect(throws: OpenCLError.noSuchDevice(index: count, available: count)) {
            _ = try OpenCLBackend(deviceIndex: count)
        }
        #expect(throws: OpenCLError.noSuchDevice(index: -1, available: count)) {
            _ = try OpenCLBackend(deviceIndex: -1)
        }
        #expect(OpenCLError.noSuchDevice(index: 3, available: 1).description.contains("opencl:0"))
    }

    /// A copy of the repository's kernels (plain files) in a fresh temporary folder.
    func kernelsCopy() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-kernels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let files = try FileManager.default.contentsOfDirectory(at: TestDevice.kernelsFolder, includingPropertiesForKeys: nil)
        for file in files where file.pathExtension == "cl" {
            let text = try String(contentsOf: file, encoding: .utf8)
            try text.write(to: folder.appendingPathComponent(file.lastPathComponent), atomically: true, encoding: .utf8)
        }
        return folder
    }

    /// Appends a kernel with a compile error to `program`.cl in `folder`.
    func breakProgram(_ program: String, in folder: URL) throws {
        let file = folder.appendingPathComponent("\(program).cl")
        var source = try String(contentsOf: file, encoding: .utf8)
        source += "\n__kernel void broken(__global float *x) { x[0] = flint_undeclared_identifier; }\n"
        try source.write(to: file, atomically: true, encoding: .utf8)
    }

    @Test("in strict mode a kernel with a compile error fails init with the build log")
    func buildFailure() throws {
        let folder = try kernelsCopy()
        defer { try? FileManager.default.removeItem(at: folder) }
        try breakProgram("reduce", in: folder)
        do {
            _ = try OpenCLBackend(deviceIndex: 0, kernelsDirectory: folder, strictKernels: true)
            Issue.record("init succeeded with a broken kernel")
        } catch let error as OpenCLError {
            guard case .buildFailed(let program, let options, let log) = error else {
                Issue.record("expected buildFailed, got \(error)")
                return
            }
            #expect(program == "reduce")
            #expect(options.contains("-cl-std=CL1.2"))
            #expect(log.contains("flint_undeclared_identifier"))
            #expect(error.description.contains("reduce") && error.description.contains(log))
        }
    }

    @Test("otherwise a program that fails to build leaves the device up, its primitives listed as unavailable")
    func buildFailureFallsBack() throws {
        let folder = try kernelsCopy()
        defer { try? FileManager.default.removeItem(at: folder) }
        try breakProgram("conv", in: folder)
        let backend = try OpenCLBackend(deviceIndex: 0, kernelsDirectory: folder, strictKernels: false)
        #expect(backend.unavailablePrimitives == [.im2col, .col2im, .maxPool2d, .maxPool2dBackward])
        #expect(Array(backend.failedPrograms.keys) == ["conv"])
        let failure = try #require(backend.diagnostics.failedPrograms.first)
        #expect(failure.program == "conv" && failure.reason.contains("conv.cl did not compile")
                && failure.reason.contains("flint_undeclared_identifier"), "\(failure.reason)")
        // The other programs work.
        let x = backend.upload([1, 2, 3])
        let out = backend.allocate(byteCount: 4)
        backend.reduce(.sum, x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 1), out: out)
        #expect(backend.floats(out, count: 1) == [6])
        #expect(backend.diagnostics.programBuilds.map(\.program) == ["elementwise", "reduce", "index", "gemm", "random", "conv", "optim", "recurrent"])
    }

    @Test("an empty kernel file is an error that names it")
    func emptyKernelFile() throws {
        let folder = try kernelsCopy()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("optim.cl")
        try Data("\n  \n".utf8).write(to: file)
        #expect(throws: OpenCLError.emptyKernelSource(path: file.path)) {
            _ = try OpenCLBackend(deviceIndex: 0, kernelsDirectory: folder, strictKernels: true)
        }
        #expect(OpenCLError.emptyKernelSource(path: file.path).description.contains(file.path))
        let backend = try OpenCLBackend(deviceIndex: 0, kernelsDirectory: folder, strictKernels: false)
        #expect(backend.unavailablePrimitives == [.adamStep])
    }

    @Test("an allocation beyond the device's largest buffer is a typed error saying both sizes")
    func allocationTooLarge() throws {
        let backend = try TestDevice.backend()
        let limit = backend.maxAllocationBytes
        #expect(limit > 0 && limit < Int.max)
        try backend.checkAllocation(byteCount: limit)
        #expect(throws: OpenCLError.allocationTooLarge(requested: limit + 1, limit: limit, device: "opencl:0 (\(backend.info.name))")) {
            try backend.checkAllocation(byteCount: limit + 1)
        }
        let message = OpenCLError.allocationTooLarge(requested: limit + 1, limit: limit, device: "opencl:0").description
        #expect(message.contains("\(limit + 1) bytes") && message.contains("is \(limit) bytes"), "\(message)")
    }

    @Test("a kernels folder missing a file names the path; a complete one works")
    func kernelsFolder() throws {
        let folder = try kernelsCopy()
        defer { try? FileManager.default.removeItem(at: folder) }
        let backend = try OpenCLBackend(deviceIndex: 0, kernelsDirectory: folder)
        let x = backend.upload([1, 2, 3])
        let out = backend.allocate(byteCount: 4)
        backend.reduce(.sum, x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 1), out: out)
        #expect(backend.floats(out, count: 1) == [6])

        let missing = folder.appendingPathComponent("gemm.cl")
        try FileManager.default.removeItem(at: missing)
        #expect(throws: OpenCLError.missingKernelSource(path: missing.path)) {
            _ = try OpenCLBackend(deviceIndex: 0, kernelsDirectory: folder)
        }
    }

    @Test("status codes have their names")
    func statusNames() {
        #expect(OpenCLError.statusName(-5) == "CL_OUT_OF_RESOURCES")
        #expect(OpenCLError.statusName(-54) == "CL_INVALID_WORK_GROUP_SIZE")
        #expect(OpenCLError.statusName(-1001) == "CL_PLATFORM_NOT_FOUND_KHR")
        for status in Int32(-68)...(-30) { #expect(OpenCLError.statusName(status).hasPrefix("CL_INVALID_")) }
        for status in Int32(-19)...(-1) { #expect(OpenCLError.statusName(status).hasPrefix("CL_")) }
        let error = OpenCLError.call(function: "clCreateBuffer", status: -4, name: "CL_MEM_OBJECT_ALLOCATION_FAILURE")
        #expect(error.description.contains("clCreateBuffer") && error.description.contains("CL_MEM_OBJECT_ALLOCATION_FAILURE"))
    }

    @Test("the pool reuses a released buffer of the same size class")
    func poolReuse() throws {
        // A backend of its own, so that parallel tests do not take the released block.
        let backend = try OpenCLBackend(deviceIndex: 0)
        var buffer: (any DeviceBuffer)? = backend.allocate(byteCount: 1000)
        #expect(buffer!.byteCount == 1000)
        let before = backend.memoryStatistics
        #expect(before.allocations == 1 && before.reuses == 0 && before.bytesReserved == 1024)
        buffer = nil
        let again = backend.allocate(byteCount: 1024)
        let after = backend.memoryStatistics
        #expect(after.allocations == before.allocations)
        #expect(after.reuses == before.reuses + 1)
        #expect(after.bytesReserved == 1024)
        let other = backend.allocate(byteCount: 10)
        #expect(backend.memoryStatistics.allocations == 2)
        #expect(backend.memoryStatistics.bytesReserved == 1024 + 256)
        _ = (again, other)
    }
}
