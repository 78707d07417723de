import Foundation

/// The layout of a training-curves picture: one panel per quantity (`loss` first, then the
/// metrics), each with the training values as a solid line and the `val_` counterparts dashed,
/// epochs along the bottom, and the learning rate dotted on a right-hand axis of the first panel.
struct CurveChart {
    static let trainColor = Color(hex: 0x1F77B4)
    static let validationColor = Color(hex: 0xE8710A)
    static let rateColor = Color(hex: 0x2CA02C)
    static let inkColor = Color(hex: 0x222222)
    static let tickColor = Color(hex: 0x555555)
    static let gridColor = Color(hex: 0xE6E6E6)
    static let frameColor = Color(hex: 0x9A9A9A)
    static let validationDash = [6.0, 4.0]
    static let rateDash = [1.0, 3.5]

    /// Panels wrap after this many columns.
    static let columns = 3
    static let plotWidth = 320.0, plotHeight = 200.0
    static let marginLeft = 62.0, marginRight = 66.0, marginTop = 28.0, marginBottom = 42.0
    /// Markers are drawn while epochs are at least this far apart.
    static let markerSpacing = 8.0
    static let rateKey = "learning_rate"

    let epochs: [[String: Float]]
    let title: String?

    /// Quantities with a panel, in order: loss, then the others alphabetically.
    var panels: [String] {
        let names = Set(epochs.flatMap(\.keys).filter { $0 != Self.rateKey }.map {
            $0.hasPrefix("val_") ? String($0.dropFirst(4)) : $0
        })
        return names.sorted { a, b in a == "loss" ? b != "loss" : b == "loss" ? false : a < b }
    }

    var hasRate: Bool { epochs.contains { $0[Self.rateKey] != nil } }

    func drawing() -> Drawing {
        let panels = panels.isEmpty ? ["loss"] : panels
        let columns = min(panels.count, Self.columns), rows = (panels.count + columns - 1) / columns
        let cellWidth = Self.marginLeft + Self.plotWidth + Self.marginRight
        let cellHeight = Self.marginTop + Self.plotHeight + Self.marginBottom
        let header = (title == nil ? 0.0 : 26) + 26
        var drawing = Drawing(width: Int(Double(columns) * cellWidth), height: Int(header + Double(rows) * cellHeight) + 4)
        if let title {
            drawing.add(.text(title, x: Double(drawing.width) / 2, y: 20, color: Self.inkColor, anchor: .middle, vertical: false, bold: true))
        }
        drawLegend(into: &drawing, centre: Double(drawing.width) / 2, baseline: header - 8)
        for (index, name) in panels.enumerated() {
            let left = Double(index % columns) * cellWidth + Self.marginLeft
            let top = header + Double(index / columns) * cellHeight + Self.marginTop
            drawPanel(name, into: &drawing, left: left, top: top, withRate: index == 0 && hasRate)
        }
        return drawing
    }

    /// One row naming the line styles, centred above the panels.
    private func drawLegend(into drawing: inout Drawing, centre: Double, baseline: Double) {
        var entries: [(String, Color, [Double]?)] = [("training", Self.trainColor, nil)]
        if epochs.contains(where: { $0.keys.contains { $0.hasPrefix("val_") } }) {
            entries.append(("validation", Self.validationColor, Self.validationDash))
        }
        if hasRate { entries.append(("learning rate (right axis)", Self.rateColor, Self.rateDash)) }
        if epochs.isEmpty { entries = [("no epochs recorded yet", Self.tickColor, nil)] }
        let sample = 28.0, gap = 8.0, spacing = 26.0
        let total = entries.map { sample + gap + Drawing.textWidth($0.0) }.reduce(0, +) + spacing * Double(entries.count - 1)
        var x = centre - total / 2
        for (label, color, dash) in entries {
            if !epochs.isEmpty {
                drawing.add(.polyline([(x, baseline - 4), (x + sample, baseline - 4)], color: color,
                                      width: 2, dash: dash))
                x += sample + gap
            }
            drawing.add(.text(label, x: x, y: baseline, color: Self.inkColor, anchor: .start, vertical: false, bold: false))
            x += Drawing.textWidth(label) + spacing
        }
    }

    private func values(_ key: String) -> [Double?] {
        epochs.map { logs in logs[key].map(Double.init).flatMap { $0.isFinite ? $0 : nil } }
    }

