import Foundation

/// Round tick positions for a chart axis (1, 2, 2.5 or 5 times a power of ten apart) and
/// labels with just enough decimals to tell neighbouring ticks apart.
struct ChartAxis: Equatable {
    /// The range drawn: the data range widened to whole ticks.
    let lower: Double
    let upper: Double
    let step: Double

    /// About `count` intervals covering `low...high`; an empty or one-point range is widened.
    init(covering low: Double, _ high: Double, count: Int = 5) {
        var (low, high) = (low, high)
        if !(high > low) {
            let pad = low == 0 ? 1 : abs(low) * 0.1
            (low, high) = (low - pad, high + pad)
        }
        let step = Self.niceStep((high - low) / Double(max(count, 1)))
        self.step = step
        // The small tolerance keeps a bound that is already a tick (0.30000000000000004) from
        // growing by a whole extra step.
        lower = (low / step + 1e-9).rounded(.down) * step
        upper = (high / step - 1e-9).rounded(.up) * step
    }

    /// Whole-number ticks from `first` to `last` (epochs), at least one apart.
    init(integersFrom first: Int, to last: Int, count: Int = 8) {
        let last = max(last, first + 1)
        step = max(1, Self.niceStep(Double(last - first) / Double(count)).rounded(.up))
        (lower, upper) = (Double(first), Double(last))
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / magnitude
        // The tolerance keeps 5e-6 (a fraction of 5.000000000001) from becoming 1e-5.
        let f = fraction * (1 - 1e-9)
        let nice: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// Tick positions: every multiple of `step` in the range.
    var ticks: [Double] {
        let first = (lower / step - 1e-9).rounded(.up), last = (upper / step + 1e-9).rounded(.down)
        guard first <= last else { return [] }
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// `0.25`, `1200`, `3e-5` style labels; minus zero prints as 0.
    func label(_ value: Double) -> String {
        let value = abs(value) < step * 1e-6 ? 0 : value
        let largest = max(abs(lower), abs(upper))
        // Decimals that resolve the step (2.5 steps need one more); beyond 5, exponents read better.
        var decimals = max(0, Int((-log10(step) - 1e-9).rounded(.up)))
        if abs((step * pow(10, Double(decimals))).rounded() - step * pow(10, Double(decimals))) > 1e-6 { decimals += 1 }
        if decimals <= 5 && largest < 1e6 { return String(format: "%.\(decimals)f", value) }
        if value == 0 { return "0" }
        let exponent = Int(log10(abs(value)).rounded(.down))
        let mantissa = value / pow(10, Double(exponent))
        let mantissaDecimals = max(0, Int((-log10(step / pow(10, Double(exponent))) - 1e-9).rounded(.up)))
        var text = String(format: "%.\(min(mantissaDecimals, 3))f", mantissa)
        if text.contains(".") { while text.hasSuffix("0") { text.removeLast() }; if text.hasSuffix(".") { text.removeLast() } }
        return "\(text)e\(exponent)"
    }
}
