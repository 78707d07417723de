import FlintBackend
/// An 8-bit picture in memory, grey or RGB, stored row by row from the top with the channels
/// of a pixel next to each other (`r, g, b, r, g, b, …`). `PNG` saves it.
public struct PixelImage: Equatable, Sendable {
    /// How many bytes make one pixel.
    public enum Format: Int, Sendable {
        /// One byte per pixel.
        case grey = 1
        /// Red, green and blue bytes per pixel.
        case rgb = 3

        /// Bytes per pixel.
        public var channels: Int { rawValue }
    }

    /// Pixels across.
    public let width: Int
    /// Pixels down.
    public let height: Int
    /// Grey or RGB.
    public let format: Format
    /// `height × width × format.channels` bytes.
    public var pixels: [UInt8]

    /// An image from its bytes; sizes must be positive and `pixels` must fill the image exactly.
    public init(width: Int, height: Int, format: Format, pixels: [UInt8]) {
        ensure(width > 0 && height > 0, "PixelImage: size \(width)×\(height) is not positive")
        ensure(pixels.count == width * height * format.channels,
                     "PixelImage: \(pixels.count) bytes for \(width)×\(height) \(format) pixels")
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
    }

    /// An image filled with one grey level (any format).
    public init(width: Int, height: Int, format: Format, level: UInt8) {
        self.init(width: width, height: height, format: format,
                  pixels: [UInt8](repeating: level, count: Swift.max(width * height * format.channels, 0)))
    }

    /// The bytes of the pixel at column `x`, row `y`.
    public subscript(x x: Int, y y: Int) -> ArraySlice<UInt8> {
        let start = (y * width + x) * format.channels
        return pixels[start..<(start + format.channels)]
    }
}
