import COpenCL
import FlintBackend
import Foundation
import Synchronization

/// The OpenCL backend: one device, one context, one in-order queue, every kernel program built
/// when the backend is created and every `cl_kernel` cached for its lifetime.
///
/// Work is enqueued without waiting; `read`, `write` and `synchronize` are the only calls that
/// block. `cl_kernel` objects are shared, so setting arguments and enqueueing happen under one
/// lock; everything else is immutable after `init` or has its own lock (the buffer pool).
public final class OpenCLBackend: Backend, @unchecked Sendable {
    /// Kernel programs, one per `Kernels/NAME.cl` file.
    static let programNames = ["elementwise", "reduce", "index", "gemm", "random", "conv", "optim", "recurrent"]

    public let info: DeviceInfo
    let platform: cl_platform_id
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
    /// The device's largest single buffer (`CL_DEVICE_MAX_MEM_ALLOC_SIZE`).
    public let maxAllocationBytes: Int
    /// Programs that failed to build (only when not strict), and why.
    public let failedPrograms: [String: OpenCLError]
    /// The primitives of `failedPrograms`, which this backend cannot run.
    public let unavailablePrimitives: Set<Primitive>
    /// Every program's build time, in build order (failed builds included).
    let programBuilds: [(program: String, seconds: Double)]
    /// `gemm.cl`, rebuilt with other `-D` values for each GEMM configuration tried or tuned.
    let gemmSource: KernelSource
    /// The most work-items per group and bytes of local memory per group the device allows.
    let deviceLimits: (workGroup: Int, localMemory: Int)
    /// Chooses and keeps the GEMM configuration of each shape class (see `GemmTuner`).
    let gemmTuner: GemmTuner
    /// `read` calls so far: each stalls the host until the queue drains, so a training step
    /// should make none (`flint-bench models` prints reads per step).
    let readCount = Atomic<Int>(0)

    /// Every OpenCL device of every platform, in platform order then device order; empty when no
    /// OpenCL runtime or platform is installed.
    public static func devices() -> [DeviceInfo] {
        Discovery.handles().enumerated().map { Discovery.info($1, index: $0) }
    }

