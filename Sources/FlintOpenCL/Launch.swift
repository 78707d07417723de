import COpenCL
import FlintBackend
import Foundation

/// A cached `cl_kernel` and the name it is reported under when a launch fails. The handle is
/// nil for kernels of a program that failed to build: their primitives run on the CPU backend
/// (see `OpenCLBackend.unavailablePrimitives`), so launching one is a programming error.
struct Kernel {
    let handle: cl_kernel?
    let name: String
}

/// One kernel argument, in the OpenCL C type the kernel declares.
enum KernelArg {
    case buffer(OpenCLBuffer)
    case int(Int32)
    case uint(UInt32)
    case float(Float)
    /// An `int8` vector: rank-padded shape or strides.
    case int8(SIMD8<Int32>)
    /// Memory outside the pool (the tuner's operands).
    case mem(cl_mem)

    static func int(_ value: Int) -> KernelArg { .int(Int32(value)) }
}

extension OpenCLBackend {
    /// Sets `args` and enqueues `kernel` over `global` (rounded up to whole work-groups of
    /// `local`). Setting arguments and enqueueing happen under one lock because `cl_kernel`
    /// objects are shared between threads. Failures are programming or driver errors: fatal.
    func launch(_ kernel: Kernel, global: [Int], local: [Int], _ args: [KernelArg]) {
        let (status, globalSize) = enqueue(kernel, global: global, local: local, args)
        if status != CL_SUCCESS {
            fatalError(
                "OpenCLBackend: launching kernel \(kernel.name) (global \(globalSize), local \(local)) "
                    + "on \(info.name) failed: \(OpenCLError.statusName(status))")
        }
    }

    /// `launch` that returns the driver's status instead of stopping on a failure (the tuner
    /// skips a candidate the device refuses).
    func enqueue(_ kernel: Kernel, global: [Int], local: [Int], _ args: [KernelArg]) -> (cl_int, [Int]) {
        ensure(global.count == local.count && (1...3).contains(global.count), "launch: global \(global) and local \(local) sizes need 1 to 3 dimensions each")
        guard kernel.handle != nil else {
            fatalError("OpenCLBackend: kernel \(kernel.name) is unavailable on \(info.name): its program failed to build")
        }
        var globalSize = [Int](repeating: 0, count: global.count)
        for d in global.indices {
            ensure(global[d] > 0, "\(kernel.name): empty launch")
            globalSize[d] = (global[d] + local[d] - 1) / local[d] * local[d]
        }
        let localSize = local
        launchLock.lock()
        defer { launchLock.unlock() }
        for (index, arg) in args.enumerated() {
            let status: cl_int
            switch arg {
            case .buffer(let buffer):
                var mem: cl_mem? = buffer.mem
                status = CL.clSetKernelArg(kernel.handle, cl_uint(index), MemoryLayout<cl_mem?>.size, &mem)
            case .mem(let handle):
                var mem: cl_mem? = handle
                status = CL.clSetKernelArg(kernel.handle, cl_uint(index), MemoryLayout<cl_mem?>.size, &mem)
            case .int(var value):
                status = CL.clSetKernelArg(kernel.handle, cl_uint(index), MemoryLayout<Int32>.size, &value)
            case .uint(var value):
                status = CL.clSetKernelArg(kernel.handle, cl_uint(index), MemoryLayout<UInt32>.size, &value)
            case .float(var value):
                status = CL.clSetKernelArg(kernel.handle, cl_uint(index), MemoryLayout<Float>.size, &value)
            case .int8(var value):
                status = CL.clSetKernelArg(kernel.handle, cl_uint(index), MemoryLayout<SIMD8<Int32>>.size, &value)
            }
            if status != CL_SUCCESS {
                fatalError(
                    "OpenCLBackend: setting argument \(index) of kernel \(kernel.name) failed: "
                        + OpenCLError.statusName(status))
            }
        }
        let start = debugLevel >= 2 ? startTiming() : 0
        let status = CL.clEnqueueNDRangeKernel(
            queue, kernel.handle, cl_uint(global.count), nil, globalSize, localSize, 0, nil, nil)
        if debugLevel >= 2 && status == CL_SUCCESS {
            CL.clFinish(queue)
            let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            let line = "[flint] \(kernel.name) global \(globalSize) local \(localSize): "
                + String(format: "%.3f ms\n", milliseconds)
            FileHandle.standardError.write(Data(line.utf8))
        }
        return (status, globalSize)
    }

    /// Waits for the queue and returns the time, for `FLINT_DEBUG=2` kernel timings.
    private func startTiming() -> UInt64 {
        CL.clFinish(queue)
        return DispatchTime.now().uptimeNanoseconds
    }

    /// A one-dimensional launch of `items` work-items in groups of the device's 1-D size.
    func launch1D(_ kernel: Kernel, items: Int, _ args: [KernelArg]) {
        launch(kernel, global: [items], local: [tuning.localSize], args)
    }

    /// The `OpenCLBuffer` behind a buffer handed to this backend.
    func clBuffer(_ buffer: any DeviceBuffer, _ op: StaticString) -> OpenCLBuffer {
        guard let buffer = buffer as? OpenCLBuffer, buffer.pool === pool else {
            fatalError("OpenCLBackend.\(op): buffer was not allocated by this backend (\(info.identifier))")
        }
        return buffer
    }

    /// Checks that `count` elements from `offset` lie inside `buffer`.
    func checkRange(_ buffer: OpenCLBuffer, offset: Int, count: Int, _ op: StaticString) {
        ensure(
            offset >= 0 && count >= 0 && (offset + count) * 4 <= buffer.byteCount,
            "OpenCLBackend.\(op): elements \(offset)..<\(offset + count) lie outside a buffer of \(buffer.byteCount) bytes")
    }
}

/// Packs up to 8 values into an `int8` kernel argument, padding with `pad`.
func packInt8(_ values: [Int], pad: Int32) -> SIMD8<Int32> {
    ensure(values.count <= 8, "at most 8 dimensions are supported, got \(values.count)")
    var vector = SIMD8<Int32>(repeating: pad)
    for (index, value) in values.enumerated() { vector[index] = Int32(value) }
    return vector
}
