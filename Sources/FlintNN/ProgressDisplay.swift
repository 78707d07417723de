import Foundation

/// Keras-style progress: a redrawn bar on a terminal, one line per epoch elsewhere.
final class ProgressDisplay {
    private let bar: Bool
    private let silent: Bool
    private let epochs: Int
    private let steps: Int
    private var epochStart = Date()
    private var lastDraw = Date.distantPast

    init(verbosity: Verbosity, epochs: Int, steps: Int) {
        let terminal = isatty(STDOUT_FILENO) != 0
        self.silent = verbosity == .silent
        self.bar = verbosity == .progressBar || (verbosity == .automatic && terminal)
        self.epochs = epochs
        self.steps = steps
    }

    func epochBegan(_ epoch: Int) {
        epochStart = Date()
        lastDraw = .distantPast
        if bar { print("Epoch \(epoch + 1)/\(epochs)") }
    }

    /// Redraws at most every 0.2 s; `logs` is only evaluated (a device read) when drawing.
    func stepEnded(_ step: Int, logs: () -> [String: Float]) {
        guard bar, !silent, step == steps || Date().timeIntervalSince(lastDraw) >= 0.2 else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(epochStart)
        let width = 30
        let done = width * step / Swift.max(steps, 1)
        let arrow = done < width ? ">" : ""
        let graphic = String(repeating: "=", count: Swift.max(done - arrow.count, 0)) + arrow
            + String(repeating: ".", count: width - done)
        let eta = step < steps ? " - ETA: \(Self.duration(elapsed / Double(step) * Double(steps - step)))" : " - \(Self.duration(elapsed))"
        let counter = String(repeating: " ", count: String(steps).count - String(step).count) + "\(step)/\(steps)"
        let line = "\(counter) [\(graphic)]\(eta)\(Self.format(logs()))"
        FileHandle.standardOutput.write(Data(("\r" + line + "\u{1B}[K").utf8))
    }

    func epochEnded(_ epoch: Int, logs: [String: Float]) {
        guard !silent else { return }
        let elapsed = Date().timeIntervalSince(epochStart)
        if bar {
            print(Self.format(logs.filter { $0.key.hasPrefix("val_") }, leading: " -"))
        } else {
            print("Epoch \(epoch + 1)/\(epochs) - \(steps) steps - \(Self.duration(elapsed))\(Self.format(logs))")
        }
    }

    private static let order = ["loss", "accuracy", "mae"]

    static func format(_ logs: [String: Float], leading: String = " -") -> String {
        let keys = logs.keys.filter { $0 != "learning_rate" }.sorted { a, b in
            let (ka, kb) = (key(a), key(b))
            return ka == kb ? a < b : ka < kb
        }
        return keys.map { "\(leading) \($0): \(String(format: "%.4f", logs[$0]!))" }.joined()
    }

    private static func key(_ name: String) -> Int {
        let base = name.hasPrefix("val_") ? String(name.dropFirst(4)) : name
        return (name.hasPrefix("val_") ? 10 : 0) + (order.firstIndex(of: base) ?? 5)
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 1 ? String(format: "%.0fms", seconds * 1000) : seconds < 60 ? String(format: "%.1fs", seconds)
            : String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
    }
}