    /// Opens OpenCL device `deviceIndex` (its position in `devices()`) and builds every kernel.
    ///
    /// A program that fails to build (an odd driver) does not fail the device unless
    /// `strictKernels` is set: its primitives are listed in `unavailablePrimitives`, for the
    /// caller to run elsewhere (FlintCore runs them on the CPU backend), and why is in
    /// `diagnostics.failedPrograms`.
    ///
    /// - Parameters:
    ///   - kernelsDirectory: a folder holding `NAME.cl` for every program; nil means the folder
    ///     in the environment variable `FLINT_KERNELS_DIR` if set, else the sources embedded in
    ///     the binary.
    ///   - strictKernels: throw on the first program that fails to build; nil means true when
    ///     the environment variable `FLINT_STRICT_KERNELS` is `1`.
    ///   - tuningCacheFolder: where GEMM tuning results are cached; nil means
    ///     `TuningCache.defaultFolder()` (`FLINT_TUNING_DIR`, else `~/.cache/flint/tuning`).
    /// - Throws: `OpenCLError.noSuchDevice`, `.missingKernelSource`, `.call` when the driver
    ///   refuses a context or queue, and in strict mode `.buildFailed` (with the build log),
    ///   `.emptyKernelSource` or `.missingKernel`.
    public init(deviceIndex: Int, kernelsDirectory: URL? = nil, strictKernels: Bool? = nil, tuningCacheFolder: URL? = nil) throws {
        let handles = Discovery.handles()
        guard handles.indices.contains(deviceIndex) else {
            throw OpenCLError.noSuchDevice(index: deviceIndex, available: handles.count)
        }
        let handle = handles[deviceIndex]
        let info = Discovery.info(handle, index: deviceIndex)
        let sources = try Self.kernelSources(directory: kernelsDirectory)
        let environment = ProcessInfo.processInfo.environment
        let strict = strictKernels ?? (environment["FLINT_STRICT_KERNELS"] == "1")

        let maxWorkGroup: Int = Discovery.deviceValue(handle.device, CL_DEVICE_MAX_WORK_GROUP_SIZE) ?? 256
        let nativeWidth: cl_uint = Discovery.deviceValue(handle.device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT) ?? 4
        let maxAllocation: cl_ulong = Discovery.deviceValue(handle.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE) ?? 1 << 30
        let localMemory: cl_ulong = Discovery.deviceValue(handle.device, CL_DEVICE_LOCAL_MEM_SIZE) ?? 16 << 10
        let profile = environment["FLINT_OPENCL_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        let tuning = Tuning(
            info: info, maxWorkGroupSize: maxWorkGroup, nativeFloatWidth: Int(nativeWidth), profile: profile)
        let debug = Int(environment["FLINT_DEBUG"] ?? "") ?? 0

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
        var builds: [(program: String, seconds: Double)] = []
        var failed: [String: OpenCLError] = [:]
        do {
            for name in Self.programNames {
                let options = name == "gemm" ? tuning.options(for: name, gemm: tuning.gemmStandard) : tuning.options(for: name)
                let start = Date()
                do {
                    let program = try Self.build(
                        name, source: sources[name]!, options: options, context: context, device: handle.device)
                    programs.append(program)
                    for kernel in try Self.createKernels(in: program) { kernelsByName[kernel.name] = kernel }
                } catch let error as OpenCLError where !strict {
                    failed[name] = error
                }
                let seconds = Date().timeIntervalSince(start)
                builds.append((name, seconds))
                if debug >= 1 {
                    let outcome = failed[name] == nil ? "built" : "FAILED to build"
                    let detail = debug >= 3 ? " with '\(options)'" : ""
                    FileHandle.standardError.write(Data(
                        "[flint] opencl:\(deviceIndex) \(outcome) \(name).cl in \(Int(seconds * 1000)) ms\(detail)\n".utf8))
                }
            }
            // A program that built without a kernel the backend needs counts as failed too.
            while true {
                do {
                    kernels = try KernelTable(kernelsByName, failedPrograms: Set(failed.keys))
                    break
                } catch let error as OpenCLError {
                    guard !strict, case .missingKernel(_, let program) = error, failed[program] == nil else { throw error }
                    failed[program] = error
                }
            }
        } catch {
            for kernel in kernelsByName.values { CL.clReleaseKernel(kernel.handle) }
            for program in programs { CL.clReleaseProgram(program) }
            CL.clReleaseCommandQueue(queue)
            CL.clReleaseContext(context)
            throw error
        }

        self.info = info
        self.platform = handle.platform
        self.device = handle.device
        self.context = context
        self.queue = queue
        self.tuning = tuning
        self.debugLevel = debug
        self.programs = programs
        self.allKernels = kernelsByName.values.compactMap(\.handle)
        self.maxAllocationBytes = Int(clamping: maxAllocation)
        self.pool = BufferPool(context: context, maxAllocation: Int(clamping: maxAllocation), deviceName: info.name)
        self.failedPrograms = failed
        self.unavailablePrimitives = failed.keys.reduce(into: []) { $0.formUnion(KernelTable.primitivesByProgram[$1] ?? []) }
        self.programBuilds = builds
        self.gemmSource = sources["gemm"]!
        self.deviceLimits = (maxWorkGroup, Int(clamping: localMemory))
        let cacheKey = TuningCache.Key(
            device: info.name, platform: info.platform, driver: info.driverVersion,
            sources: TuningCache.hash(sources["gemm"]!.text), options: tuning.options(for: "gemm"), profile: tuning.profile)
        self.gemmTuner = GemmTuner(
            programs: GemmPrograms(standard: tuning.gemmStandard, kernels: kernels), standard: tuning.gemmStandard,
            space: GemmConfig.searchSpace(cpu: tuning.profile == "cpu", nativeWidth: Int(nativeWidth)),
            cache: (tuningCacheFolder ?? TuningCache.defaultFolder(environment)).map { TuningCache(folder: $0, key: cacheKey) },
            environment: environment)
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

    /// The source of every program and where it came from (a path, or `<embedded>/NAME.cl`),
    /// from a folder (argument or `FLINT_KERNELS_DIR`) or embedded.
    static func kernelSources(directory: URL?) throws -> [String: KernelSource] {
        var folder = directory
        if folder == nil, let path = ProcessInfo.processInfo.environment["FLINT_KERNELS_DIR"], !path.isEmpty {
            folder = URL(fileURLWithPath: path, isDirectory: true)
        }
        var sources: [String: KernelSource] = [:]
        for name in programNames {
            if let folder {
                let url = folder.appendingPathComponent("\(name).cl")
                guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                    throw OpenCLError.missingKernelSource(path: url.path)
                }
                sources[name] = KernelSource(text: text, origin: url.path)
            } else {
                guard let text = EmbeddedKernels.sources[name] else {
                    throw OpenCLError.missingKernelSource(path: "<embedded>/\(name).cl")
                }
                sources[name] = KernelSource(text: text, origin: "<embedded>/\(name).cl")
            }
        }
        return sources
    }

    struct KernelSource {
        var text: String
        /// The file it was read from, for messages.
        var origin: String
    }

    static func build(
        _ name: String, source: KernelSource, options: String, context: cl_context, device: cl_device_id
    ) throws -> cl_program {
        // Drivers answer an empty program with a bare CL_INVALID_VALUE that names no file.
        guard source.text.contains(where: { !$0.isWhitespace }) else {
            throw OpenCLError.emptyKernelSource(path: source.origin)
        }
        var status: cl_int = CL_SUCCESS
        let created: cl_program? = source.text.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return CL.clCreateProgramWithSource(context, 1, &pointer, nil, &status)
        }
        guard let program = created, status == CL_SUCCESS else {
            throw OpenCLError.failed("clCreateProgramWithSource(\(source.origin))", status)
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

    public var memoryStatistics: MemoryStatistics {
        var statistics = pool.memoryStatistics
        statistics.reads = readCount.load(ordering: .relaxed)
        return statistics
    }

    public func allocate(byteCount: Int) -> any DeviceBuffer {
        pool.acquire(byteCount: byteCount)
    }

    /// Throws `OpenCLError.allocationTooLarge` when one buffer of `byteCount` bytes exceeds what
    /// the device allows (`allocate` would stop the process instead).
    public func checkAllocation(byteCount: Int) throws {
        if byteCount > maxAllocationBytes {
            throw OpenCLError.allocationTooLarge(requested: byteCount, limit: maxAllocationBytes, device: "\(info.identifier) (\(info.name))")
        }
    }

    /// A pooled scratch buffer of `count` elements.
    func scratch(elements count: Int) -> OpenCLBuffer {
        pool.acquire(byteCount: count * 4)
    }

    public func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, byteOffset: Int) {
        let buffer = clBuffer(buffer, "write")
        ensure(
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
        ensure(
            byteOffset >= 0 && byteOffset + bytes.count <= buffer.byteCount,
            "OpenCLBackend.read: bytes \(byteOffset)..<\(byteOffset + bytes.count) outside a buffer of \(buffer.byteCount)")
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        readCount.add(1, ordering: .relaxed)
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
