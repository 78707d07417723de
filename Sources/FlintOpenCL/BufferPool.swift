import COpenCL
import FlintBackend
import Foundation

/// Device memory handed out by `OpenCLBackend.allocate`. Dropping the last reference returns
/// the `cl_mem` to the backend's pool; the in-order queue makes reuse safe even while kernels
/// that used it are still pending.
public final class OpenCLBuffer: DeviceBuffer, @unchecked Sendable {
    public let byteCount: Int
    let mem: cl_mem
    /// Size of the block behind this buffer (its pool class).
    let blockBytes: Int
    let pool: BufferPool

    init(mem: cl_mem, byteCount: Int, blockBytes: Int, pool: BufferPool) {
        self.mem = mem
        self.byteCount = byteCount
        self.blockBytes = blockBytes
        self.pool = pool
    }

    deinit {
        pool.release(mem, blockBytes: blockBytes)
    }
}

/// A size-class pool of `cl_mem` blocks: powers of two from 256 bytes (or, past the device's
/// largest single allocation, multiples of 4 KiB). Thread-safe; its lock is its own, so a
/// buffer may be released from any thread while another holds the backend's launch lock.
final class BufferPool: @unchecked Sendable {
    static let minimumBlock = 256

    private let context: cl_context
    private let maxAllocation: Int
    private let deviceName: String
    private let lock = NSLock()
    private var free: [Int: [cl_mem]] = [:]
    private var statistics = MemoryStatistics()

    init(context: cl_context, maxAllocation: Int, deviceName: String) {
        CL.clRetainContext(context)
        self.context = context
        self.maxAllocation = maxAllocation
        self.deviceName = deviceName
    }

    deinit {
        for blocks in free.values {
            for mem in blocks { CL.clReleaseMemObject(mem) }
        }
        CL.clReleaseContext(context)
    }

    var memoryStatistics: MemoryStatistics {
        lock.withLock { statistics }
    }

    /// The block size a request of `byteCount` bytes is served from.
    func blockSize(for byteCount: Int) -> Int {
        let wanted = max(byteCount, Self.minimumBlock)
        let power = 1 << (Int.bitWidth - (wanted - 1).leadingZeroBitCount)
        if power > maxAllocation && wanted <= maxAllocation {
            return (wanted + 4095) & ~4095
        }
        return power
    }

    func acquire(byteCount: Int) -> OpenCLBuffer {
        ensure(byteCount >= 0, "OpenCLBackend.allocate: negative byte count \(byteCount)")
        // The driver would refuse anyway (CL_INVALID_BUFFER_SIZE); say what was asked and what
        // the device allows. Callers that can throw check with `checkAllocation` first.
        if byteCount > maxAllocation {
            fatalError(OpenCLError.allocationTooLarge(requested: byteCount, limit: maxAllocation, device: deviceName).description)
        }
        let block = blockSize(for: byteCount)
        let reused: cl_mem? = lock.withLock {
            guard let mem = free[block]?.popLast() else { return nil }
            statistics.reuses += 1
            return mem
        }
        if let reused {
            return OpenCLBuffer(mem: reused, byteCount: byteCount, blockBytes: block, pool: self)
        }
        var status: cl_int = CL_SUCCESS
        var mem = CL.clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), block, nil, &status)
        if mem == nil || status != CL_SUCCESS {
            // Give the pooled blocks back to the driver and try once more.
            trim()
            mem = CL.clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), block, nil, &status)
        }
        guard let mem, status == CL_SUCCESS else {
            let stats = memoryStatistics
            fatalError(
                "OpenCLBackend: cannot allocate \(byteCount) bytes (block \(block)) on \(deviceName): "
                    + "\(OpenCLError.statusName(status)); \(stats.bytesReserved) bytes already reserved, "
                    + "largest single allocation \(maxAllocation) bytes")
        }
        lock.withLock {
            statistics.allocations += 1
            statistics.bytesReserved += block
        }
        return OpenCLBuffer(mem: mem, byteCount: byteCount, blockBytes: block, pool: self)
    }

    func release(_ mem: cl_mem, blockBytes: Int) {
        lock.withLock { free[blockBytes, default: []].append(mem) }
    }

    /// Returns every pooled (unused) block to the driver.
    func trim() {
        let blocks: [Int: [cl_mem]] = lock.withLock {
            let taken = free
            free = [:]
            for (size, mems) in taken { statistics.bytesReserved -= size * mems.count }
            return taken
        }
        for mems in blocks.values {
            for mem in mems { CL.clReleaseMemObject(mem) }
        }
    }
}
