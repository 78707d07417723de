import Flint
import Foundation
import Testing

/// Update rules checked step by step against hand-computed PyTorch formulas.
@Suite struct Optimizers {
    /// Minimises Σ (w - 3)² from w = [0, 1] for `steps` steps and returns w.
    func run(_ optimizer: Optimizer, steps: Int) -> [Float] {
        let w = Parameter(Tensor([0, 1], shape: [2], on: .cpu), name: "w")
        for _ in 0..<steps {
            (w.value - 3).square().sum().backward()
            optimizer.step([w])
        }
        return w.value.toArray()
    }

    /// The same rules in Double, written straight from PyTorch's documentation.
    func reference(steps: Int, _ rule: (inout [String: Double], Double, Int) -> Double) -> [Double] {
        [0.0, 1.0].map { start in
            var w = start
            var state: [String: Double] = [:]
            for t in 1...steps { state["w"] = w; w = rule(&state, 2 * (w - 3), t) }
            return w
        }
    }

    func expectClose(_ a: [Float], _ b: [Double], _ name: String) {
        for (x, y) in zip(a, b) { #expect(Swift.abs(Double(x) - y) < 1e-4, "\(name): \(a) vs \(b)") }
    }

    @Test func sgdWithMomentumAndNesterov() {
        expectClose(run(SGD(learningRate: 0.1), steps: 3), reference(steps: 3) { s, g, _ in s["w"]! - 0.1 * g }, "sgd")
        expectClose(run(SGD(learningRate: 0.1, momentum: 0.9), steps: 5), reference(steps: 5) { s, g, _ in
            let b = s["b"].map { 0.9 * $0 + g } ?? g
            s["b"] = b
            return s["w"]! - 0.1 * b
        }, "momentum")
        expectClose(run(SGD(learningRate: 0.1, momentum: 0.9, nesterov: true), steps: 5), reference(steps: 5) { s, g, _ in
            let b = s["b"].map { 0.9 * $0 + g } ?? g
            s["b"] = b
            return s["w"]! - 0.1 * (g + 0.9 * b)
        }, "nesterov")
    }

    @Test func adamAndAdamW() {
        func adam(decay: Double, decoupled: Bool) -> (inout [String: Double], Double, Int) -> Double {
            { s, g0, t in
                var w = s["w"]!, g = g0
                if decoupled { w *= 1 - 0.01 * decay } else { g += decay * w }
                let m = 0.9 * (s["m"] ?? 0) + 0.1 * g, v = 0.999 * (s["v"] ?? 0) + 0.001 * g * g
                s["m"] = m
                s["v"] = v
                let mh = m / (1 - pow(0.9, Double(t))), vh = v / (1 - pow(0.999, Double(t)))
                return w - 0.01 * mh / (vh.squareRoot() + 1e-8)
            }
        }
        expectClose(run(Adam(learningRate: 0.01), steps: 6), reference(steps: 6, adam(decay: 0, decoupled: false)), "adam")
        expectClose(run(Adam(learningRate: 0.01, weightDecay: 0.1), steps: 6), reference(steps: 6, adam(decay: 0.1, decoupled: false)), "adam L2")
        expectClose(run(AdamW(learningRate: 0.01, weightDecay: 0.1), steps: 6), reference(steps: 6, adam(decay: 0.1, decoupled: true)), "adamw")
    }

    @Test func rmsprop() {
        expectClose(run(RMSprop(learningRate: 0.01), steps: 4), reference(steps: 4) { s, g, _ in
            let v = 0.99 * (s["v"] ?? 0) + 0.01 * g * g
            s["v"] = v
            return s["w"]! - 0.01 * g / (v.squareRoot() + 1e-8)
        }, "rmsprop")
    }

    @Test func clippingScalesTheGlobalNorm() {
        // Gradient (-6, -4) has norm √52; clipped to norm 1 the SGD step moves w by lr · g/‖g‖.
        let result = run(SGD(learningRate: 1, clipNorm: 1), steps: 1)
        let norm = (36.0 + 16.0).squareRoot()
        expectClose(result, [6 / norm, 1 + 4 / norm], "clip")
    }

    @Test func schedules() {
        #expect(LearningRateSchedule.step(stepSize: 2, gamma: 0.5).rate(epoch: 5, initial: 1) == 0.25)
        #expect(Swift.abs(LearningRateSchedule.exponential(gamma: 0.9).rate(epoch: 2, initial: 1) - 0.81) < 1e-6)
        let cosine = LearningRateSchedule.cosine(period: 10, minimum: 0.1)
        #expect(cosine.rate(epoch: 0, initial: 1) == 1 && Swift.abs(cosine.rate(epoch: 10, initial: 1) - 0.1) < 1e-6)
        #expect(Swift.abs(cosine.rate(epoch: 5, initial: 1) - 0.55) < 1e-6)
        // Cosine moves within an epoch; step and exponential change only at whole epochs.
        #expect(Swift.abs(cosine.rate(epoch: 2.5, initial: 1) - (0.1 + 0.9 * (1 + Foundation.cos(Float.pi / 4)) / 2)) < 1e-6)
        #expect(LearningRateSchedule.step(stepSize: 1, gamma: 0.5).rate(epoch: 1.99, initial: 1) == 0.5)
        #expect(LearningRateSchedule.exponential(gamma: 0.5).rate(epoch: 0.9, initial: 1) == 1)
    }

    @Test func fitAppliesTheScheduleEveryStep() throws {
        // 8 samples in batches of 2: 4 steps per epoch, so the last step of epoch 0 runs at
        // epoch 0.75 of a 2-epoch cosine, and fit restores the initial rate when it ends.
        let x = Tensor((0..<16).map { Float($0) / 16 }, shape: [8, 2], on: .cpu)
        let y = Tensor((0..<8).map { Float($0) / 8 }, shape: [8, 1], on: .cpu)
        let model = try Sequential([Dense(1)], inputShape: [2], device: .cpu, seed: 3)
        let optimizer = SGD(learningRate: 0.1)
        try model.compile(optimizer: optimizer, loss: MeanSquaredError())
        let history = try model.fit(x, y, epochs: 2, batchSize: 2, schedule: .cosine(period: 2), verbosity: .silent)
        let expected: [Float] = [0.75, 1.75].map { 0.1 * (1 + Foundation.cos(Float.pi * $0 / 2)) / 2 }
        for (logged, wanted) in zip(history["learning_rate"], expected) { #expect(Swift.abs(logged - wanted) < 1e-7) }
        #expect(optimizer.learningRate == 0.1)
    }

    @Test func earlyStoppingRestoresTheBestWeights() throws {
        var rng = DataRNG(seed: 5)
        let x = Tensor((0..<64).map { _ in rng.uniform() }, shape: [32, 2], on: .cpu)
        let y = Tensor((0..<32).map { _ in rng.uniform() }, shape: [32, 1], on: .cpu)  // noise: validation stops improving
        let model = try Sequential([Dense(32, activation: .relu), Dense(1)], inputShape: [2], device: .cpu, seed: 1)
        try model.compile(optimizer: Adam(learningRate: 0.05), loss: MeanSquaredError())
        let stopper = EarlyStopping(monitor: "val_loss", patience: 2)
        let history = try model.fit(x, y, epochs: 200, batchSize: 8, validationSplit: 0.5, callbacks: [stopper], verbosity: .silent)
        #expect(history.epochs.count < 200 && stopper.stoppedEpoch != nil)
        let best = try #require(stopper.bestEpoch)
        let restored = try model.evaluate(x.slice(axis: 0, 16..<32), y.slice(axis: 0, 16..<32))["loss"]!
        #expect(Swift.abs(restored - history["val_loss"][best]) < 1e-4)
    }
}
