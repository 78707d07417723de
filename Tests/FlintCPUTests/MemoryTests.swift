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

    @Test func writeAndReadRoundTripWithByteOffsets() {
        let buffer = backend.allocate(byteCount: 40)
        #expect(buffer.byteCount == 40)
        let pointer = (buffer as! CPUBuffer).pointer
        #expect(Int(bitPattern: pointer) % 64 == 0)
        let values: [Float] = (0..<10).map(Float.init)
        values.withUnsafeBytes { backend.write($0, to: buffer, byteOffset: 0) }
        let patch: [Float] = [-1, -2]
        patch.withUnsafeBytes { backend.write($0, to: buffer, byteOffset: 12) }
        #expect(readFloats(buffer, count: 10) == [0, 1, 2, -1, -2, 5, 6, 7, 8, 9])
        #expect(readFloats(buffer, count: 3, offset: 7) == [7, 8, 9])
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

    @Test func fillWritesBitPatterns() {
        let buffer = makeBuffer([Float](repeating: 9, count: 8))
        backend.fill(buffer, offset: 2, count: 4, bits: Float(1.5).bitPattern)
        #expect(readFloats(buffer, count: 8) == [9, 9, 1.5, 1.5, 1.5, 1.5, 9, 9])
        backend.fill(buffer, offset: 0, count: 1, bits: UInt32(bitPattern: -3))
        #expect(readInts(buffer, count: 1) == [-3])
    }

    @Test func castTruncatesTowardZeroAndSaturates() {
        let source = makeBuffer([0, 1.9, -1.9, 2.5, -0.5, 3e9, -3e9, .nan, .infinity, 7])
        let ints = backend.allocate(byteCount: 36)
        backend.cast(source, offset: 1, count: 9, from: .float32, to: .int32, out: ints)
        #expect(readInts(ints, count: 9) == [1, -1, 2, 0, .max, .min, 0, .max, 7])
        let back = backend.allocate(byteCount: 36)
        backend.cast(ints, offset: 0, count: 9, from: .int32, to: .float32, out: back)
        #expect(readFloats(back, count: 9) == [1, -1, 2, 0, 2_147_483_648, -2_147_483_648, 0, 2_147_483_648, 7])
    }

    @Test func int32BitsSurviveCopyAndSameTypeCast() {
        let values: [Int32] = [.min, -1, 0, 1, .max, 0x7FC0_0001]
        let source = makeIntBuffer(values)
        let copied = backend.allocate(byteCount: 24)
        backend.copy(strided(source, [1]), to: strided(copied, [1]), shape: [6])
        #expect(readInts(copied, count: 6) == values)
        let cast = backend.allocate(byteCount: 24)
        backend.cast(source, offset: 0, count: 6, from: .int32, to: .int32, out: cast)
        #expect(readInts(cast, count: 6) == values)
    }

    @Test func copyStridedToStrided() {
        // Source: a 2×3 matrix stored transposed (3×2 row-major), read as [2, 3].
        let source = makeBuffer([1, 4, 2, 5, 3, 6])
        // Destination: the odd elements of a 12-element buffer.
        let target = makeBuffer([Float](repeating: 0, count: 12))
        backend.copy(strided(source, [1, 2]), to: strided(target, offset: 1, [6, 2]), shape: [2, 3])
        #expect(readFloats(target, count: 12) == [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6])

        // Broadcast a column [2, 1] to [2, 3] into a contiguous destination.
        let column = makeBuffer([7, 8])
        let wide = backend.allocate(byteCount: 24)
        backend.copy(strided(column, [1, 0]), to: strided(wide, [3, 1]), shape: [2, 3])
        #expect(readFloats(wide, count: 6) == [7, 7, 7, 8, 8, 8])

        // Rank 3 permutation, compared with an index loop.
        let shape = [3, 4, 5]
        let data = (0..<60).map(Float.init)
        let input = makeBuffer(data)
        let output = backend.allocate(byteCount: 240)
        // out[i, j, k] = in[k, i, j] where in has shape [5, 3, 4]: strides (4, 1, 12).
        backend.copy(strided(input, [4, 1, 12]), to: strided(output, contiguous(shape)), shape: shape)
        var expected: [Float] = []
        for i in 0..<3 { for j in 0..<4 { for k in 0..<5 { expected.append(data[k * 12 + i * 4 + j]) } } }
        #expect(readFloats(output, count: 60) == expected)
    }

    @Test func transposingCopyWithBatchAndOddSizes() {
        // dst [b, r, c] contiguous from a source stored as [b, c, r] at offset 5 (a batched transpose).
        let (b, r, c) = (3, 37, 50)
        let data = (0..<(b * r * c + 5)).map(Float.init)
        let source = makeBuffer(data)
        let target = backend.allocate(byteCount: b * r * c * 4)
        backend.copy(strided(source, offset: 5, [r * c, 1, r]), to: strided(target, contiguous([b, r, c])), shape: [b, r, c])
        var expected: [Float] = []
        for batch in 0..<b { for i in 0..<r { for j in 0..<c { expected.append(data[5 + batch * r * c + j * r + i]) } } }
        #expect(readFloats(target, count: b * r * c) == expected)

        // A large 2-D transpose that runs in parallel.
        let (rows, columns) = (700, 300)
        let big = makeBuffer((0..<(rows * columns)).map(Float.init))
        let out = backend.allocate(byteCount: rows * columns * 4)
        backend.copy(strided(big, [1, rows]), to: strided(out, [columns, 1]), shape: [rows, columns])
        let result = readFloats(out, count: rows * columns)
        var mismatches = 0
        for i in 0..<rows { for j in 0..<columns where result[i * columns + j] != Float(j * rows + i) { mismatches += 1 } }
        #expect(mismatches == 0)
    }

    @Test func largeFillAndCopyUseAllElements() {
        let count = 1 << 20
        let buffer = backend.allocate(byteCount: count * 4)
        backend.fill(buffer, offset: 0, count: count, bits: Float(2).bitPattern)
        let copy = backend.allocate(byteCount: count * 4)
        backend.copy(strided(buffer, [1]), to: strided(copy, [1]), shape: [count])
        let values = readFloats(copy, count: count)
        #expect(values.allSatisfy { $0 == 2 })
    }
}
