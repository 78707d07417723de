import COpenCL
import FlintBackend
import Foundation

/// The OpenCL backend: one device, one context, one in-order queue, every kernel program built
/// when the backend is created and every `cl_kernel` cached for its lifetime.
///
/// Work is enqueued without waiting; `read`, `write` and `synchronize` are the only calls that
/// block. `cl_kernel` objects are shared, so setting arguments and enqueueing happen under one
/// lock; everything else is immutable after `init` or has its own lock (the buffer pool).
public final class OpenCLBackend: Backend, @unchecked Sendable {
    /// Kernel programs, one per `Kernels/NAME.cl` file.
    static let programNames = ["elementwise", "reduce", "index", "gemm", "random", "conv", "optim"]

    public let info: DeviceInfo
    let device: cl_device_id
    let context: cl_context
    let queue: cl_command_queue
    let pool: BufferPool
    let tuning: Tuning
    let launchLock = NSLock()
    /// `FLINT_DEBUG`: 1 reports the device and program builds, 2 also times every kernel
    /// (synchronously), 3 also prints build options.
    let debugLevel: Int
    let kernels: KernelTable
    private let programs: [cl_program]
    private let allKernels: [cl_kernel]

    /// Every OpenCL device of every platform, in platform order then device order; empty when no
    /// OpenCL runtime or platform is installed.
    public static func devices() -> [DeviceInfo] {
        Discovery.handles().enumerated().map { Discovery.info($1, index: $0) }
    }

    /// Opens OpenCL device `deviceIndex` (its position in `devices()`) and builds every kernel.
    ///
    /// - Parameter kernelsDirectory: a folder holding `NAME.cl` for every program; nil means the
    ///   folder in the environment variable `FLINT_KERNELS_DIR` if set, else the sources embedded
    ///   in the binary.
    /// - Throws: `OpenCLError.noSuchDevice`, `.missingKernelSource`, `.buildFailed` (with the build
    ///   log), `.missingKernel`, or `.call` when the driver refuses.
    public init(deviceIndex: Int, kernelsDirectory: URL? = nil) throws {
        let handles = Discovery.handles()
        guard handles.indices.contains(deviceIndex) else {
            throw OpenCLError.noSuchDevice(index: deviceIndex, available: handles.count)
        }
        let handle = handles[deviceIndex]
        let info = Discovery.info(handle, index: deviceIndex)
        let sources = try Self.kernelSources(directory: kernelsDirectory)

        let maxWorkGroup: Int = Discovery.deviceValue(handle.device, CL_DEVICE_MAX_WORK_GROUP_SIZE) ?? 256
        let nativeWidth: cl_uint = Discovery.deviceValue(handle.device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT) ?? 4
        let maxAllocation: cl_ulong = Discovery.deviceValue(handle.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE) ?? 1 << 30
        let profile = ProcessInfo.processInfo.environment["FLINT_OPENCL_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        let tuning = Tuning(
            info: info, maxWorkGroupSize: maxWorkGroup, nativeFloatWidth: Int(nativeWidth), profile: profile)
        let debug = Int(ProcessInfo.processInfo.environment["FLINT_DEBUG"] ?? "") ?? 0

        var status: cl_int = CL_SUCCESS
        var properties: [cl_context_properties] = [
            cl_context_properties(CL_CONTEXT_PLATFORM), unsafeBitCast(handle.platform, to: cl_context_properties.self), 0,
        ]
        var device: cl_device_id? = handle.device
        guard let context = CL.clCreateContext(&properties, 1, &device, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError.failed("clCreateContext", status)
        }
        guard let queue = CL.clCreateCommandQueue(context, handle.device, 0, &status), status == CL_SUCCESS else {
            CL.clReleaseContext(context)
            throw OpenCLError.failed("clCreateCommandQueue", status)
        }

        var programs: [cl_program] = []
        var kernelsByName: [String: Kernel] = [:]
        do {
            for name in Self.programNames {
                let options = tuning.options(for: name)
                let start = Date()
                let program = try Self.build(
                    name, source: sources[name]!, options: options, context: context, device: handle.device)
                programs.append(program)
                for kernel in try Self.createKernels(in: program) { kernelsByName[kernel.name] = kernel }
                if debug >= 1 {
                    let ms = Int(Date().timeIntervalSince(start) * 1000)
                    let detail = debug >= 3 ? " with '\(options)'" : ""
                    FileHandle.standardError.write(Data("[flint] opencl:\(deviceIndex) built \(name).cl in \(ms) ms\(detail)\n".utf8))
                }
            }
            kernels = try KernelTable(kernelsByName)
        } catch {
            for kernel in kernelsByName.values { CL.clReleaseKernel(kernel.handle) }
            for program in programs { CL.clReleaseProgram(program) }
            CL.clReleaseCommandQueue(queue)
            CL.clReleaseContext(context)
            throw error
        }

        self.info = info
        self.device = handle.device
        self.context = context
        self.queue = queue
        self.tuning = tuning
        self.debugLevel = debug
        self.programs = programs
        self.allKernels = kernelsByName.values.map(\.handle)
        self.pool = BufferPool(context: context, maxAllocation: Int(maxAllocation), deviceName: info.name)
        if debug >= 1 {
            FileHandle.standardError.write(Data("[flint] using \(info)\n".utf8))
        }
    }

