import Foundation
import FlintCore
import FlintData

/// Writes grey-level images as one picture: a grid of tiles, `columns` wide, separated (and
/// framed) by 1-pixel lines, saved as binary PGM (P5), which most image viewers open and
/// `python3 -c "from PIL import Image; Image.open('x.pgm').save('x.png')"` converts.
///
///     try ImageGrid.write(samples, columns: 8, to: URL(fileURLWithPath: "out/samples.pgm"))
///
/// Pixel values are clamped to `range` and mapped linearly to 0…255 (pass `-1...1` for tanh
/// outputs). The file is written with `AtomicFile`, so a reader never sees half a picture.
/// Missing folders are created.
public enum ImageGrid {
    /// Grey level of the separator lines, in [0, 1].
    public static let separatorLevel: Float = 0.5

    /// Writes `images` (each `height × width` values, row-major). When `height` and `width`
    /// are omitted the images must be square.
    public static func write(
        _ images: [[Float]], height: Int? = nil, width: Int? = nil, columns: Int,
        range: ClosedRange<Float> = 0...1, to url: URL
    ) throws {
        let data = try pgm(images, height: height, width: width, columns: columns, range: range)
        try AtomicFile.write(data, to: url)
    }

    /// Writes a tensor of shape `[n, height, width]` or `[n, height, width, 1]` (any device).
    public static func write(_ images: Tensor, columns: Int, range: ClosedRange<Float> = 0...1, to url: URL) throws {
        let data = try pgm(images, columns: columns, range: range)
        try AtomicFile.write(data, to: url)
    }

    /// The PGM bytes `write` would save for a tensor of shape `[n, height, width(, 1)]`.
    public static func pgm(_ images: Tensor, columns: Int, range: ClosedRange<Float> = 0...1) throws -> Data {
        let shape = images.shape
        guard shape.count == 3 || (shape.count == 4 && shape[3] == 1) else {
            throw ImageGridError.badShape(shape)
        }
        guard shape[0] > 0 else { throw ImageGridError.noImages }
        guard images.dtype == .float32 else { throw ImageGridError.badShape(shape) }
        let (count, height, width) = (shape[0], shape[1], shape[2])
        let values = images.toArray()
        let size = height * width
        let tiles = (0..<count).map { Array(values[($0 * size)..<(($0 + 1) * size)]) }
        return try pgm(tiles, height: height, width: width, columns: columns, range: range)
    }

    /// The PGM bytes `write` would save for `images`.
    public static func pgm(
        _ images: [[Float]], height: Int? = nil, width: Int? = nil, columns: Int, range: ClosedRange<Float> = 0...1
    ) throws -> Data {
        guard let first = images.first else { throw ImageGridError.noImages }
        guard columns > 0 else { throw ImageGridError.invalidColumns(columns) }
        guard range.upperBound > range.lowerBound else { throw ImageGridError.emptyRange(range) }
        let h: Int, w: Int
        switch (height, width) {
        case let (givenHeight?, givenWidth?):
            (h, w) = (givenHeight, givenWidth)
        case (nil, nil):
            let side = Int(Double(first.count).squareRoot().rounded())
            guard side * side == first.count else { throw ImageGridError.notSquare(pixels: first.count) }
            (h, w) = (side, side)
        case let (givenHeight?, nil):
            (h, w) = (givenHeight, givenHeight > 0 ? first.count / givenHeight : 0)
        case let (nil, givenWidth?):
            (h, w) = (givenWidth > 0 ? first.count / givenWidth : 0, givenWidth)
        }
        guard h > 0, w > 0 else { throw ImageGridError.badSize(height: h, width: w) }
        for (index, image) in images.enumerated() where image.count != h * w {
            throw ImageGridError.wrongPixelCount(index: index, expected: h * w, got: image.count)
        }

        let cols = min(columns, images.count)
        let rows = (images.count + cols - 1) / cols
        let gridWidth = cols * (w + 1) + 1, gridHeight = rows * (h + 1) + 1
        let scale = 1 / (range.upperBound - range.lowerBound)
        func level(_ v: Float) -> UInt8 {
            let unit = v.isNaN ? 0 : min(max((v - range.lowerBound) * scale, 0), 1)
            return UInt8((unit * 255).rounded())
        }
        var pixels = [UInt8](repeating: UInt8((separatorLevel * 255).rounded()), count: gridWidth * gridHeight)
        for (index, image) in images.enumerated() {
            let top = (index / cols) * (h + 1) + 1, left = (index % cols) * (w + 1) + 1
            for y in 0..<h {
                let row = (top + y) * gridWidth + left
                for x in 0..<w { pixels[row + x] = level(image[y * w + x]) }
            }
        }
        var data = Data("P5\n\(gridWidth) \(gridHeight)\n255\n".utf8)
        data.append(contentsOf: pixels)
        return data
    }
}

/// Why `ImageGrid` could not make a picture.
public enum ImageGridError: Error, Equatable, CustomStringConvertible {
    case noImages
    case invalidColumns(Int)
    case emptyRange(ClosedRange<Float>)
    case notSquare(pixels: Int)
    case badSize(height: Int, width: Int)
    case wrongPixelCount(index: Int, expected: Int, got: Int)
    case badShape([Int])

    public var description: String {
        switch self {
        case .noImages: "ImageGrid: no images to write"
        case .invalidColumns(let n): "ImageGrid: columns must be positive, got \(n)"
        case .emptyRange(let r): "ImageGrid: value range \(r) is empty"
        case .notSquare(let n): "ImageGrid: \(n) pixels is not a square image; pass height and width"
        case .badSize(let h, let w): "ImageGrid: image size \(h)×\(w) is not positive"
        case .wrongPixelCount(let i, let expected, let got): "ImageGrid: image \(i) has \(got) pixels, expected \(expected)"
        case .badShape(let s): "ImageGrid: expected a float32 tensor of shape [n, height, width] or [n, height, width, 1], got \(s)"
        }
    }
}

extension ImageGridError: LocalizedError {
    public var errorDescription: String? { description }
}
