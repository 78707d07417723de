import CGemm
import FlintBackend
@testable import FlintCPU
import Testing

extension AVX512SwitchTests {
    /// `flint_filter_gradient` (the filter gradient with the image and the gradient read in place)
    /// against `flint_sgemm_gathered` over the same column matrix: the same sums in the same order, so
    /// the same bits, for taps in one run or several, a last tile that overlaps its neighbour, tiles
    /// of 6 taps by 64 filters, 12 by 32, 6 by 32 (where 12 taps do not lie together) and 3 by 32 or
    /// 64 (one channel), whole and
    /// partial, one block of positions or several, and none.
    /// Serialized with every suite under AVX512SwitchTests: the switch is one setting for the whole process. Skipped, with the reason,
    /// where the CPU has no AVX-512 (the only tiles this path has).
    @Suite(.serialized, .enabled(if: BlockedGemm.available && flint_sgemm_avx512_supported() != 0,
                                 "this CPU has no AVX-512 (or no AVX2/FMA): the in-place filter gradient does not run here"))
    struct FilterGradientTests {
        /// A convolution's offset tables over an image `rows × columns × channels` per item: output
        /// positions at each `stride`th pixel of a `kernel × kernel` window, taps the window's pixels.
        static func tables(batch: Int, rows: Int, columns: Int, channels: Int, kernel: Int, stride: Int = 1)
            -> (positions: [Int], taps: [Int], imageCount: Int) {
            let outRows = (rows - kernel) / stride + 1, outColumns = (columns - kernel) / stride + 1
            var positions: [Int] = [], taps: [Int] = []
            for n in 0..<batch { for oh in 0..<outRows { for ow in 0..<outColumns {
                positions.append(((n * rows + oh * stride) * columns + ow * stride) * channels)
            } } }
            for kh in 0..<kernel { for kw in 0..<kernel { for c in 0..<channels { taps.append((kh * columns + kw) * channels + c) } } }
            return (positions, taps, batch * rows * columns * channels)
        }

        @Test(arguments: [(batch: 2, rows: 10, columns: 9, channels: 32, kernel: 3, filters: 64),  // 288 taps, one block
                          (batch: 3, rows: 20, columns: 14, channels: 16, kernel: 3, filters: 40),  // 648 positions, two blocks
                          (batch: 1, rows: 30, columns: 30, channels: 20, kernel: 1, filters: 5),  // 20 taps: the last tile overlaps
                          (batch: 2, rows: 7, columns: 7, channels: 12, kernel: 2, filters: 33),  // 48 taps, a 1-column tile
                          (batch: 1, rows: 5, columns: 5, channels: 36, kernel: 5, filters: 8),  // one position
                          (batch: 2, rows: 8, columns: 9, channels: 6, kernel: 3, filters: 8),  // runs of 18 taps: 6-tap tiles only
                          (batch: 2, rows: 8, columns: 9, channels: 6, kernel: 3, filters: 70),  // 64 filters, then 6 in 6-tap tiles
                          (batch: 3, rows: 9, columns: 9, channels: 32, kernel: 3, filters: 100),  // 64 filters, then 36
                          (batch: 2, rows: 12, columns: 11, channels: 1, kernel: 3, filters: 32),  // one channel: 3-tap tiles
                          (batch: 1, rows: 9, columns: 8, channels: 1, kernel: 3, filters: 45),
                          // Every shape's full-width form: 64 then a whole 12×32, 6×64 then 6×32, 3×64.
                          (batch: 2, rows: 10, columns: 9, channels: 32, kernel: 3, filters: 96),
                          (batch: 2, rows: 8, columns: 9, channels: 6, kernel: 3, filters: 96),
                          (batch: 1, rows: 9, columns: 8, channels: 1, kernel: 3, filters: 64)])
        func sameBitsAsTheGatheredProduct(batch: Int, rows: Int, columns: Int, channels: Int, kernel: Int, filters: Int) throws {
            defer { _ = flint_sgemm_use_avx512(-1) }
            try #require(flint_sgemm_use_avx512(1) == 1, "the CPU has AVX-512, yet the switch to its tiles failed")
            let (positions, taps, imageCount) = Self.tables(batch: batch, rows: rows, columns: columns, channels: channels, kernel: kernel)
            #expect(flint_filter_gradient_in_place(taps.count, taps) == 1, "every tile's taps are adjacent here")
            let image = BlockedGemmTests.values(imageCount, seed: 31)
            let gradient = BlockedGemmTests.values(positions.count * filters, seed: 32)
            var expected = [Float](repeating: 0, count: taps.count * filters)
            flint_sgemm_gathered(taps.count, filters, positions.count, 1, image, taps, positions, gradient, filters, 1, 0,
                                 &expected, filters, nil)
            var result = [Float](repeating: .nan, count: taps.count * filters)
            flint_filter_gradient(taps.count, filters, positions.count, image, positions, taps, gradient, &result)
            let differing = result.indices.first { result[$0].bitPattern != expected[$0].bitPattern }
            #expect(differing == nil, "element \(differing ?? -1): \(differing.map { result[$0] } ?? 0) against \(differing.map { expected[$0] } ?? 0)")
            #expect(expected.contains { $0 != 0 }, "a product of random values is not all zeros")
        }