    deinit {
        CL.clFinish(queue)
        pool.trim()
        for kernel in allKernels { CL.clReleaseKernel(kernel) }
        for program in programs { CL.clReleaseProgram(program) }
        CL.clReleaseCommandQueue(queue)
        CL.clReleaseContext(context)
    }

    // MARK: Kernel sources and programs

    /// The source of every program, from a folder (argument or `FLINT_KERNELS_DIR`) or embedded.
    static func kernelSources(directory: URL?) throws -> [String: String] {
        var folder = directory
        if folder == nil, let path = ProcessInfo.processInfo.environment["FLINT_KERNELS_DIR"], !path.isEmpty {
            folder = URL(fileURLWithPath: path, isDirectory: true)
        }
        var sources: [String: String] = [:]
        for name in programNames {
            if let folder {
                let url = folder.appendingPathComponent("\(name).cl")
                guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                    throw OpenCLError.missingKernelSource(path: url.path)
                }
                sources[name] = text
            } else {
                guard let text = EmbeddedKernels.sources[name] else {
                    throw OpenCLError.missingKernelSource(path: "<embedded>/\(name).cl")
                }
                sources[name] = text
            }
        }
        return sources
    }

    static func build(
        _ name: String, source: String, options: String, context: cl_context, device: cl_device_id
    ) throws -> cl_program {
        var status: cl_int = CL_SUCCESS
        let created: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return CL.clCreateProgramWithSource(context, 1, &pointer, nil, &status)
        }
        guard let program = created, status == CL_SUCCESS else {
            throw OpenCLError.failed("clCreateProgramWithSource", status)
        }
        var target: cl_device_id? = device
        status = CL.clBuildProgram(program, 1, &target, options, nil, nil)
        if status != CL_SUCCESS {
            let log = Discovery.queryString {
                CL.clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2)
            }
            CL.clReleaseProgram(program)
            if status == CL_BUILD_PROGRAM_FAILURE || !log.isEmpty {
                throw OpenCLError.buildFailed(program: name, options: options, log: log)
            }
            throw OpenCLError.failed("clBuildProgram(\(name))", status)
        }
        return program
    }

    /// Every kernel a built program defines.
    static func createKernels(in program: cl_program) throws -> [Kernel] {
        var count: cl_uint = 0
        var status = CL.clCreateKernelsInProgram(program, 0, nil, &count)
        guard status == CL_SUCCESS else { throw OpenCLError.failed("clCreateKernelsInProgram", status) }
        var handles = [cl_kernel?](repeating: nil, count: Int(count))
        status = CL.clCreateKernelsInProgram(program, count, &handles, nil)
        guard status == CL_SUCCESS else { throw OpenCLError.failed("clCreateKernelsInProgram", status) }
        return handles.compactMap { handle in
            guard let handle else { return nil }
            let name = Discovery.queryString {
                CL.clGetKernelInfo(handle, cl_kernel_info(CL_KERNEL_FUNCTION_NAME), $0, $1, $2)
            }
            return Kernel(handle: handle, name: name)
        }
    }

    // MARK: Memory

    public var memoryStatistics: MemoryStatistics { pool.memoryStatistics }

    public func allocate(byteCount: Int) -> any DeviceBuffer {
        pool.acquire(byteCount: byteCount)
    }

    /// A pooled scratch buffer of `count` elements.
    func scratch(elements count: Int) -> OpenCLBuffer {
        pool.acquire(byteCount: count * 4)
    }

    public func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, byteOffset: Int) {
        let buffer = clBuffer(buffer, "write")
        precondition(
            byteOffset >= 0 && byteOffset + bytes.count <= buffer.byteCount,
            "OpenCLBackend.write: bytes \(byteOffset)..<\(byteOffset + bytes.count) outside a buffer of \(buffer.byteCount)")
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        let status = CL.clEnqueueWriteBuffer(queue, buffer.mem, cl_bool(CL_TRUE), byteOffset, bytes.count, base, 0, nil, nil)
        if status != CL_SUCCESS {
            fatalError("OpenCLBackend.write: clEnqueueWriteBuffer failed on \(info.name): \(OpenCLError.statusName(status))")
        }
    }

    public func read(_ buffer: any DeviceBuffer, byteOffset: Int, into bytes: UnsafeMutableRawBufferPointer) {
        let buffer = clBuffer(buffer, "read")
        precondition(
            byteOffset >= 0 && byteOffset + bytes.count <= buffer.byteCount,
            "OpenCLBackend.read: bytes \(byteOffset)..<\(byteOffset + bytes.count) outside a buffer of \(buffer.byteCount)")
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        let status = CL.clEnqueueReadBuffer(queue, buffer.mem, cl_bool(CL_TRUE), byteOffset, bytes.count, base, 0, nil, nil)
        if status != CL_SUCCESS {
            fatalError("OpenCLBackend.read: clEnqueueReadBuffer failed on \(info.name): \(OpenCLError.statusName(status))")
        }
    }

    public func synchronize() {
        let status = CL.clFinish(queue)
        if status != CL_SUCCESS {
            fatalError("OpenCLBackend.synchronize: clFinish failed on \(info.name): \(OpenCLError.statusName(status))")
        }
    }
}
