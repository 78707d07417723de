import FlintBackend
import Testing

/// A named convolution geometry; the output size follows from the padding on all four sides
/// (bottom and right default to top and left).
struct ConvCase: Sendable, CustomStringConvertible {
    let description: String
    let geometry: ConvGeometry

    init(_ name: String, batch: Int, height: Int, width: Int, channels: Int, kernel: (Int, Int),
         stride: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), pad: (Int, Int) = (0, 0), padBottomRight: (Int, Int)? = nil) {
        let (bottom, right) = padBottomRight ?? pad
        let outHeight = (height + pad.0 + bottom - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1
        let outWidth = (width + pad.1 + right - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1
        description = name
        geometry = ConvGeometry(
            batch: batch, height: height, width: width, channels: channels, kernelHeight: kernel.0, kernelWidth: kernel.1,
            strideHeight: stride.0, strideWidth: stride.1, dilationHeight: dilation.0, dilationWidth: dilation.1,
            padTop: pad.0, padLeft: pad.1, outHeight: outHeight, outWidth: outWidth)
    }

    static let all = [
        ConvCase("1×1", batch: 2, height: 4, width: 5, channels: 3, kernel: (1, 1)),
        ConvCase("3×3 stride 1 pad 1", batch: 2, height: 6, width: 5, channels: 4, kernel: (3, 3), pad: (1, 1)),
        ConvCase("3×3 stride 2, odd sizes", batch: 2, height: 7, width: 9, channels: 3, kernel: (3, 3), stride: (2, 2)),
        ConvCase("2×2 stride 2 (pooling)", batch: 2, height: 8, width: 6, channels: 3, kernel: (2, 2), stride: (2, 2)),
        ConvCase("2×2 stride 2, last row and column in no window", batch: 2, height: 7, width: 5, channels: 9, kernel: (2, 2),
                 stride: (2, 2)),
        ConvCase("2×2 stride 2 padTop 1 padLeft 1", batch: 1, height: 7, width: 6, channels: 3, kernel: (2, 2), stride: (2, 2),
                 pad: (1, 1), padBottomRight: (0, 0)),
        ConvCase("3×3 dilation 2 pad 2", batch: 2, height: 9, width: 8, channels: 2, kernel: (3, 3), dilation: (2, 2), pad: (2, 2)),
        ConvCase("3×2 dilation (2, 3) stride (1, 2) pad (1, 2)", batch: 1, height: 6, width: 10, channels: 3, kernel: (3, 2),
                 stride: (1, 2), dilation: (2, 3), pad: (1, 2)),
        ConvCase("2×3 stride (2, 1) padTop 1 padLeft 0", batch: 2, height: 7, width: 6, channels: 3, kernel: (2, 3),
                 stride: (2, 1), pad: (1, 0), padBottomRight: (0, 0)),
        ConvCase("2×3 stride (2, 1), bottom and right padding", batch: 1, height: 6, width: 5, channels: 2, kernel: (2, 3),
                 stride: (2, 1), pad: (1, 0), padBottomRight: (1, 2)),
        ConvCase("batch 1 channels 1", batch: 1, height: 5, width: 7, channels: 1, kernel: (3, 3), pad: (1, 1)),
        ConvCase("channels 5", batch: 1, height: 6, width: 6, channels: 5, kernel: (3, 3), stride: (2, 2), pad: (1, 1)),
        ConvCase("2×2 stride 3 (unread gaps)", batch: 2, height: 8, width: 7, channels: 2, kernel: (2, 2), stride: (3, 3)),
        ConvCase("kernel wider than the image", batch: 1, height: 3, width: 2, channels: 2, kernel: (5, 5), pad: (2, 2)),
        ConvCase("large (parallel)", batch: 8, height: 28, width: 28, channels: 16, kernel: (3, 3), pad: (1, 1)),
        ConvCase("8 channels, 3×3 stride 2 pad 1 (vector paths)", batch: 2, height: 9, width: 7, channels: 8, kernel: (3, 3),
                 stride: (2, 2), pad: (1, 1)),
    ]

    /// Where entry (row, column) of the column matrix reads the image, or nil for padding.
    func source(row: Int, column: Int) -> Int? {
        let g = geometry
        let c = column % g.channels, tap = column / g.channels
        let kw = tap % g.kernelWidth, kh = tap / g.kernelWidth
        let ow = row % g.outWidth, oh = row / g.outWidth % g.outHeight, n = row / (g.outWidth * g.outHeight)
        let ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight
        let iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth
        guard (0..<g.height).contains(ih), (0..<g.width).contains(iw) else { return nil }
        return ((n * g.height + ih) * g.width + iw) * g.channels + c
    }

    var imageCount: Int { geometry.imageCount }
    var columnCount: Int { geometry.patchCount * geometry.patchSize }
    var pooledCount: Int { geometry.patchCount * geometry.channels }
    var taps: Int { geometry.kernelHeight * geometry.kernelWidth }

    func referenceIm2col(_ x: [Float], padValue: Float) -> [Double] {
        (0..<columnCount).map { i in
            source(row: i / geometry.patchSize, column: i % geometry.patchSize).map { Double(x[$0]) } ?? Double(padValue)
        }
    }

    func referenceCol2im(_ columns: [Float]) -> [Double] {
        var image = [Double](repeating: 0, count: imageCount)
        for i in 0..<columnCount {
            if let s = source(row: i / geometry.patchSize, column: i % geometry.patchSize) { image[s] += Double(columns[i]) }
        }
        return image
    }

    /// Max pooling as `Backend.maxPool2d` defines it: the first NaN wins, else the first of the
    /// largest; padding never wins; a window wholly in padding gives -∞ and tap -1.
    func referenceMaxPool(_ x: [Float]) -> (values: [Float], taps: [Int32]) {
        var values = [Float](repeating: -.infinity, count: pooledCount), winners = [Int32](repeating: -1, count: pooledCount)
        for row in 0..<geometry.patchCount {
            for c in 0..<geometry.channels {
                let at = row * geometry.channels + c
                for tap in 0..<taps {
                    guard let s = source(row: row, column: tap * geometry.channels + c) else { continue }
                    let v = x[s], best = values[at]
                    if winners[at] == -1 || (!best.isNaN && (v.isNaN || v > best)) {
                        values[at] = v
                        winners[at] = Int32(tap)
                    }
                }
            }
        }
        return (values, winners)
    }

    func referenceMaxPoolBackward(_ gradient: [Float], taps winners: [Int32]) -> [Double] {
        var image = [Double](repeating: 0, count: imageCount)
        for row in 0..<geometry.patchCount {
            for c in 0..<geometry.channels {
                let tap = Int(winners[row * geometry.channels + c])
                guard tap >= 0, let s = source(row: row, column: tap * geometry.channels + c) else { continue }
                image[s] += Double(gradient[row * geometry.channels + c])
            }
        }
        return image
    }

    /// Inputs that meet every rule of max pooling: ties (a few distinct values), NaN, ±∞ and signed zeros.
    func poolingInput(seed: UInt64) -> [Float] {
        var random = TestRandom(seed: seed)
        let palette: [Float] = [-1, 0, 0.5, 2, 2, -.infinity, .infinity, -0.0, .nan, 3]
        return (0..<imageCount).map { _ in
            let r = Int(random.next() % 40)
            return r < palette.count ? palette[r] : Float(r % 5) - 2
        }
    }
}

extension BackendConformance {
    static let windows: [ConformanceCheck] = [
        ConformanceCheck("im2col: every geometry against the reference, the image at an offset") { backend in
            for test in ConvCase.all {
                var random = TestRandom(seed: UInt64(test.columnCount))
                let values = random.floats(test.imageCount + 3)
                let out = backend.upload([Float](repeating: .nan, count: test.columnCount))
                backend.im2col(backend.upload(values), offset: 3, geometry: test.geometry, padValue: 0, out: out)
                #expect(backend.floats(out, count: test.columnCount) == test.referenceIm2col(Array(values[3...]), padValue: 0).map(Float.init),
                        "\(test)")
            }
        },
        ConformanceCheck("im2col: padValue -∞ outside the image (max pooling)") { backend in
            let test = ConvCase("3×3 stride 2 pad 1", batch: 2, height: 5, width: 6, channels: 3, kernel: (3, 3), stride: (2, 2), pad: (1, 1))
            var random = TestRandom(seed: 7)
            let values = random.floats(test.imageCount)
            let out = backend.upload([Float](repeating: .nan, count: test.columnCount))
            backend.im2col(backend.upload(values), offset: 0, geometry: test.geometry, padValue: -.infinity, out: out)
            let expected = test.referenceIm2col(values, padValue: -.infinity)
            #expect(expected.contains(-.infinity))
            #expect(backend.floats(out, count: test.columnCount) == expected.map(Float.init))
        },
        ConformanceCheck("col2im: every geometry against the reference, stale output overwritten") { backend in
            for test in ConvCase.all {
                var random = TestRandom(seed: UInt64(test.imageCount))
                let columns = random.floats(test.columnCount + 2)
                // Stale contents must be overwritten, including where no column reads the image.
                let out = backend.upload([Float](repeating: .nan, count: test.imageCount))
                backend.col2im(backend.upload(columns), offset: 2, geometry: test.geometry, out: out)
                expectClose(backend.floats(out, count: test.imageCount), test.referenceCol2im(Array(columns[2...])), tolerance: 1e-6, "\(test)")
            }
        },
        ConformanceCheck("col2im is the adjoint of im2col: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩") { backend in
            for test in ConvCase.all {
                var random = TestRandom(seed: 99 &+ UInt64(test.columnCount))
                let x = random.floats(test.imageCount), y = random.floats(test.columnCount)
                let unfolded = backend.allocate(byteCount: test.columnCount * 4), folded = backend.allocate(byteCount: test.imageCount * 4)
                backend.im2col(backend.upload(x), offset: 0, geometry: test.geometry, padValue: 0, out: unfolded)
                backend.col2im(backend.upload(y), offset: 0, geometry: test.geometry, out: folded)
                let left = zip(backend.floats(unfolded, count: test.columnCount), y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let right = zip(x, backend.floats(folded, count: test.imageCount)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                #expect(abs(left - right) <= 1e-5 * abs(left), "\(test): ⟨im2col(x), y⟩ = \(left), ⟨x, col2im(y)⟩ = \(right)")
            }
        },
        ConformanceCheck("maxPool2d: values and taps (first NaN, else first maximum; padding never wins), every geometry") { backend in
            for test in ConvCase.all {
                let x = test.poolingInput(seed: UInt64(test.imageCount))
                let values = backend.upload([Float](repeating: 7, count: test.pooledCount))
                let taps = backend.upload(ints: [Int32](repeating: 77, count: test.pooledCount))
                backend.maxPool2d(backend.upload([0, 0] + x), offset: 2, geometry: test.geometry, out: values, taps: taps)
                let expected = test.referenceMaxPool(x)
                #expect(backend.ints(taps, count: test.pooledCount) == expected.taps, "taps, \(test)")
                #expect(sameValues(backend.floats(values, count: test.pooledCount), expected.values), "values, \(test)")
            }
        },
        ConformanceCheck("maxPool2d: handwritten ties, NaN, -∞ beside padding, and windows wholly in padding") { backend in
            // One channel, 2×3 image: [[1, 5, 5], [-∞, NaN, 2]], 2×2 windows, stride 1, pad 1 all round.
            let test = ConvCase("2×2 pad 1", batch: 1, height: 2, width: 3, channels: 1, kernel: (2, 2), pad: (1, 1))
            let x: [Float] = [1, 5, 5, -.infinity, .nan, 2]
            let values = backend.allocate(byteCount: test.pooledCount * 4), taps = backend.allocate(byteCount: test.pooledCount * 4)
            backend.maxPool2d(backend.upload(x), offset: 0, geometry: test.geometry, out: values, taps: taps)
            let expected = test.referenceMaxPool(x)
            #expect(backend.ints(taps, count: test.pooledCount) == expected.taps)
            #expect(sameValues(backend.floats(values, count: test.pooledCount), expected.values))
            // The ties: window (0, 1) holds 1 and 5 (tap 3); window (0, 2) holds 5, 5 (first: tap 2).
            #expect(Array(backend.ints(taps, count: test.pooledCount)[1...2]) == [3, 2])
            // A real -∞ wins over padding: the top-left window is [pad, pad, pad, 1] → tap 3; an
            // image of -∞ gives tap 3 as well (the only real one), not a padding tap.
            let minus = backend.upload([Float](repeating: -.infinity, count: 6))
            backend.maxPool2d(minus, offset: 0, geometry: test.geometry, out: values, taps: taps)
            #expect(backend.ints(taps, count: test.pooledCount) == test.referenceMaxPool([Float](repeating: -.infinity, count: 6)).taps)
            #expect(backend.ints(taps, count: 1) == [3])
            // Windows wholly in padding: pad 3 with a 2×2 window.
            let outside = ConvCase("2×2 pad 3", batch: 1, height: 2, width: 2, channels: 2, kernel: (2, 2), stride: (2, 2), pad: (3, 3))
            let o = backend.allocate(byteCount: outside.pooledCount * 4), t = backend.allocate(byteCount: outside.pooledCount * 4)
            backend.maxPool2d(backend.upload([1, 2, 3, 4, 5, 6, 7, 8]), offset: 0, geometry: outside.geometry, out: o, taps: t)
            let reference = outside.referenceMaxPool([1, 2, 3, 4, 5, 6, 7, 8])
            #expect(reference.taps.contains(-1))
            #expect(backend.ints(t, count: outside.pooledCount) == reference.taps)
            #expect(backend.floats(o, count: outside.pooledCount) == reference.values)
        },
        ConformanceCheck("maxPool2dBackward: a winner's -0 gradient lands as +0 (added to zero), NaN stays NaN, windows apart or overlapping") { backend in
            // One channel, 4×4, 2×2 windows with stride 2 (apart) and stride 1 (overlapping), every tap 3.
            for (stride, outputs) in [(2, 2), (1, 3)] {
                let test = ConvCase("2×2 stride \(stride)", batch: 1, height: 4, width: 4, channels: 1, kernel: (2, 2),
                                    stride: (stride, stride))
                let count = outputs * outputs
                var gradient = [Float](repeating: -0.0, count: count)
                gradient[count - 1] = .nan
                let out = backend.upload([Float](repeating: 7, count: 16))
                backend.maxPool2dBackward(backend.upload(gradient), offset: 0, taps: backend.upload(ints: [Int32](repeating: 3, count: count)),
                                          geometry: test.geometry, out: out)
                let values = backend.floats(out, count: 16)
                // Window (oh, ow)'s tap 3 reads (oh·stride + 1, ow·stride + 1); the last window's is NaN.
                let last = ((outputs - 1) * stride + 1) * 4 + (outputs - 1) * stride + 1
                #expect(values[last].isNaN, "\(test): NaN gradient at its winner")
                #expect(values.enumerated().allSatisfy { $0.offset == last || $0.element.bitPattern == 0 },
                        "\(test): every other element +0 (bits): \(values.map(\.bitPattern))")
            }
        },
        ConformanceCheck("maxPool2dBackward: gradients to the winning taps, summed, stale output overwritten") { backend in
            for test in ConvCase.all {
                let x = test.poolingInput(seed: 3 &+ UInt64(test.imageCount))
                let taps = test.referenceMaxPool(x).taps
                var random = TestRandom(seed: UInt64(test.pooledCount))
                let gradient = random.floats(test.pooledCount + 1)
                let out = backend.upload([Float](repeating: .nan, count: test.imageCount))
                backend.maxPool2dBackward(backend.upload(gradient), offset: 1, taps: backend.upload(ints: taps), geometry: test.geometry, out: out)
                expectClose(backend.floats(out, count: test.imageCount),
                            test.referenceMaxPoolBackward(Array(gradient[1...]), taps: taps), tolerance: 1e-6, "\(test)")
            }
        },
    ]
}

/// Equal element by element, NaN matching NaN.
func sameValues(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}