    private func finite(_ series: [[Double?]]) -> [Double] { series.flatMap { $0.compactMap { $0 } } }

    private func drawPanel(_ name: String, into drawing: inout Drawing, left: Double, top: Double, withRate: Bool) {
        let (right, bottom) = (left + Self.plotWidth, top + Self.plotHeight)
        let train = values(name), validation = values("val_" + name)
        let all = finite([train, validation])
        let xAxis = ChartAxis(integersFrom: 1, to: max(epochs.count, 2))
        let yAxis = ChartAxis(covering: all.min() ?? 0, all.max() ?? 1)
        func px(_ epoch: Double) -> Double { left + (epoch - xAxis.lower) / (xAxis.upper - xAxis.lower) * Self.plotWidth }
        func py(_ value: Double, _ axis: ChartAxis) -> Double { bottom - (value - axis.lower) / (axis.upper - axis.lower) * Self.plotHeight }

        // Grid, frame and ticks; lines sit on half pixels so they are one crisp pixel wide.
        for tick in yAxis.ticks {
            let y = py(tick, yAxis).rounded(.down) + 0.5
            drawing.add(.polyline([(left, y), (right, y)], color: Self.gridColor, width: 1, dash: nil))
            drawing.add(.text(yAxis.label(tick), x: left - 6, y: y + 4, color: Self.tickColor, anchor: .end, vertical: false, bold: false))
        }
        for tick in xAxis.ticks {
            let x = px(tick).rounded(.down) + 0.5
            drawing.add(.polyline([(x, top), (x, bottom)], color: Self.gridColor, width: 1, dash: nil))
            drawing.add(.text(String(Int(tick)), x: x, y: bottom + 15, color: Self.tickColor, anchor: .middle, vertical: false, bold: false))
        }
        drawing.add(.rect(x: left + 0.5, y: top + 0.5, width: Self.plotWidth, height: Self.plotHeight, fill: nil, stroke: Self.frameColor))
        drawing.add(.text(name, x: (left + right) / 2, y: top - 9, color: Self.inkColor, anchor: .middle, vertical: false, bold: true))
        drawing.add(.text("epoch", x: (left + right) / 2, y: bottom + 32, color: Self.inkColor, anchor: .middle, vertical: false, bold: false))
        if all.isEmpty && !epochs.isEmpty {
            drawing.add(.text("no finite values", x: (left + right) / 2, y: (top + bottom) / 2, color: Self.tickColor,
                              anchor: .middle, vertical: false, bold: false))
        }

        let markers = epochs.count == 1 || Self.plotWidth / Double(max(epochs.count - 1, 1)) >= Self.markerSpacing
        func plot(_ series: [Double?], axis: ChartAxis, color: Color, dash: [Double]?, width: Double, markers: Bool) {
            // Non-finite values break the line rather than dragging it off the chart.
            var run: [(x: Double, y: Double)] = []
            func flush() {
                if run.count > 1 { drawing.add(.polyline(run, color: color, width: width, dash: dash)) }
                if markers { for point in run { drawing.add(.disc(x: point.x, y: point.y, radius: 2.5, fill: color)) } }
                run = []
            }
            for (epoch, value) in series.enumerated() {
                guard let value else { flush(); continue }
                run.append((px(Double(epoch + 1)), py(value, axis)))
            }
            flush()
        }

        if withRate {
            let rates = values(Self.rateKey)
            let rateAxis = ChartAxis(covering: min(rates.compactMap { $0 }.min() ?? 0, 0), rates.compactMap { $0 }.max() ?? 1, count: 4)
            for tick in rateAxis.ticks {
                drawing.add(.text(rateAxis.label(tick), x: right + 6, y: py(tick, rateAxis).rounded(.down) + 4.5,
                                  color: Self.rateColor, anchor: .start, vertical: false, bold: false))
            }
            drawing.add(.text("learning rate", x: right + Self.marginRight - 8, y: (top + bottom) / 2, color: Self.rateColor,
                              anchor: .middle, vertical: true, bold: false))
            plot(rates, axis: rateAxis, color: Self.rateColor, dash: Self.rateDash, width: 2, markers: epochs.count == 1)
        }
        plot(validation, axis: yAxis, color: Self.validationColor, dash: Self.validationDash, width: 2, markers: markers)
        plot(train, axis: yAxis, color: Self.trainColor, dash: nil, width: 2, markers: markers)
    }
}
