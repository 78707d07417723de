import FlintBackend

/// Host memory owned by `CPUBackend`: a 64-byte-aligned block from the backend's pool.
/// Releasing the last reference returns the block to the pool.
public final class CPUBuffer: HostMemoryBuffer, @unchecked Sendable {
    /// The start of the buffer's memory (64-byte aligned).
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int
    /// Size of the pooled block behind the buffer (a power of two, at least `byteCount`).
    let blockSize: Int
    private let pool: BufferPool

    init(byteCount: Int, pool: BufferPool) {
        let blockSize = BufferPool.blockSize(for: byteCount)
        self.pointer = pool.take(blockSize: blockSize)
        self.byteCount = byteCount
        self.blockSize = blockSize
        self.pool = pool
    }

    deinit {
        pool.give(pointer, blockSize: blockSize)
    }

    public var hostAddress: UnsafeMutableRawPointer { pointer }

    /// Number of whole 4-byte elements the buffer holds.
    var elementCount: Int { byteCount >> 2 }

    var floats: UnsafeMutablePointer<Float> { pointer.assumingMemoryBound(to: Float.self) }
    var words: UnsafeMutablePointer<UInt32> { pointer.assumingMemoryBound(to: UInt32.self) }
    var ints: UnsafeMutablePointer<Int32> { pointer.assumingMemoryBound(to: Int32.self) }
}

extension CPUBackend {
    /// The `CPUBuffer` behind `buffer`, or a precondition failure naming `primitive`.
    @inline(__always)
    func cpuBuffer(_ buffer: any DeviceBuffer, _ primitive: StaticString) -> CPUBuffer {
        guard let cpu = buffer as? CPUBuffer else {
            fatalError("CPUBackend.\(primitive): buffer \(type(of: buffer)) does not belong to the CPU backend")
        }
        return cpu
    }

    /// Checks that elements `offset ..< offset + count` lie inside `buffer`.
    @inline(__always)
    func checkRange(
        _ buffer: CPUBuffer, offset: Int, count: Int, _ primitive: StaticString, _ what: StaticString
    ) {
        ensure(
            offset >= 0 && count >= 0 && offset <= buffer.elementCount - count,
            "CPUBackend.\(primitive): \(what) elements \(offset)..<\(offset + count) exceed the buffer's \(buffer.elementCount) elements")
    }
}
