import Flint
import Foundation
import Testing

// Everything here is defined outside the Flint modules, as a user would, and must work wherever
// the built-ins do. This target imports only `Flint`.

extension Activation {
    /// x · tanh(softplus(x)), written with public tensor ops.
    static let mish = Activation(name: "mish") { x in x * (x.relu() + (1 + (-x.abs()).exp()).log()).tanh() }
}

extension Metric {
    /// Precision of the positive class for a single sigmoid output: a ratio of two counts.
    static let precision = Metric(name: "precision", statistics: { predictions, targets in
        let predicted = predictions .> 0.5
        return Tensor.concatenate([(predicted * targets).sum().reshaped(to: [1]), predicted.sum().reshaped(to: [1])], axis: 0)
    }, result: { totals, _ in totals[1] > 0 ? totals[0] / totals[1] : 0 })
}

extension Initializer {
    /// LeCun normal: N(0, √(1/fanIn)).
    static let lecunNormal = Initializer(name: "lecun_normal") { shape, fanIn, _, generator, device in
        .normal(shape, standardDeviation: (1 / Float(fanIn)).squareRoot(), generator: generator, on: device)
    }
}

extension LearningRateSchedule {
    /// Halves the rate after the first epoch.
    static let halveAfterOne = LearningRateSchedule(name: "halve_after_one") { epoch, initial in epoch < 1 ? initial : initial / 2 }
}

/// Squared hinge on ±1 targets.
struct SquaredHinge: Loss {
    var name: String { "squared_hinge" }
    func validate(outputShape: [Int], targetShape: [Int], targetType: DType) throws {
        guard targetType == .float32, targetShape == outputShape else {
            throw ModelError.targetMismatch(reason: "squared hinge needs float32 targets of shape \(outputShape)")
        }
    }
    func callAsFunction(_ predictions: Tensor, _ targets: Tensor) -> Tensor {
        (1 - predictions * targets).relu().square().mean()
    }
}

/// SGD with heavy-ball momentum kept in its own per-parameter slot, and a count of updates.
final class MomentumSGD: Optimizer {
    let momentum: Float
    private(set) var updates = 0
    init(learningRate: Float, momentum: Float) {
        self.momentum = momentum
        super.init(learningRate: learningRate)
    }
    override func update(_ parameter: Parameter, gradient: Tensor) -> Tensor {
        updates += 1
        let velocity = (slot("velocity", of: parameter).map { $0 * momentum } ?? gradient * 0) + gradient
        setSlot("velocity", of: parameter, to: velocity)
        return parameter.value - velocity * learningRate
    }
}

/// Records every epoch's logs and stops once the loss is small enough.
final class Recorder: Callback {
    var began = 0, ended = 0
    var epochs: [[String: Float]] = []
    let stopBelow: Float
    init(stopBelow: Float) { self.stopBelow = stopBelow }
    func trainingBegan(model: Model) { began += 1 }
    func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        epochs.append(logs)
        return logs["loss"]! < stopBelow
    }
    func trainingEnded(model: Model) { ended += 1 }
}

@Suite struct ExtensionPoints {
    static let devices: [Device] = Device.available.filter { (try? $0.open()) != nil }

    /// Two Gaussian blobs, labelled ±1 (for the hinge loss) and 0/1 (for the metric).
    static func blobs(_ count: Int) -> (x: Tensor, signs: Tensor, labels: Tensor) {
        var state: UInt64 = 42
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) * 0x1p-24 * 2 - 1
        }
        var points: [Float] = [], signs: [Float] = []
        for i in 0..<count {
            let side: Float = i % 2 == 0 ? 1 : -1
            points += [side * 1.5 + 0.5 * uniform(), side + 0.5 * uniform()]
            signs.append(side)
        }
        return (Tensor(points, shape: [count, 2], on: .cpu), Tensor(signs, shape: [count, 1], on: .cpu),
                Tensor(signs.map { $0 > 0 ? 1 : 0 }, shape: [count, 1], on: .cpu))
    }

    @Test(arguments: devices)
    func userTypesWorkWhereBuiltInsDo(device: Device) throws {
        let model = try Sequential([Dense(8, activation: .mish, kernelInitializer: .lecunNormal), ActivationLayer(.mish),
                                    Dense(1, kernelInitializer: .lecunNormal)],
                                   inputShape: [2], device: device, seed: 3)
        let optimizer = MomentumSGD(learningRate: 0.05, momentum: 0.9)
        try model.compile(optimizer: optimizer, loss: SquaredHinge(), metrics: [.precision, .accuracy])
        let recorder = Recorder(stopBelow: 0.05)
        let (x, signs, _) = Self.blobs(256)
        let history = try model.fit(x, signs, epochs: 30, batchSize: 32, callbacks: [recorder],
                                    schedule: .halveAfterOne, verbosity: .silent)

        // The callback saw every epoch and stopped training early.
        #expect(recorder.began == 1 && recorder.ended == 1)
        #expect(recorder.epochs.count == history.epochs.count && (2..<30).contains(history.epochs.count), "\(history.epochs.count) epochs")
        // The schedule set the rate: 0.05 in the first epoch, 0.025 after.
        #expect(history["learning_rate"] == [0.05] + Array(repeating: 0.025, count: history.epochs.count - 1))
        #expect(optimizer.learningRate == 0.05)
        // The optimizer ran once per parameter per step and kept its own state for each.
        let steps = history.epochs.count * 8
        #expect(optimizer.updates == steps * model.trainableParameters.count && optimizer.iterations == steps)
        #expect(model.trainableParameters.allSatisfy { optimizer.slot("velocity", of: $0)?.shape == $0.shape })
        // The custom metric is reported; on this separable problem precision ends at 1. Targets
        // are ±1, so the built-in accuracy (a 0.5 threshold) agrees on the positive class only.
        #expect(history["precision"].last == 1, "\(history.epochs.last!)")
        let evaluated = try model.evaluate(x, signs)
        #expect(evaluated["squared_hinge"] == nil && evaluated["loss"]! < 0.05 && evaluated["precision"] == 1)
        #expect(model.summary.contains("activationlayer_1 (ActivationLayer)"))
    }

    @Test func userInitializerAndActivationAreUsed() throws {
        let dense = Dense(64, activation: .mish, kernelInitializer: .lecunNormal)
        _ = try Sequential([dense], inputShape: [400], device: .cpu, seed: 1)
        let weights = dense.kernel.value.toArray()
        let variance = weights.reduce(0) { $0 + $1 * $1 } / Float(weights.count)
        #expect(Swift.abs(variance - 1 / 400) < 0.1 / 400, "variance \(variance)")
        // mish(1) = tanh(ln(1 + e)) ≈ 0.86510
        let value = Activation.mish(Tensor([1], shape: [1], on: .cpu)).item()
        #expect(Swift.abs(value - 0.865098) < 1e-5)
        #expect(Activation.mish == Activation.mish && Activation.mish != .relu)
    }
}
