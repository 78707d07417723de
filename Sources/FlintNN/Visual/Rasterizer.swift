import FlintData

extension Drawing {
    /// The drawing as RGB pixels. Lines and discs are anti-aliased by the distance from each
    /// pixel's centre to the shape; text uses the fixed 6×13 bitmap font.
    func raster() -> PixelImage {
        var canvas = Canvas(width: width, height: height, background: background)
        for shape in shapes {
            switch shape {
            case let .rect(x, y, w, h, fill, stroke):
                canvas.rect(x: x, y: y, width: w, height: h, fill: fill, stroke: stroke)
            case let .polyline(points, color, lineWidth, dash):
                canvas.polyline(points, color: color, width: lineWidth, dash: dash)
            case let .disc(x, y, radius, fill):
                canvas.disc(x: x, y: y, radius: radius, color: fill)
            case let .text(text, x, y, color, anchor, vertical, bold):
                canvas.text(text, x: x, y: y, color: color, anchor: anchor, vertical: vertical, bold: bold)
            }
        }
        return PixelImage(width: width, height: height, format: .rgb, pixels: canvas.pixels)
    }
}

/// RGB pixels with alpha blending of coverage in [0, 1].
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: Color) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = (background.red, background.green, background.blue)
        }
    }

    mutating func blend(_ x: Int, _ y: Int, _ color: Color, _ alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let i = 3 * (y * width + x), a = min(alpha, 1)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) * (1 - a) + Double(new) * a).rounded()) }
        pixels[i] = mix(pixels[i], color.red)
        pixels[i + 1] = mix(pixels[i + 1], color.green)
        pixels[i + 2] = mix(pixels[i + 2], color.blue)
    }

    /// Pixel (column, row) covers [column, column + 1) × [row, row + 1), as in SVG. Fill edges
    /// are rounded to whole pixels; the 1-pixel outline is centred on the edge as SVG draws it,
    /// so an edge at a half coordinate (10.5) is one crisp column (10) in both.
    mutating func rect(x: Double, y: Double, width w: Double, height h: Double, fill: Color?, stroke: Color?) {
        if let fill {
            let (left, top) = (Int(x.rounded()), Int(y.rounded()))
            let (right, bottom) = (Int((x + w).rounded()), Int((y + h).rounded()))
            for row in max(top, 0)..<max(min(bottom, height), max(top, 0)) {
                for column in max(left, 0)..<max(min(right, width), max(left, 0)) { blend(column, row, fill, 1) }
            }
        }
        if let stroke {
            let (left, top) = (Int(x.rounded(.down)), Int(y.rounded(.down)))
            let (right, bottom) = (Int((x + w).rounded(.down)), Int((y + h).rounded(.down)))
            guard right >= left, bottom >= top else { return }
            for column in left...right { blend(column, top, stroke, 1); blend(column, bottom, stroke, 1) }
            for row in top...bottom { blend(left, row, stroke, 1); blend(right, row, stroke, 1) }
        }
    }

    /// Coverage of each pixel is the maximum over segments (so joints are not drawn twice),
    /// blended once at the end.
    mutating func polyline(_ points: [(x: Double, y: Double)], color: Color, width lineWidth: Double, dash: [Double]?) {
        let segments = dash.map { Self.dashed(points, pattern: $0) }
            ?? zip(points, points.dropFirst()).map { ($0, $1) }
        guard !segments.isEmpty || points.count == 1 else { return }
        let half = lineWidth / 2
        var coverage: [Int: Double] = [:]
        for (a, b) in segments.isEmpty ? [(points[0], points[0])] : segments {
            let left = max(Int((min(a.x, b.x) - half - 1).rounded(.down)), 0)
            let right = min(Int((max(a.x, b.x) + half + 1).rounded(.up)), width - 1)
            let top = max(Int((min(a.y, b.y) - half - 1).rounded(.down)), 0)
            let bottom = min(Int((max(a.y, b.y) + half + 1).rounded(.up)), height - 1)
            guard left <= right, top <= bottom else { continue }
            for row in top...bottom {
                for column in left...right {
                    let d = Self.distance(from: (Double(column) + 0.5, Double(row) + 0.5), toSegment: a, b)
                    let c = min(max(half + 0.5 - d, 0), 1)
                    if c > 0 { coverage[row * width + column] = max(coverage[row * width + column] ?? 0, c) }
                }
            }
        }
        for (index, c) in coverage { blend(index % width, index / width, color, c) }
    }

    mutating func disc(x: Double, y: Double, radius: Double, color: Color) {
        for row in Int((y - radius - 1).rounded(.down))...Int((y + radius + 1).rounded(.up)) {
            for column in Int((x - radius - 1).rounded(.down))...Int((x + radius + 1).rounded(.up)) {
                let (dx, dy) = (Double(column) + 0.5 - x, Double(row) + 0.5 - y)
                blend(column, row, color, min(max(radius + 0.5 - (dx * dx + dy * dy).squareRoot(), 0), 1))
            }
        }
    }

    /// Bitmap text: the baseline is at `y`; bold overprints each glyph one pixel to the right.
    mutating func text(_ text: String, x: Double, y: Double, color: Color, anchor: Drawing.Anchor, vertical: Bool, bold: Bool) {
        let length = Double(text.count * FixedFont.width)
        let shift = anchor == .start ? 0 : anchor == .middle ? length / 2 : length
        let (originX, originY) = (Int(x.rounded()), Int(y.rounded()))
        let start = Int(shift.rounded())
        for (index, character) in text.enumerated() {
            for gy in 0..<FixedFont.height {
                for gx in 0..<FixedFont.width where FixedFont.ink(character, x: gx, y: gy) {
                    // Position along the text, and across it (rows above the baseline are negative).
                    let along = index * FixedFont.width + gx - start
                    let across = gy - FixedFont.ascent
                    for extra in 0...(bold ? 1 : 0) {
                        if vertical {
                            blend(originX + across, originY - along - extra, color, 1)
                        } else {
                            blend(originX + along + extra, originY + across, color, 1)
                        }
                    }
                }
            }
        }
    }

    static func distance(from p: (Double, Double), toSegment a: (x: Double, y: Double), _ b: (x: Double, y: Double)) -> Double {
        let (dx, dy) = (b.x - a.x, b.y - a.y)
        let lengthSquared = dx * dx + dy * dy
        let t = lengthSquared == 0 ? 0 : min(max(((p.0 - a.x) * dx + (p.1 - a.y) * dy) / lengthSquared, 0), 1)
        let (ex, ey) = (a.x + t * dx - p.0, a.y + t * dy - p.1)
        return (ex * ex + ey * ey).squareRoot()
    }

    /// The drawn pieces of a dashed polyline; the pattern continues across corners, as in SVG.
    static func dashed(_ points: [(x: Double, y: Double)], pattern: [Double]) -> [((x: Double, y: Double), (x: Double, y: Double))] {
        guard pattern.contains(where: { $0 > 0 }), pattern.allSatisfy({ $0 >= 0 }) else {
            return zip(points, points.dropFirst()).map { ($0, $1) }
        }
        var pieces: [((x: Double, y: Double), (x: Double, y: Double))] = []
        var index = 0, left = pattern[0]
        for (a, b) in zip(points, points.dropFirst()) {
            let length = ((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y)).squareRoot()
            var position = 0.0
            while position < length {
                let step = min(left, length - position)
                if index % 2 == 0, step > 0 {
                    let (t0, t1) = (position / length, (position + step) / length)
                    pieces.append(((a.x + (b.x - a.x) * t0, a.y + (b.y - a.y) * t0),
                                   (a.x + (b.x - a.x) * t1, a.y + (b.y - a.y) * t1)))
                }
                position += step
                left -= step
                if left <= 0 {
                    index = (index + 1) % (pattern.count % 2 == 0 ? pattern.count : 2 * pattern.count)
                    left = pattern[index % pattern.count]
                }
            }
        }
        return pieces
    }
}
