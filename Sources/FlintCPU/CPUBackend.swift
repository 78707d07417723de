import FlintBackend
import Foundation

/// The host backend: memory is pooled 64-byte-aligned host blocks, element-wise and axis
/// primitives are vectorisable Swift loops split across cores, and `gemm` is FlintCPU's own
/// AVX2 product (CGemm) where the CPU has AVX2 and FMA, else OpenBLAS's `cblas_sgemm`. Every
/// primitive runs synchronously on the calling thread (helped by worker threads for large
/// work), so there is never anything to wait for.
public final class CPUBackend: Backend, @unchecked Sendable {
    public let info: DeviceInfo
    let pool: BufferPool

    public init() {
        OpenBLAS.prepareOnce()
        let config = OpenBLAS.config
        info = DeviceInfo(
            kind: .cpu,
            index: 0,
            identifier: "cpu",
            name: CPUInfo.modelName ?? "CPU",
            platform: (config.hasPrefix("OpenBLAS") ? config : "OpenBLAS \(config)")
                + (BlockedGemm.enabled ? "; matrix products: Flint \(BlockedGemm.usesAVX512 ? "AVX-512" : "AVX2")" : ""),
            deviceType: "CPU",
            computeUnits: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory,
            driverVersion: "1")
        pool = BufferPool()
    }

    // MARK: Memory

    public func allocate(byteCount: Int) -> any DeviceBuffer {
        CPUBuffer(byteCount: byteCount, pool: pool)
    }

    public func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, byteOffset: Int) {
        let target = cpuBuffer(buffer, "write")
        ensure(
            byteOffset >= 0 && byteOffset <= target.byteCount - bytes.count,
            "CPUBackend.write: bytes \(byteOffset)..<\(byteOffset + bytes.count) exceed the buffer's \(target.byteCount) bytes")
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (target.pointer + byteOffset).copyMemory(from: source, byteCount: bytes.count)
    }

    public func read(_ buffer: any DeviceBuffer, byteOffset: Int, into bytes: UnsafeMutableRawBufferPointer) {
        let source = cpuBuffer(buffer, "read")
        ensure(
            byteOffset >= 0 && byteOffset <= source.byteCount - bytes.count,
            "CPUBackend.read: bytes \(byteOffset)..<\(byteOffset + bytes.count) exceed the buffer's \(source.byteCount) bytes")
        guard let target = bytes.baseAddress, bytes.count > 0 else { return }
        target.copyMemory(from: source.pointer + byteOffset, byteCount: bytes.count)
    }

    public func fill(_ buffer: any DeviceBuffer, offset: Int, count: Int, bits: UInt32) {
        let target = cpuBuffer(buffer, "fill")
        checkRange(target, offset: offset, count: count, "fill", "filled")
        let words = target.words + offset
        Parallel.forEachRange(count: count) { range in
            let start = words + range.lowerBound
            for i in 0..<range.count { start[i] = bits }
        }
    }

    public func cast(
        _ src: any DeviceBuffer, offset: Int, count: Int, from: DType, to: DType, out: any DeviceBuffer
    ) {
        let source = cpuBuffer(src, "cast")
        let target = cpuBuffer(out, "cast")
        checkRange(source, offset: offset, count: count, "cast", "source")
        checkRange(target, offset: 0, count: count, "cast", "output")
        switch (from, to) {
        case (.float32, .float32), (.int32, .int32):
            let input = source.words + offset, output = target.words
            if input == output { return }
            Parallel.forEachRange(count: count) { range in
                (output + range.lowerBound).update(from: input + range.lowerBound, count: range.count)
            }
        case (.float32, .int32):
            let input = source.floats + offset, output = target.ints
            Parallel.forEachRange(count: count) { range in
                for i in range { output[i] = Self.truncatingToInt32(input[i]) }
            }
        case (.int32, .float32):
            let input = source.ints + offset, output = target.floats
            Parallel.forEachRange(count: count) { range in
                for i in range { output[i] = Float(input[i]) }
            }
        }
    }

    /// Float → Int32 rounding toward zero; NaN gives 0 and out-of-range values saturate.
    @inline(__always)
    static func truncatingToInt32(_ x: Float) -> Int32 {
        if x >= 2_147_483_648 { return .max }
        if x > -2_147_483_648 { return Int32(x) }
        return x.isNaN ? 0 : .min
    }

    // MARK: Control

    /// All CPU work finishes before its primitive returns, so there is nothing to wait for.
    public func synchronize() {}

    public var memoryStatistics: MemoryStatistics { pool.statistics }

    /// The machine's memory: one buffer cannot be larger.
    public var maxAllocationBytes: Int { Int(clamping: info.memoryBytes) }

    /// Frees every block the pool holds for reuse (memory in use is unaffected).
    public func trimMemoryPool() {
        pool.trim()
    }
}
