import FlintBackend
import FlintCPU
import Testing

@Suite struct MemoryTests {
    @Test func infoDescribesTheHost() {
        let info = backend.info
        #expect(info.kind == .cpu)
        #expect(info.index == 0)
        #expect(info.identifier == "cpu")
        #expect(info.deviceType == "CPU")
        #expect(info.platform.hasPrefix("OpenBLAS"))
        #expect(!info.name.isEmpty)
        #expect(info.computeUnits >= 1)
        #expect(info.memoryBytes > 0)
        #expect(info.driverVersion == "1")
    }

    @Test func blocksAre64ByteAligned() {
        for size in [4, 40, 1000, 1 << 20] {
            let buffer = backend.allocate(byteCount: size)
            #expect(buffer.byteCount == size)
            #expect(Int(bitPattern: (buffer as! CPUBuffer).pointer) % 64 == 0)
        }
    }

    @Test func releasedBlocksAreReused() {
        let device = CPUBackend()
        let start = device.memoryStatistics
        #expect(start == MemoryStatistics())
        var buffer: (any DeviceBuffer)? = device.allocate(byteCount: 1000)
        #expect(device.memoryStatistics.allocations == 1)
        #expect(device.memoryStatistics.bytesReserved == 1024)
        buffer = nil
        // A request in the same size class (513...1024 bytes) takes the released block.
        buffer = device.allocate(byteCount: 600)
        let after = device.memoryStatistics
        #expect(after.allocations == 1)
        #expect(after.reuses == 1)
        #expect(after.bytesReserved == 1024)
        // A different class needs a fresh block.
        let other = device.allocate(byteCount: 10)
        #expect(device.memoryStatistics.allocations == 2)
        #expect(device.memoryStatistics.bytesReserved == 1024 + 256)
        #expect(other.byteCount == 10 && buffer?.byteCount == 600)
        buffer = nil
        device.trimMemoryPool()
        #expect(device.memoryStatistics.bytesReserved == 256)
    }
}
