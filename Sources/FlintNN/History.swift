import Foundation
import FlintCore

/// What `fit` measured: one value per epoch for each of `loss`, the metrics, and their
/// `val_` counterparts when there was validation data.
public struct History: Sendable {
    /// Per epoch, each logged value by name (`loss`, `accuracy`, `val_loss`, …).
    public private(set) var epochs: [[String: Float]] = []

    /// A history of the given epochs.
    ///
    /// - Parameter epochs: Per epoch, each logged value by name.
    public init(epochs: [[String: Float]] = []) { self.epochs = epochs }

    /// As JSON bytes (non-finite values as null), for sending to other processes.
    var encoded: [UInt8] {
        let rows = epochs.map { $0.mapValues { $0.isFinite ? $0 as Any : NSNull() } }
        return Array((try? JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])) ?? Data("[]".utf8))
    }

    init(encoded bytes: [UInt8]) {
        let rows = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [[String: Any]] ?? []
        self.init(epochs: rows.map { $0.mapValues { ($0 as? NSNumber)?.floatValue ?? .nan } })
    }

    /// The values of `key`, one per epoch that logged it.
    public subscript(_ key: String) -> [Float] { epochs.compactMap { $0[key] } }

    /// Adds one epoch's values.
    public mutating func append(_ logs: [String: Float]) { epochs.append(logs) }
}

/// Stops when `monitor` has not improved by `minDelta` for `patience` epochs; optionally puts
/// back the weights of the best epoch.
public final class EarlyStopping: Callback {
    /// The logged value watched (`val_loss` by default).
    public let monitor: String
    /// Epochs without improvement before stopping.
    public let patience: Int
    /// The smallest change that counts as an improvement.
    public let minDelta: Float
    /// Whether the best epoch's weights are put back at the end.
    public let restoreBestWeights: Bool
    /// The epoch with the best value so far.
    public private(set) var bestEpoch: Int?
    /// The epoch training stopped at; nil when it ran to the end.
    public private(set) var stoppedEpoch: Int?
    private var best: Float = .infinity
    private var wait = 0
    private var bestWeights: [Tensor] = []

    /// `monitor` is minimised unless its name contains "acc" (accuracy is maximised).
    /// Every rank must stop and restore alike.
    public var runsOnEveryRank: Bool { true }

    /// Early stopping on `monitor`.
    ///
    /// - Parameters:
    ///   - monitor: The logged value to watch; minimised unless its name contains "acc".
    ///   - patience: Epochs without improvement before stopping.
    ///   - minDelta: The smallest change that counts as an improvement.
    ///   - restoreBestWeights: Whether to put back the best epoch's weights.
    public init(monitor: String = "val_loss", patience: Int = 3, minDelta: Float = 0, restoreBestWeights: Bool = true) {
        self.monitor = monitor
        self.patience = patience
        self.minDelta = minDelta
        self.restoreBestWeights = restoreBestWeights
    }

    private var maximise: Bool { monitor.contains("acc") }

    /// Resets the state of an earlier run.
    public func trainingBegan(model: Model) {
        best = .infinity
        wait = 0
        bestEpoch = nil
        stoppedEpoch = nil
    }

    /// Records the epoch's value; answers whether training should stop.
    public func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        guard let value = logs[monitor] else { return false }
        // NaN compares false with everything: it would never count as worse, so say it is.
        guard value.isFinite else {
            stoppedEpoch = epoch
            return true
        }
        let score = maximise ? -value : value
        if score < best - minDelta {
            best = score
            bestEpoch = epoch
            wait = 0
            if restoreBestWeights { bestWeights = model.parameters.map(\.value) }
            return false
        }
        wait += 1
        if wait >= patience {
            stoppedEpoch = epoch
            return true
        }
        return false
    }

    /// Restores the best weights when asked to.
    public func trainingEnded(model: Model) {
        guard restoreBestWeights, !bestWeights.isEmpty else { return }
        for (parameter, weights) in zip(model.parameters, bestWeights) { parameter.assign(weights) }
    }
}
