import FlintBackend
import Testing

extension BackendConformance {
    static let memory: [ConformanceCheck] = [
        ConformanceCheck("memory: write and read round trip with byte offsets") { backend in
            let buffer = backend.allocate(byteCount: 40)
            #expect(buffer.byteCount == 40)
            let values: [Float] = (0..<10).map(Float.init)
            values.withUnsafeBytes { backend.write($0, to: buffer, byteOffset: 0) }
            let patch: [Float] = [-1, -2]
            patch.withUnsafeBytes { backend.write($0, to: buffer, byteOffset: 12) }
            #expect(backend.floats(buffer, count: 10) == [0, 1, 2, -1, -2, 5, 6, 7, 8, 9])
            #expect(backend.floats(buffer, count: 3, offset: 7) == [7, 8, 9])
        },
        ConformanceCheck("fill: bit patterns at an offset, the rest untouched") { backend in
            let buffer = backend.upload([Float](repeating: 9, count: 8))
            backend.fill(buffer, offset: 2, count: 4, bits: Float(1.5).bitPattern)
            #expect(backend.floats(buffer, count: 8) == [9, 9, 1.5, 1.5, 1.5, 1.5, 9, 9])
            backend.fill(buffer, offset: 0, count: 1, bits: UInt32(bitPattern: -3))
            #expect(backend.ints(buffer, count: 1) == [-3])
            let wide = backend.upload([Float](repeating: 7, count: 300))
            backend.fill(wide, offset: 5, count: 290, bits: Float(-1.5).bitPattern)
            let result = backend.floats(wide, count: 300)
            #expect(result[..<5].allSatisfy { $0 == 7 } && result[5..<295].allSatisfy { $0 == -1.5 } && result[295...].allSatisfy { $0 == 7 })
        },
        ConformanceCheck("cast: float to int truncates toward zero and saturates, NaN gives 0; int to float rounds") { backend in
            let source = backend.upload([0, 1.9, -1.9, 2.5, -0.5, 3e9, -3e9, .nan, .infinity, 7])
            let ints = backend.allocate(byteCount: 36)
            backend.cast(source, offset: 1, count: 9, from: .float32, to: .int32, out: ints)
            #expect(backend.ints(ints, count: 9) == [1, -1, 2, 0, .max, .min, 0, .max, 7])
            let back = backend.allocate(byteCount: 36)
            backend.cast(ints, offset: 0, count: 9, from: .int32, to: .float32, out: back)
            #expect(backend.floats(back, count: 9) == [1, -1, 2, 0, 2_147_483_648, -2_147_483_648, 0, 2_147_483_648, 7])

            let values: [Float] = [1.9, -1.9, .nan, 3e9, -3e9, 0.5, -0.0, 16_777_216, -7, -.infinity]
            let out = backend.allocate(byteCount: values.count * 4)
            backend.cast(backend.upload([0] + values), offset: 1, count: values.count, from: .float32, to: .int32, out: out)
            #expect(backend.ints(out, count: values.count) == [1, -1, 0, .max, .min, 0, 0, 16_777_216, -7, .min])
            let big: [Int32] = [0, 1, -1, .max, .min, 16_777_217]
            let floats = backend.allocate(byteCount: big.count * 4)
            backend.cast(backend.upload(ints: big), offset: 0, count: big.count, from: .int32, to: .float32, out: floats)
            #expect(backend.floats(floats, count: big.count) == big.map { Float($0) })
        },
        ConformanceCheck("copy and same-type cast keep int32 and NaN payload bits") { backend in
            let values: [Int32] = [.min, -1, 0, 1, .max, 0x7FC0_0001]
            let source = backend.upload(ints: values)
            let copied = backend.allocate(byteCount: 24)
            backend.copy(strided(source, [1]), to: strided(copied, [1]), shape: [6])
            #expect(backend.ints(copied, count: 6) == values)
            let cast = backend.allocate(byteCount: 24)
            backend.cast(source, offset: 0, count: 6, from: .int32, to: .int32, out: cast)
            #expect(backend.ints(cast, count: 6) == values)
            let floatCast = backend.allocate(byteCount: 24)
            backend.cast(source, offset: 0, count: 6, from: .float32, to: .float32, out: floatCast)
            #expect(backend.ints(floatCast, count: 6) == values)
        },
        ConformanceCheck("copy: strided to strided, broadcast, permuted, into the middle of a buffer") { backend in
            // Source: a 2×3 matrix stored transposed (3×2 row-major), read as [2, 3].
            let source = backend.upload([1, 4, 2, 5, 3, 6])
            // Destination: the odd elements of a 12-element buffer.
            let target = backend.upload([Float](repeating: 0, count: 12))
            backend.copy(strided(source, [1, 2]), to: strided(target, offset: 1, [6, 2]), shape: [2, 3])
            #expect(backend.floats(target, count: 12) == [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6])
            // Broadcast a column [2, 1] to [2, 3] into a contiguous destination.
            let wide = backend.allocate(byteCount: 24)
            backend.copy(strided(backend.upload([7, 8]), [1, 0]), to: strided(wide, [3, 1]), shape: [2, 3])
            #expect(backend.floats(wide, count: 6) == [7, 7, 7, 8, 8, 8])
            // out[i, j, k] = in[k, i, j] where in has shape [5, 3, 4]: strides (4, 1, 12).
            let data = (0..<60).map(Float.init)
            let output = backend.allocate(byteCount: 240)
            backend.copy(strided(backend.upload(data), [4, 1, 12]), to: strided(output, contiguous([3, 4, 5])), shape: [3, 4, 5])
            var expected: [Float] = []
            for i in 0..<3 { for j in 0..<4 { for k in 0..<5 { expected.append(data[k * 12 + i * 4 + j]) } } }
            #expect(backend.floats(output, count: 60) == expected)

            // Bit patterns (NaN payloads, -0, all ones) written transposed into columns 3...4 of a 3×4 block.
            let patterns: [UInt32] = [0x7FC0_0001, 0x8000_0000, 0xFFFF_FFFF, 1, 2, 3]
            let src = backend.upload(bits: patterns)
            let d: UInt32 = 0xDEAD_BEEF
            let dst = backend.upload(bits: [UInt32](repeating: d, count: 14))
            backend.copy(strided(src, [1, 3]), to: strided(dst, offset: 3, [4, 1]), shape: [3, 2])
            #expect(backend.bits(dst, count: 14)
                == [d, d, d, patterns[0], patterns[3], d, d, patterns[1], patterns[4], d, d, patterns[2], patterns[5], d])
            // A contiguous copy from an offset.
            let out = backend.allocate(byteCount: 16)
            backend.copy(strided(src, offset: 2, [1]), to: strided(out, [1]), shape: [4])
            #expect(backend.bits(out, count: 4) == Array(patterns[2...]))
            // A scalar broadcast into a larger block.
            let big = backend.allocate(byteCount: 1000 * 4)
            backend.copy(strided(src, offset: 3, [0, 0]), to: strided(big, [100, 1]), shape: [10, 100])
            #expect(backend.bits(big, count: 1000) == [UInt32](repeating: 1, count: 1000))
        },
        ConformanceCheck("copy: batched transposes of odd sizes, padded destinations, and a large 2-D transpose") { backend in
            // dst [b, r, c] contiguous from a source stored as [b, c, r] at offset 5.
            let (b, r, c) = (3, 37, 50)
            let data = (0..<(b * r * c + 5)).map(Float.init)
            let target = backend.allocate(byteCount: b * r * c * 4)
            backend.copy(strided(backend.upload(data), offset: 5, [r * c, 1, r]), to: strided(target, contiguous([b, r, c])),
                         shape: [b, r, c])
            var expected: [Float] = []
            for batch in 0..<b { for i in 0..<r { for j in 0..<c { expected.append(data[5 + batch * r * c + j * r + i]) } } }
            #expect(backend.floats(target, count: b * r * c) == expected)

            // src [3, 37, 19] copied as its [3, 19, 37] transpose into rows padded to 40, batches 800 apart, at offset 7.
            let shape = [3, 19, 37]
            let values = (0..<(3 * 37 * 19)).map { UInt32($0) }
            let dstCount = 7 + 3 * 800
            let dst = backend.upload(bits: [UInt32](repeating: .max, count: dstCount))
            let (srcStrides, dstStrides) = ([37 * 19, 1, 19], [800, 40, 1])
            backend.copy(strided(backend.upload(bits: values), srcStrides), to: strided(dst, offset: 7, dstStrides), shape: shape)
            var wanted = [UInt32](repeating: .max, count: dstCount)
            for (from, to) in zip(stridedOffsets(shape: shape, strides: srcStrides), stridedOffsets(shape: shape, strides: dstStrides, offset: 7)) {
                wanted[to] = values[from]
            }
            #expect(backend.bits(dst, count: dstCount) == wanted)

            let (rows, columns) = (700, 300)
            let out = backend.allocate(byteCount: rows * columns * 4)
            backend.copy(strided(backend.upload((0..<(rows * columns)).map(Float.init)), [1, rows]), to: strided(out, [columns, 1]),
                         shape: [rows, columns])
            let result = backend.floats(out, count: rows * columns)
            var mismatches = 0
            for i in 0..<rows { for j in 0..<columns where result[i * columns + j] != Float(j * rows + i) { mismatches += 1 } }
            #expect(mismatches == 0)
        },
        ConformanceCheck("fill and copy: 1M elements, every one") { backend in
            let count = 1 << 20
            let buffer = backend.allocate(byteCount: count * 4)
            backend.fill(buffer, offset: 0, count: count, bits: Float(2).bitPattern)
            let copy = backend.allocate(byteCount: count * 4)
            backend.copy(strided(buffer, [1]), to: strided(copy, [1]), shape: [count])
            #expect(backend.floats(copy, count: count).allSatisfy { $0 == 2 })
        },
        ConformanceCheck("upload(converting:): each stored type to x·scale + shift, within two roundings, bit for bit the host's") {
            backend in
            var random = TestRandom(seed: 61)
            // Empty, odd tails, every byte value, and enough elements for a parallel split.
            for count in [0, 1, 7, 1000, 70_001] {
                for type in HostScalar.allCases {
                    let bytes: [UInt8] = (0..<count).flatMap { i -> [UInt8] in
                        switch type {
                        case .uint8, .int8: return [UInt8(truncatingIfNeeded: i < 256 ? UInt64(i) : random.next())]
                        case .int32: return withUnsafeBytes(of: Int32(truncatingIfNeeded: random.next() % (1 << 25)) - (1 << 24)) { Array($0) }
                        case .float32: return withUnsafeBytes(of: random.float(-300, 300)) { Array($0) }
                        }
                    }
                    let stored = bytes.withUnsafeBytes { raw in (0..<count).map { Double(type.load(raw, $0)) } }
                    for (scale, shift) in [(Float(1), Float(0)), (1 / 255, 0), (1 / (255 * 0.3081), -0.1307 / 0.3081), (-3.5, 1e3)] {
                        let out = backend.allocate(byteCount: Swift.max(count, 1) * 4)
                        bytes.withUnsafeBytes { backend.upload(converting: $0, as: type, scale: scale, shift: shift, to: out) }
                        let got = backend.floats(out, count: count)
                        // |fl(fl(x·s) + c) − (x·s + c)| ≤ 2⁻²⁴ (2|x·s| + |c|) to first order.
                        let wrong = zip(got, stored).filter { value, x in
                            let exact = x * Double(scale) + Double(shift)
                            return abs(Double(value) - exact) > 0x1p-24 * (2 * abs(x * Double(scale)) + abs(Double(shift))) * 1.001
                        }
                        #expect(wrong.isEmpty, "\(type) × \(scale) + \(shift), \(count) elements: \(wrong.count) wrong")
                        // Product and sum rounded separately, never fused: the same bits as the host default.
                        let host = bytes.withUnsafeBytes { raw in
                            (0..<count).map { index -> Float in
                                let product = type.load(raw, index) * scale
                                return product + shift
                            }
                        }
                        #expect(got.map(\.bitPattern) == host.map(\.bitPattern), "\(type) × \(scale) + \(shift): not the host's bits")
                    }
                }
            }
        },
    ]
}
