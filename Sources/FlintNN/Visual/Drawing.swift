import FlintData
import Foundation

/// An sRGB color, 8 bits per channel.
struct Color: Equatable, Hashable, Sendable {
    var red: UInt8, green: UInt8, blue: UInt8

    init(red: UInt8, green: UInt8, blue: UInt8) {
        (self.red, self.green, self.blue) = (red, green, blue)
    }

    /// `Color(hex: 0x1F77B4)`.
    init(hex: UInt32) {
        self.init(red: UInt8(hex >> 16 & 0xFF), green: UInt8(hex >> 8 & 0xFF), blue: UInt8(hex & 0xFF))
    }

    static let black = Color(hex: 0x000000)
    static let white = Color(hex: 0xFFFFFF)

    /// `#rrggbb`, as SVG writes colors.
    var svg: String { String(format: "#%02x%02x%02x", red, green, blue) }

    /// The mix `(1 - t) · self + t · other`.
    func mixed(with other: Color, _ t: Double) -> Color {
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - t) + Double(b) * t).rounded()) }
        return Color(red: mix(red, other.red), green: mix(green, other.green), blue: mix(blue, other.blue))
    }
}

/// A picture made of a few kinds of shapes in pixel coordinates (origin top left, y down). The
/// same drawing becomes SVG text (diffable, sharp in a browser) or pixels for a PNG, with one
/// layout: charts are described once and saved in either format.
struct Drawing {
    enum Anchor: String { case start, middle, end }

    enum Shape {
        /// A rectangle, filled and/or outlined with a 1-pixel line.
        case rect(x: Double, y: Double, width: Double, height: Double, fill: Color?, stroke: Color?)
        /// Connected line segments; `dash` alternates drawn and skipped lengths.
        case polyline([(x: Double, y: Double)], color: Color, width: Double, dash: [Double]?)
        case disc(x: Double, y: Double, radius: Double, fill: Color)
        /// One line of text whose baseline starts, is centred or ends at (x, y); `vertical` text
        /// is turned a quarter anticlockwise (read from bottom to top).
        case text(String, x: Double, y: Double, color: Color, anchor: Anchor, vertical: Bool, bold: Bool)
    }

    let width: Int
    let height: Int
    var background = Color.white
    var shapes: [Shape] = []

    /// Text size: the raster font's cell is 6×13 pixels; SVG uses an 11-pixel sans-serif font,
    /// whose glyphs are about as wide on average.
    static let characterWidth = 6.0
    static let fontSize = 11.0

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    mutating func add(_ shape: Shape) { shapes.append(shape) }

    /// Width of `text` in pixels (exact for the raster font, an estimate for SVG).
    static func textWidth(_ text: String) -> Double { Double(text.count) * characterWidth }

    // MARK: SVG

    /// The drawing as a standalone SVG document, one element per line.
    func svg() -> String {
        var lines = [
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)""#
                + #" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="\#(Self.number(Self.fontSize))">"#,
            #"<rect width="100%" height="100%" fill="\#(background.svg)"/>"#,
        ]
        for shape in shapes {
            switch shape {
            case let .rect(x, y, w, h, fill, stroke):
                lines.append(#"<rect x="\#(Self.number(x))" y="\#(Self.number(y))" width="\#(Self.number(w))" height="\#(Self.number(h))""#
                             + #" fill="\#(fill?.svg ?? "none")""# + (stroke.map { #" stroke="\#($0.svg)""# } ?? "") + "/>")
            case let .polyline(points, color, lineWidth, dash):
                let coordinates = points.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
                let dashes = dash.map { #" stroke-dasharray="\#($0.map(Self.number).joined(separator: " "))""# } ?? ""
                lines.append(#"<polyline points="\#(coordinates)" fill="none" stroke="\#(color.svg)" stroke-width="\#(Self.number(lineWidth))""#
                             + #" stroke-linejoin="round" stroke-linecap="round"\#(dashes)/>"#)
            case let .disc(x, y, radius, fill):
                lines.append(#"<circle cx="\#(Self.number(x))" cy="\#(Self.number(y))" r="\#(Self.number(radius))" fill="\#(fill.svg)"/>"#)
            case let .text(text, x, y, color, anchor, vertical, bold):
                let (sx, sy) = (Self.number(x), Self.number(y))
                var attributes = #"x="\#(sx)" y="\#(sy)" fill="\#(color.svg)""#
                if anchor != .start { attributes += #" text-anchor="\#(anchor.rawValue)""# }
                if vertical { attributes += #" transform="rotate(-90 \#(sx) \#(sy))""# }
                if bold { attributes += #" font-weight="bold""# }
                lines.append("<text \(attributes)>\(Self.escaped(text))</text>")
            }
        }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A coordinate with at most two decimals and no trailing zeros, so files diff cleanly.
    static func number(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    // MARK: Saving

    /// Saves the drawing by the file's extension: `.svg` as SVG text, `.png` as pixels; the
    /// file is replaced atomically.
    func write(to url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "svg": try AtomicFile.write(svg(), to: url)
        case "png": try PNG.write(raster(), to: url)
        default: throw PictureFormatError(path: url.path)
        }
    }
}

/// A picture was asked for in a format Flint does not write.
public struct PictureFormatError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The file that could not be drawn.
    public let path: String
    /// Why, in one line.
    public var description: String { "cannot draw \(path): pictures are written as .svg or .png" }
    /// The same as `description`.
    public var errorDescription: String? { description }
}