        /// The CPU backend's filter gradient over many positions: fixed shares of them summed apart
        /// (on whichever cores) and added in order, against the gathered product's one sum.
        /// 16 channels take the product over the image; one channel, the few-channel kernels' path.
        @Test(arguments: [16, 1])
        func sharesOfManyPositionsAddUp(channels: Int) throws {
            defer { _ = flint_sgemm_use_avx512(-1) }
            try #require(flint_sgemm_use_avx512(1) == 1, "the CPU has AVX-512, yet the switch to its tiles failed")
            let side = 50, filters = 24
            let (positions, taps, imageCount) = Self.tables(batch: 4, rows: side, columns: side, channels: channels, kernel: 3)
            try #require(positions.count >= 2 * CPUBackend.filterGradientShare, "enough positions for two shares")
            let geometry = ConvGeometry(batch: 4, height: side, width: side, channels: channels, kernelHeight: 3, kernelWidth: 3,
                                        strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1, padTop: 0, padLeft: 0,
                                        outHeight: side - 2, outWidth: side - 2)
            let image = BlockedGemmTests.values(imageCount, seed: 41)
            let gradient = BlockedGemmTests.values(positions.count * filters, seed: 42)
            var expected = [Float](repeating: 0, count: taps.count * filters)
            flint_sgemm_gathered(taps.count, filters, positions.count, 1, image, taps, positions, gradient, filters, 1, 0,
                                 &expected, filters, nil)
            let out = makeBuffer([Float](repeating: .nan, count: taps.count * filters))
            backend.conv2dFilterGradient(makeBuffer(image), offset: 0, gradient: makeBuffer(gradient), gradientOffset: 0,
                                         geometry: geometry, filters: filters, out: out)
            let result = readFloats(out, count: taps.count * filters)
            // Sums of ~9,000 products of values in [-1, 1): their rounding differs, not by more.
            let worst = zip(result, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .nan
            #expect(worst < 1e-4, "largest difference \(worst)")
            // The shares' bits: each share's sums by the tiles, added in share order (so the
            // backend took this path, whatever the number of cores, and not another).
            let shares = positions.count / CPUBackend.filterGradientShare
            var byShares = [Float](repeating: 0, count: taps.count * filters)
            for share in 0..<shares {
                let span = Parallel.range(share, of: shares, count: positions.count)
                var part = [Float](repeating: .nan, count: taps.count * filters)
                flint_filter_gradient(taps.count, filters, span.count, image, Array(positions[span]), taps,
                                      Array(gradient[(span.lowerBound * filters)..<(span.upperBound * filters)]), &part)
                byShares = share == 0 ? part : zip(byShares, part).map { $0 + $1 }
            }
            let differing = result.indices.first { result[$0].bitPattern != byShares[$0].bitPattern }
            #expect(differing == nil, "element \(differing ?? -1) differs from the shares added in order")
        }

        @Test func noPositionsGiveZeros() throws {
            defer { _ = flint_sgemm_use_avx512(-1) }
            try #require(flint_sgemm_use_avx512(1) == 1, "the CPU has AVX-512, yet the switch to its tiles failed")
            let taps = Array(0..<24)
            var result = [Float](repeating: .nan, count: 24 * 3)
            flint_filter_gradient(24, 3, 0, [Float](), [Int](), taps, [Float](), &result)
            #expect(result.allSatisfy { $0 == 0 })
        }

        @Test func declinesWhatItCannotReadInPlace() throws {
            defer { _ = flint_sgemm_use_avx512(-1) }
            try #require(flint_sgemm_use_avx512(1) == 1, "the CPU has AVX-512, yet the switch to its tiles failed")
            // One channel, 5×5: a window row's taps run 5 long, so the second tile of 3 crosses
            // from one row to the next.
            let split = Self.tables(batch: 1, rows: 8, columns: 8, channels: 1, kernel: 5).taps
            #expect(flint_filter_gradient_in_place(split.count, split) == 0)
            #expect(flint_filter_gradient_in_place(2, Array(0..<2)) == 0, "fewer taps than a tile")
            #expect(flint_filter_gradient_in_place(3, Array(0..<3)) == 1)
            _ = flint_sgemm_use_avx512(0)
            #expect(flint_filter_gradient_in_place(12, Array(0..<12)) == 0, "without the AVX-512 tiles")
        }
    }
}
