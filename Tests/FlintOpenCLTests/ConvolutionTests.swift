import FlintBackend
import FlintOpenCL
import Foundation
import Testing

/// A named convolution geometry; the output size follows from the padding on all four sides
/// (bottom and right default to top and left).
struct ConvCase: Sendable, CustomStringConvertible {
    let description: String
    let geometry: ConvGeometry

    init(
        _ name: String, batch: Int, height: Int, width: Int, channels: Int, kernel: (Int, Int),
        stride: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), pad: (Int, Int) = (0, 0),
        padBottomRight: (Int, Int)? = nil
    ) {
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
        ConvCase("3×3 dilation 2 pad 2", batch: 2, height: 9, width: 8, channels: 2, kernel: (3, 3), dilation: (2, 2), pad: (2, 2)),
        ConvCase(
            "3×2 dilation (2, 3) stride (1, 2) pad (1, 2)", batch: 1, height: 6, width: 10, channels: 3, kernel: (3, 2),
            stride: (1, 2), dilation: (2, 3), pad: (1, 2)),
        ConvCase(
            "2×3 stride (2, 1) padTop 1 padLeft 0", batch: 2, height: 7, width: 6, channels: 3, kernel: (2, 3),
            stride: (2, 1), pad: (1, 0), padBottomRight: (0, 0)),
        ConvCase(
            "2×3 stride (2, 1), bottom and right padding", batch: 1, height: 6, width: 5, channels: 2, kernel: (2, 3),
            stride: (2, 1), pad: (1, 0), padBottomRight: (1, 2)),
        ConvCase("batch 1 channels 1", batch: 1, height: 5, width: 7, channels: 1, kernel: (3, 3), pad: (1, 1)),
        ConvCase("channels 5", batch: 1, height: 6, width: 6, channels: 5, kernel: (3, 3), stride: (2, 2), pad: (1, 1)),
        ConvCase("2×2 stride 3 (unread gaps)", batch: 2, height: 8, width: 7, channels: 2, kernel: (2, 2), stride: (3, 3)),
        ConvCase("kernel wider than the image", batch: 1, height: 3, width: 2, channels: 2, kernel: (5, 5), pad: (2, 2)),
        ConvCase("large (parallel)", batch: 8, height: 28, width: 28, channels: 16, kernel: (3, 3), pad: (1, 1)),
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

    var imageCount: Int { geometry.batch * geometry.height * geometry.width * geometry.channels }
    var columnCount: Int { geometry.patchCount * geometry.patchSize }

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
}

@Suite("OpenCL im2col and col2im", .enabled(if: TestDevice.available))
struct ConvolutionTests {
    @Test(arguments: ConvCase.all)
    func im2colMatchesTheReference(_ test: ConvCase) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: UInt64(test.columnCount))
        let values = random.floats(test.imageCount + 3)
        let out = backend.upload([Float](repeating: .nan, count: test.columnCount))
        // The image starts at element 3 of its buffer.
        backend.im2col(backend.upload(values), offset: 3, geometry: test.geometry, padValue: 0, out: out)
        let expected = test.referenceIm2col(Array(values[3...]), padValue: 0).map(Float.init)
        #expect(backend.floats(out, count: test.columnCount) == expected)
    }

    @Test("im2col writes padValue = -∞ outside the image (max pooling)")
    func im2colNegativeInfinityPadding() throws {
        let backend = try TestDevice.backend()
        let test = ConvCase("3×3 stride 2 pad 1", batch: 2, height: 5, width: 6, channels: 3, kernel: (3, 3), stride: (2, 2), pad: (1, 1))
        var random = TestRandom(seed: 7)
        let values = random.floats(test.imageCount)
        let out = backend.upload([Float](repeating: .nan, count: test.columnCount))
        backend.im2col(backend.upload(values), offset: 0, geometry: test.geometry, padValue: -.infinity, out: out)
        let expected = test.referenceIm2col(values, padValue: -.infinity)
        #expect(expected.contains(-.infinity))
        #expect(backend.floats(out, count: test.columnCount) == expected.map(Float.init))
    }

    @Test(arguments: ConvCase.all)
    func col2imMatchesTheReference(_ test: ConvCase) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: UInt64(test.imageCount))
        let columns = random.floats(test.columnCount + 2)
        // Stale contents must be overwritten, including where no column reads the image.
        let out = backend.upload([Float](repeating: .nan, count: test.imageCount))
        backend.col2im(backend.upload(columns), offset: 2, geometry: test.geometry, out: out)
        let actual = backend.floats(out, count: test.imageCount)
        let expected = test.referenceCol2im(Array(columns[2...]))
        let wrong = actual.indices.filter { !isClose(actual[$0], expected[$0]) }
        #expect(wrong.isEmpty, "\(wrong.count) wrong, first \(wrong.first.map { "element \($0): \(actual[$0]) vs \(expected[$0])" } ?? "")")
    }

    @Test(arguments: ConvCase.all)
    func col2imIsTheAdjointOfIm2col(_ test: ConvCase) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 99 &+ UInt64(test.columnCount))
        let x = random.floats(test.imageCount)
        let y = random.floats(test.columnCount)
        let unfolded = backend.allocate(byteCount: test.columnCount * 4)
        let folded = backend.allocate(byteCount: test.imageCount * 4)
        backend.im2col(backend.upload(x), offset: 0, geometry: test.geometry, padValue: 0, out: unfolded)
        backend.col2im(backend.upload(y), offset: 0, geometry: test.geometry, out: folded)
        let left = zip(backend.floats(unfolded, count: test.columnCount), y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x, backend.floats(folded, count: test.imageCount)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) <= 1e-5 * abs(left), "⟨im2col(x), y⟩ = \(left), ⟨x, col2im(y)⟩ = \(right)")
    }
}
