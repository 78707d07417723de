import FlintCore

/// What `fit` does when a loss becomes NaN or infinite (a learning rate too large, bad data).
public enum NonFiniteLossPolicy: Sendable, Hashable {
    /// Throw `TrainingDiverged`, naming the epoch and step, with the model put back to the start
    /// of that epoch: the last weights and optimizer state known to be finite. The default.
    case stop
    /// End training normally, with the model put back likewise (Keras's `TerminateOnNaN`); the
    /// returned history ends with the diverged epoch.
    case terminate
    /// Carry on training (the weights will usually turn NaN too).
    case ignore
}

/// `fit` found a loss that is not finite.
public struct TrainingDiverged: Error, CustomStringConvertible, Equatable {
    /// The epoch (from 0) during which it happened.
    public let epoch: Int
    /// The step of that epoch (from 1) whose loss first was not finite; nil when only the
    /// epoch is known (data-parallel runs decide at the end of each epoch).
    public let step: Int?
    /// The logged quantity (`loss`, or a custom step's `d_loss`, …).
    public let quantity: String
    /// Its value over the epoch so far: NaN or an infinity.
    public let value: Float

    /// One line naming the quantity, its value, the step and epoch, and what the model now holds.
    public var description: String {
        let when = step.map { "at step \($0) of epoch \(epoch + 1)" } ?? "during epoch \(epoch + 1)"
        return "training diverged: \(quantity) became \(value) \(when); the model holds the weights of the start of "
            + "epoch \(epoch + 1), the last known to be finite (try a lower learning rate, or check the data for NaN)"
    }
}

/// Watches a fit's losses for a non-finite value without reading the device after every step:
/// the running totals that the step logs keep on the device are held (they are new tensors each
/// step, so this copies nothing) and read only when progress is read anyway, at the end of the
/// epoch, or after `window` unread steps. A total stays non-finite once one loss was, so the
/// first non-finite total names the step.
final class DivergenceWatch {
    let policy: NonFiniteLossPolicy
    /// At most this many steps between reads (bounds the totals held on the device; more
    /// than an MNIST epoch at batch 128, so a silent run reads once per epoch).
    let window = 1024
    private let tracksSteps: Bool
    private var totals: [(step: Int, values: [String: Tensor])] = []
    private var saved: ModelState?

    /// `tracksSteps` is false in data-parallel runs, whose ranks decide together at epoch ends.
    init(policy: NonFiniteLossPolicy, tracksSteps: Bool) {
        self.policy = policy
        self.tracksSteps = tracksSteps
    }

    private var isActive: Bool { policy != .ignore }

    func epochBegan(_ model: Model) {
        guard isActive else { return }
        totals.removeAll()
        saved = ModelState(model)
    }

    /// Records step `step`'s running totals; true when enough steps went unread that a check
    /// (`logs.values()`) is due.
    func stepEnded(_ step: Int, logs: StepLogs) -> Bool {
        guard isActive, tracksSteps else { return false }
        var values: [String: Tensor] = [:]
        for name in logs.names where Self.isLoss(name) { values[name] = logs.runningTotal(name) }
        totals.append((step, values))
        return totals.count >= window
    }

    /// Checks values read from the step logs: nil when every loss is finite (the held totals
    /// are then released), else what diverged, with the model put back to the epoch's start.
    func check(_ values: [String: Float], epoch: Int, model: Model) -> TrainingDiverged? {
        guard isActive else { return nil }
        guard let (name, value) = values.filter({ Self.isLoss($0.key) && !$0.value.isFinite }).min(by: { $0.key < $1.key }) else {
            totals.removeAll()
            return nil
        }
        let step = firstNonFiniteStep(of: name)
        saved?.restore()
        return TrainingDiverged(epoch: epoch, step: step, quantity: name, value: value)
    }

    /// One read of the held totals of `name`.
    private func firstNonFiniteStep(of name: String) -> Int? {
        let held = totals.compactMap { entry in entry.values[name].map { (entry.step, $0) } }
        guard let first = held.first else { return nil }
        let host = Tensor.withoutGrad { Tensor.concatenate(held.map { $0.1.reshaped(to: [$0.1.count]).to(first.1.device) }, axis: 0) }.toArray()
        let width = first.1.count
        return held.indices.first { index in host[(index * width)..<((index + 1) * width)].contains { !$0.isFinite } }.map { held[$0].0 }
    }

    static func isLoss(_ name: String) -> Bool { name == "loss" || name.hasSuffix("_loss") }
}

/// A model's weights, state and optimizer state at one moment. Optimizers and state updates
/// install new tensors rather than writing into the old ones, so holding them is the copy.
struct ModelState {
    private let values: [(Parameter, Tensor)]
    private let optimizers: [(Optimizer, iterations: Int, slots: [(Parameter, String, Tensor)])]

    init(_ model: Model) {
        let parameters = model.parameters
        values = parameters.map { ($0, $0.value) }
        optimizers = model.namedOptimizers.map { _, optimizer in
            (optimizer, optimizer.iterations,
             parameters.flatMap { parameter in optimizer.slots(of: parameter).map { (parameter, $0.key, $0.value) } })
        }
    }

    func restore() {
        Tensor.withoutGrad {
            for (parameter, value) in values { parameter.assign(value) }
        }
        for (optimizer, iterations, slots) in optimizers {
            // Slots first made during the diverged epoch go too.
            optimizer.reset()
            optimizer.iterations = iterations
            for (parameter, name, value) in slots { optimizer.setSlot(name, of: parameter, to: value) }
        }
    }
}
