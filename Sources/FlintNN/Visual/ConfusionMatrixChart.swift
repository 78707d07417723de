import FlintData
import Foundation

extension ConfusionMatrix {
    /// The matrix as an SVG heat map: one cell per (true, predicted) pair holding its count,
    /// shaded by the share of its row (so the diagonal shows each class's recall and every
    /// non-zero mistake is at least faintly tinted).
    public func svg(title: String? = nil) -> String { drawing(title: title).svg() }

    /// The same picture as `svg(title:)`, as pixels.
    public func image(title: String? = nil) -> PixelImage { drawing(title: title).raster() }

    /// Draws the matrix to `url`, as SVG or PNG by its extension, replacing the file atomically.
    public func write(to url: URL, title: String? = nil) throws { try drawing(title: title).write(to: url) }

    func drawing(title: String?) -> Drawing {
        let k = Double(classCount)
        let cell = min(max((440 / k).rounded(.down), 18), 44)
        let names = rowNames
        let left = 40 + Drawing.textWidth(names.max { $0.count < $1.count } ?? "") + 10
        let top = 62.0
        let size = cell * k
        let caption = title ?? String(format: "confusion matrix: %d of %d correct (%.2f%%)", correct, total, accuracy * 100)
        var drawing = Drawing(width: Int(max(left + size + 24, Drawing.textWidth(caption) + 24)), height: Int(top + size + 48))
        let ink = CurveChart.inkColor, dark = Color(hex: 0x08306B)
        drawing.add(.text(caption, x: Double(drawing.width) / 2, y: 20, color: ink, anchor: .middle, vertical: false, bold: true))
        drawing.add(.text("predicted class", x: left + size / 2, y: 40, color: ink, anchor: .middle, vertical: false, bold: false))
        drawing.add(.text("true class", x: 18, y: top + size / 2, color: ink, anchor: .middle, vertical: true, bold: false))
        for label in 0..<classCount {
            let position = Double(label) * cell + cell / 2
            drawing.add(.text(String(label), x: left + position, y: top - 6, color: CurveChart.tickColor,
                              anchor: .middle, vertical: false, bold: false))
            drawing.add(.text(names[label], x: left - 6, y: top + position + 4, color: CurveChart.tickColor,
                              anchor: .end, vertical: false, bold: false))
        }
        for (actual, row) in counts.enumerated() {
            let rowTotal = max(row.reduce(0, +), 1)
            for (predicted, count) in row.enumerated() {
                let share = Double(count) / Double(rowTotal)
                let shade = count == 0 ? 0 : max(share, 0.06)
                let (x, y) = (left + Double(predicted) * cell, top + Double(actual) * cell)
                drawing.add(.rect(x: x, y: y, width: cell, height: cell, fill: Color.white.mixed(with: dark, shade), stroke: nil))
                if count > 0 && Drawing.textWidth(String(count)) <= cell - 2 {
                    drawing.add(.text(String(count), x: x + cell / 2, y: y + cell / 2 + 4, color: shade > 0.45 ? .white : ink,
                                      anchor: .middle, vertical: false, bold: false))
                }
            }
        }
        drawing.add(.rect(x: left - 0.5, y: top - 0.5, width: size + 1, height: size + 1, fill: nil, stroke: CurveChart.frameColor))
        drawing.add(.text("shade: share of the true class's samples", x: left + size / 2, y: top + size + 26,
                          color: CurveChart.tickColor, anchor: .middle, vertical: false, bold: false))
        return drawing
    }
}
