#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FlintBackend
import Synchronization

/// A thread-safe pool of 64-byte-aligned host blocks, bucketed by power-of-two size class
/// (256 bytes at least). Released blocks wait in their class for the next request of that
/// class; once the pool holds more than `retainLimit` bytes, released blocks are freed instead.
final class BufferPool: Sendable {
    static let alignment = 64
    static let minimumBlockSize = 256

    private struct State {
        /// Free blocks per size class (log2 of the block size), as addresses.
        var free: [Int: [UInt]] = [:]
        var pooledBytes = 0
        var allocations = 0
        var reuses = 0
        var bytesReserved = 0
    }

    let retainLimit: Int
    private let state = Mutex(State())

    init(retainLimit: Int = 1 << 30) {
        self.retainLimit = retainLimit
    }

    /// Frees the pooled blocks. Every buffer holds the pool, so by now all blocks are back in it:
    /// a discarded backend leaves nothing behind.
    deinit {
        trim()
    }

    /// The block size serving a request of `byteCount` bytes.
    static func blockSize(for byteCount: Int) -> Int {
        ensure(byteCount >= 0, "CPUBackend.allocate: negative byte count \(byteCount)")
        if byteCount <= minimumBlockSize { return minimumBlockSize }
        ensure(byteCount <= Int.max / 2, "CPUBackend.allocate: \(byteCount) bytes is too large")
        return 1 << (Int.bitWidth - (byteCount - 1).leadingZeroBitCount)
    }

    /// A block of `blockSize(for:)` bytes: a pooled one when available, else a fresh allocation.
    func take(blockSize: Int) -> UnsafeMutableRawPointer {
        let sizeClass = blockSize.trailingZeroBitCount
        let pooled: UInt? = state.withLock { state in
            guard let address = state.free[sizeClass]?.popLast() else { return nil }
            state.pooledBytes -= blockSize
            state.reuses += 1
            return address
        }
        if let pooled, let pointer = UnsafeMutableRawPointer(bitPattern: pooled) {
            return pointer
        }
        var block = Self.allocateAligned(blockSize)
        if block == nil {
            // Out of memory: give back everything the pool holds and try once more.
            trim()
            block = Self.allocateAligned(blockSize)
        }
        guard let block else {
            fatalError("CPUBackend.allocate: out of memory allocating \(blockSize) bytes")
        }
        state.withLock { state in
            state.allocations += 1
            state.bytesReserved += blockSize
        }
        return block
    }

    /// Returns a block obtained from `take(blockSize:)`.
    func give(_ block: UnsafeMutableRawPointer, blockSize: Int) {
        let sizeClass = blockSize.trailingZeroBitCount
        let address = UInt(bitPattern: block)
        let keep: Bool = state.withLock { state in
            if state.pooledBytes + blockSize <= retainLimit {
                state.free[sizeClass, default: []].append(address)
                state.pooledBytes += blockSize
                return true
            }
            state.bytesReserved -= blockSize
            return false
        }
        if !keep { free(block) }
    }

    /// Frees every pooled block.
    func trim() {
        let released: [UInt] = state.withLock { state in
            let all = state.free.values.flatMap { $0 }
            state.bytesReserved -= state.pooledBytes
            state.pooledBytes = 0
            state.free.removeAll()
            return all
        }
        for address in released {
            free(UnsafeMutableRawPointer(bitPattern: address))
        }
    }

    var statistics: MemoryStatistics {
        state.withLock { state in
            MemoryStatistics(
                allocations: state.allocations, reuses: state.reuses, bytesReserved: state.bytesReserved)
        }
    }

    private static func allocateAligned(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        var pointer: UnsafeMutableRawPointer?
        guard posix_memalign(&pointer, alignment, byteCount) == 0 else { return nil }
        return pointer
    }
}
