import Flint
import Foundation
import Testing

/// LayerNormalization, GlobalMaxPooling2D and the merge layers against Float64 references on
/// every device, with finite-difference gradients for LayerNormalization.
@Suite struct NewLayers {
    static func layerNormReference(_ x: [Double], features: Int, gamma: [Double], beta: [Double], epsilon: Double) -> [Double] {
        stride(from: 0, to: x.count, by: features).flatMap { start -> [Double] in
            let row = Array(x[start..<(start + features)])
            let mean = row.reduce(0, +) / Double(features)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(features)
            return row.indices.map { (row[$0] - mean) / (variance + epsilon).squareRoot() * gamma[$0] + beta[$0] }
        }
    }

    @Test(arguments: NNDevices.all)
    func layerNormalizationMatchesReferenceAndGradients(device: Device) throws {
        let (batch, time, features) = (3, 2, 5)
        var rng = DataRNG(seed: 21)
        let values = (0..<(batch * time * features)).map { _ in rng.uniform(-2, 2) }
        let layer = LayerNormalization(epsilon: 1e-3)
        let context = BuildContext(device: device, generator: RandomGenerator(seed: 1))
        #expect(try layer.build(inputShape: [time, features], context: context) == [time, features])
        // Non-trivial γ and β, so a swapped or missing term shows.
        let gamma = (0..<features).map { _ in rng.uniform(0.5, 1.5) }, beta = (0..<features).map { _ in rng.uniform(-1, 1) }
        layer.gamma!.assign(Tensor(gamma, shape: [features], on: device))
        layer.beta!.assign(Tensor(beta, shape: [features], on: device))

        let x = Tensor(values, shape: [batch, time, features], on: device).requiringGrad()
        let output = layer(x, training: true)
        let reference = Self.layerNormReference(values.map(Double.init), features: features, gamma: gamma.map(Double.init),
                                                beta: beta.map(Double.init), epsilon: 1e-3)
        for (got, want) in zip(output.toArray(), reference) { #expect(Swift.abs(Double(got) - want) < 1e-5, "\(got) vs \(want) on \(device)") }

        // d/dx of Σ output ⊙ w against central differences of the reference.
        let weights = (0..<values.count).map { _ in Double(rng.uniform()) }
        (output * Tensor(weights.map(Float.init), shape: output.shape, on: device)).sum().backward()
        let analytic = x.grad!.toArray()
        for j in values.indices {
            var plus = values.map(Double.init), minus = plus
            plus[j] += 1e-6
            minus[j] -= 1e-6
            func loss(_ v: [Double]) -> Double {
                zip(Self.layerNormReference(v, features: features, gamma: gamma.map(Double.init), beta: beta.map(Double.init), epsilon: 1e-3),
                    weights).reduce(0) { $0 + $1.0 * $1.1 }
            }
            let numeric = (loss(plus) - loss(minus)) / 2e-6
            #expect(Swift.abs(Double(analytic[j]) - numeric) <= 2e-4 + 2e-3 * Swift.abs(numeric), "∂/∂x[\(j)] \(analytic[j]) vs \(numeric) on \(device)")
        }
        #expect(layer.gamma!.grad != nil && layer.beta!.grad != nil)
    }

    @Test(arguments: NNDevices.all)
    func globalMaxPoolingAndMergesMatchReferences(device: Device) throws {
        // Two 2×3 images with 2 interleaved channels (NHWC); channel maxima by hand. The second
        // image's first channel holds its maximum 8 twice.
        let pixels: [Float] = [1, -1, 5, 2, 3, 0,  -4, 7, 2, 2, 0, 9,
                               -1, -2, -3, -4, -5, -6,  8, 1, 8, 0, 1, 2]
        let images = Tensor(pixels, shape: [2, 2, 3, 2], on: device).requiringGrad()
        let pooled = GlobalMaxPooling2D()(images)
        #expect(pooled.shape == [2, 2] && pooled.toArray() == [5, 9, 8, 2])
        pooled.sum().backward()
        // The gradient reaches the first maximum of each channel only.
        var expected = [Float](repeating: 0, count: 24)
        for index in [2, 11, 18, 23] { expected[index] = 1 }
        #expect(images.grad!.toArray() == expected, "\(images.grad!.toArray()) on \(device)")

        let a = Tensor([1, 2, 3, 4], shape: [2, 2], on: device), b = Tensor([10, 20, 30, 40, 50, 60], shape: [2, 3], on: device)
        #expect(Concatenate()([a, b]).toArray() == [1, 2, 10, 20, 30, 3, 4, 40, 50, 60])
        #expect(Concatenate(axis: 0)([a.reshaped(to: [2, 2, 1]), a.reshaped(to: [2, 2, 1])]).shape == [2, 4, 1])
        #expect(Add()([a, a, a]).toArray() == [3, 6, 9, 12])
        #expect(Multiply()([a, a]).toArray() == [1, 4, 9, 16])
    }
}
