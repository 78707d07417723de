import Foundation
import FlintCore
import FlintData

/// Lays grey-level images out as one picture: a grid of tiles, `columns` wide, separated (and
/// framed) by 1-pixel lines, saved as PNG (which every browser and viewer opens).
///
///     try ImageGrid.write(samples, columns: 8, to: URL(fileURLWithPath: "out/samples.png"))
///
/// Pixel values are clamped to `range` and mapped linearly to 0…255 (pass `-1...1` for tanh
/// outputs); NaN is drawn black. `scale` enlarges each pixel to a `scale × scale` block (tiny
/// images such as 3×3 filters need it). `captions`, one per image, are drawn under the tiles in
/// a 6×13 pixel font (printable ASCII). `separator` is the grey level of the lines between
/// tiles (white or black where mid-grey means something, as for weights). The file is written with `AtomicFile`, so a reader
/// never sees half a picture; missing folders are created.
public enum ImageGrid {
    /// The default grey level of the separator lines, in [0, 1].
    public static let separatorLevel: Float = 0.5

    /// Writes `images` (each `height × width` values, row-major) to a `.png` file. When
    /// `height` and `width` are omitted the images must be square.
    public static func write(
        _ images: [[Float]], height: Int? = nil, width: Int? = nil, columns: Int,
        range: ClosedRange<Float> = 0...1, scale: Int = 1, captions: [String]? = nil, to url: URL
    ) throws {
        try checkExtension(url)
        try PNG.write(image(images, height: height, width: width, columns: columns, range: range, scale: scale,
                            captions: captions), to: url)
    }

    /// Writes a tensor of shape `[n, height, width]` or `[n, height, width, 1]` (any device).
    public static func write(
        _ images: Tensor, columns: Int, range: ClosedRange<Float> = 0...1, scale: Int = 1, captions: [String]? = nil,
        to url: URL
    ) throws {
        try checkExtension(url)
        try PNG.write(image(images, columns: columns, range: range, scale: scale, captions: captions), to: url)
    }

    /// The grid for a tensor of shape `[n, height, width(, 1)]`, as pixels.
    public static func image(
        _ images: Tensor, columns: Int, range: ClosedRange<Float> = 0...1, scale: Int = 1, captions: [String]? = nil,
        separator: Float = separatorLevel
    ) throws -> PixelImage {
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
        return try image(tiles, height: height, width: width, columns: columns, range: range, scale: scale, captions: captions,
                         separator: separator)
    }

    /// The grid for `images`, as pixels (`PNG.encode` makes the file).
    public static func image(
        _ images: [[Float]], height: Int? = nil, width: Int? = nil, columns: Int, range: ClosedRange<Float> = 0...1,
        scale: Int = 1, captions: [String]? = nil, separator: Float = separatorLevel
    ) throws -> PixelImage {
        guard let first = images.first else { throw ImageGridError.noImages }
        guard columns > 0 else { throw ImageGridError.invalidColumns(columns) }
        guard scale > 0 else { throw ImageGridError.invalidScale(scale) }
        guard range.upperBound > range.lowerBound else { throw ImageGridError.emptyRange(range) }
        if let captions, captions.count != images.count {
            throw ImageGridError.captionCount(images: images.count, captions: captions.count)
        }
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

        // A caption strip under each tile, as wide as the tile or the longest caption.
        let captionHeight = captions == nil ? 0 : FixedFont.height + 2
        let longest = (captions ?? []).map(\.count).max() ?? 0
        let tileWidth = max(w * scale, longest * FixedFont.width), tileHeight = h * scale + captionHeight
        let cols = min(columns, images.count)
        let rows = (images.count + cols - 1) / cols
        let gridWidth = cols * (tileWidth + 1) + 1, gridHeight = rows * (tileHeight + 1) + 1
        let scaleFactor = 1 / (range.upperBound - range.lowerBound)
        func level(_ v: Float) -> UInt8 {
            let unit = v.isNaN ? 0 : min(max((v - range.lowerBound) * scaleFactor, 0), 1)
            return UInt8((unit * 255).rounded())
        }
        var picture = PixelImage(width: gridWidth, height: gridHeight, format: .grey,
                                 level: UInt8((min(max(separator, 0), 1) * 255).rounded()))
        for (index, image) in images.enumerated() {
            let top = (index / cols) * (tileHeight + 1) + 1, cellLeft = (index % cols) * (tileWidth + 1) + 1
            let left = cellLeft + (tileWidth - w * scale) / 2
            // Black around an image narrower than its caption, and behind the caption.
            for y in 0..<tileHeight {
                for x in 0..<tileWidth { picture.pixels[(top + y) * gridWidth + cellLeft + x] = 0 }
            }
            for y in 0..<(h * scale) {
                let row = (top + y) * gridWidth + left
                for x in 0..<(w * scale) { picture.pixels[row + x] = level(image[(y / scale) * w + x / scale]) }
            }
            if let caption = captions?[index] {
                let baseline = top + h * scale + 1 + FixedFont.ascent
                let start = cellLeft + (tileWidth - caption.count * FixedFont.width) / 2
                for (i, character) in caption.enumerated() {
                    for gy in 0..<FixedFont.height {
                        for gx in 0..<FixedFont.width where FixedFont.ink(character, x: gx, y: gy) {
                            picture.pixels[(baseline - FixedFont.ascent + gy) * gridWidth + start + i * FixedFont.width + gx] = 255
                        }
                    }
                }
            }
        }
        return picture
    }

    /// Grids are PNG files; a `.pgm` name from older code would mislabel the file.
    private static func checkExtension(_ url: URL) throws {
        guard url.pathExtension.lowercased() == "png" else { throw ImageGridError.notPNG(path: url.path) }
    }
}

/// Why `ImageGrid` could not make a picture.
public enum ImageGridError: Error, Equatable, CustomStringConvertible {
    case noImages
    case invalidColumns(Int)
    case invalidScale(Int)
    case emptyRange(ClosedRange<Float>)
    case notSquare(pixels: Int)
    case badSize(height: Int, width: Int)
    case wrongPixelCount(index: Int, expected: Int, got: Int)
    case badShape([Int])
    case captionCount(images: Int, captions: Int)
    case notPNG(path: String)

    /// A one-line message a user can act on.
    public var description: String {
        switch self {
        case .noImages: "ImageGrid: no images to write"
        case .invalidColumns(let n): "ImageGrid: columns must be positive, got \(n)"
        case .invalidScale(let n): "ImageGrid: scale must be positive, got \(n)"
        case .emptyRange(let r): "ImageGrid: value range \(r) is empty"
        case .notSquare(let n): "ImageGrid: \(n) pixels is not a square image; pass height and width"
        case .badSize(let h, let w): "ImageGrid: image size \(h)×\(w) is not positive"
        case .wrongPixelCount(let i, let expected, let got): "ImageGrid: image \(i) has \(got) pixels, expected \(expected)"
        case .badShape(let s): "ImageGrid: expected a float32 tensor of shape [n, height, width] or [n, height, width, 1], got \(s)"
        case .captionCount(let images, let captions): "ImageGrid: \(captions) captions for \(images) images"
        case .notPNG(let path): "ImageGrid: grids are written as PNG; name the file .png, not \(path)"
        }
    }
}

extension ImageGridError: LocalizedError {
    /// The same as `description`.
    public var errorDescription: String? { description }
}
