import Flint
import Foundation
import Testing

/// Layers with state or randomness against independent Float64 references, with settings
/// where a swapped convention shows (momentum 0.9 and 0.99 rather than 0.5, ε not 1e-3, a
/// dropout rate other than one half).
@Suite struct StatefulLayers {
    /// Keras' BatchNormalization over the last axis of `[rows, features]` batches: returns the
    /// outputs of each training step and the moving statistics after it.
    static func batchNormReference(_ batches: [[Double]], features: Int, momentum: Double, epsilon: Double,
                                   gamma: [Double], beta: [Double]) -> (outputs: [[Double]], mean: [Double], variance: [Double]) {
        var movingMean = [Double](repeating: 0, count: features), movingVariance = [Double](repeating: 1, count: features)
        var outputs: [[Double]] = []
        for batch in batches {
            let rows = batch.count / features
            var output = batch
            for f in 0..<features {
                let column = (0..<rows).map { batch[$0 * features + f] }
                let mean = column.reduce(0, +) / Double(rows)
                let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rows)
                for r in 0..<rows { output[r * features + f] = (batch[r * features + f] - mean) / (variance + epsilon).squareRoot() * gamma[f] + beta[f] }
                movingMean[f] = momentum * movingMean[f] + (1 - momentum) * mean
                movingVariance[f] = momentum * movingVariance[f] + (1 - momentum) * variance
            }
            outputs.append(output)
        }
        return (outputs, movingMean, movingVariance)
    }

    @Test(arguments: NNDevices.all, [Float(0.9), 0.99])
    func batchNormFollowsKerasWithAnyMomentum(device: Device, momentum: Float) throws {
        let (rows, features, epsilon): (Int, Int, Float) = (8, 3, 1e-5)
        let layer = BatchNormalization(momentum: momentum, epsilon: epsilon)
        try layer.build(inputShape: [features], context: BuildContext(device: device, generator: RandomGenerator(seed: 1)))
        var rng = DataRNG(seed: 12)
        let gamma = (0..<features).map { _ in rng.uniform(0.5, 2) }, beta = (0..<features).map { _ in rng.uniform(-1, 1) }
        layer.gamma.assign(Tensor(gamma, shape: [features], on: device))
        layer.beta.assign(Tensor(beta, shape: [features], on: device))
        let batches = (0..<3).map { step in (0..<(rows * features)).map { _ in rng.uniform(-2, 2) * Float(step + 1) + Float(step) } }
        let reference = Self.batchNormReference(batches.map { $0.map(Double.init) }, features: features, momentum: Double(momentum),
                                                epsilon: Double(epsilon), gamma: gamma.map(Double.init), beta: beta.map(Double.init))
        for (step, batch) in batches.enumerated() {
            let output = layer(Tensor(batch, shape: [rows, features], on: device), training: true).toArray()
            for (got, want) in zip(output, reference.outputs[step]) {
                #expect(Swift.abs(Double(got) - want) < 1e-4 * Swift.max(1, Swift.abs(want)), "step \(step) on \(device): \(got) vs \(want)")
            }
        }
        for (got, want) in zip(layer.movingMean.value.toArray(), reference.mean) {
            #expect(Swift.abs(Double(got) - want) < 1e-5 * Swift.max(1, Swift.abs(want)), "moving mean \(got) vs \(want) on \(device)")
        }
        for (got, want) in zip(layer.movingVariance.value.toArray(), reference.variance) {
            #expect(Swift.abs(Double(got) - want) < 1e-5 * Swift.max(1, Swift.abs(want)), "moving variance \(got) vs \(want) on \(device)")
        }
        // Evaluation normalises with the moving statistics and ε.
        let x = batches[0]
        let evaluated = layer(Tensor(x, shape: [rows, features], on: device), training: false).toArray()
        for (i, got) in evaluated.enumerated() {
            let f = i % features
            let want = (Double(x[i]) - reference.mean[f]) / (reference.variance[f] + Double(epsilon)).squareRoot() * Double(gamma[f]) + Double(beta[f])
            #expect(Swift.abs(Double(got) - want) < 1e-4 * Swift.max(1, Swift.abs(want)), "evaluation \(got) vs \(want) on \(device)")
        }
    }

    @Test(arguments: NNDevices.all)
    func batchNormGradientMatchesFiniteDifferences(device: Device) throws {
        let (rows, features) = (5, 2)
        let layer = BatchNormalization(momentum: 0.9, epsilon: 1e-5)
        try layer.build(inputShape: [features], context: BuildContext(device: device, generator: RandomGenerator(seed: 1)))
        layer.gamma.assign(Tensor([1.5, 0.7], shape: [2], on: device))
        var rng = DataRNG(seed: 5)
        let values = (0..<(rows * features)).map { _ in rng.uniform(-2, 2) }
        let weights = (0..<(rows * features)).map { _ in Double(rng.uniform()) }
        let x = Tensor(values, shape: [rows, features], on: device).requiringGrad()
        (layer(x, training: true) * Tensor(weights.map(Float.init), shape: [rows, features], on: device)).sum().backward()
        func loss(_ v: [Double]) -> Double {
            let out = Self.batchNormReference([v], features: features, momentum: 0.9, epsilon: 1e-5, gamma: [1.5, 0.7], beta: [0, 0]).outputs[0]
            return zip(out, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let analytic = x.grad!.toArray()
        for j in values.indices {
            var plus = values.map(Double.init), minus = plus
            plus[j] += 1e-6
            minus[j] -= 1e-6
            let numeric = (loss(plus) - loss(minus)) / 2e-6
            #expect(Swift.abs(Double(analytic[j]) - numeric) <= 1e-4 + 1e-3 * Swift.abs(numeric), "∂/∂x[\(j)]: \(analytic[j]) vs \(numeric) on \(device)")
        }
    }

    @Test(arguments: NNDevices.all)
    func dropoutDropsItsRateAndScalesTheRest(device: Device) throws {
        let layer = Dropout(0.3)
        try layer.build(inputShape: [20_000], context: BuildContext(device: device, generator: RandomGenerator(seed: 8)))
        let x = Tensor.ones([1, 20_000], on: device)
        let kept = layer(x, training: true).toArray()
        let zeros = kept.filter { $0 == 0 }.count
        // 30% dropped (±1% at 20 000 draws is over 3 standard deviations), survivors scaled by 1/0.7.
        #expect(Swift.abs(Double(zeros) / 20_000 - 0.3) < 0.01, "dropped \(zeros) of 20 000 on \(device)")
        #expect(kept.allSatisfy { $0 == 0 || Swift.abs($0 - 1 / 0.7) < 1e-6 })
        #expect(layer(x, training: false).toArray() == x.toArray())
    }
}
