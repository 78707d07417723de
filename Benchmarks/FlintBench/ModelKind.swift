import Flint

/// The models `flint-bench models` measures, defined as in `Benchmarks/peers/pytorch_bench.py`.
enum ModelKind: String, CaseIterable {
    /// 784 → 128 ReLU → 10, batch 128.
    case mlp
    /// The seed CNN: Conv 32 3×3 ReLU → MaxPool 2 → Dense 128 ReLU → Dense 10, batch 128.
    case cnn
    /// Keras' MNIST convnet: Conv 32 3×3 ReLU → Conv 64 3×3 ReLU → MaxPool 2 → Dropout 0.25 →
    /// Dense 128 ReLU → Dense 10, batch 128.
    case convnet
    /// The wide MLP: 784 → 1024 ReLU → 1024 ReLU → 10, batch 256.
    case wide
    /// An LSTM (hidden 128) over the 28 rows of 28 pixels, its last state → Dense 10, batch 128.
    case lstm

    var batch: Int { self == .wide ? 256 : 128 }

    /// Steps per timed epoch: about a tenth of a second of work or more per epoch.
    var stepsPerEpoch: Int {
        switch self {
        case .mlp: 64
        case .cnn, .lstm: 8
        case .convnet: 4
        case .wide: 16
        }
    }

    var sampleShape: [Int] { self == .cnn || self == .convnet ? [28, 28, 1] : [28, 28] }

    func makeModel(on device: Device) throws -> Sequential {
        let layers: [Layer]
        switch self {
        case .mlp:
            layers = [Flatten(), Dense(128, activation: .relu), Dense(10)]
        case .cnn:
            layers = [Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(), Flatten(), Dense(128, activation: .relu), Dense(10)]
        case .convnet:
            layers = [Conv2D(32, kernelSize: 3, activation: .relu), Conv2D(64, kernelSize: 3, activation: .relu), MaxPool2D(),
                      Dropout(0.25), Flatten(), Dense(128, activation: .relu), Dense(10)]
        case .wide:
            layers = [Flatten(), Dense(1024, activation: .relu), Dense(1024, activation: .relu), Dense(10)]
        case .lstm:
            layers = [LSTM(128), Dense(10)]
        }
        let model = try Sequential(layers, inputShape: sampleShape, device: device, seed: 1)
        try model.compile(optimizer: Adam(learningRate: 1e-3), loss: SparseCategoricalCrossEntropy(fromLogits: true))
        return model
    }

    /// Useful FLOPs per sample: the multiply-adds of the matrix products and convolutions, 2 FLOPs
    /// each; bias, activations, pooling, dropout, loss and optimizer are not counted. A layer's
    /// forward product costs `f`; training costs `3f` per layer (forward, weight gradient, input
    /// gradient), less the first layer's input gradient, which nothing needs (`2f` there).
    var flops: (forward: Double, training: Double) {
        // Forward FLOPs per layer, first layer first.
        let layers: [Double]
        switch self {
        case .mlp:
            layers = [2 * 784 * 128, 2 * 128 * 10]
        case .cnn:
            layers = [2 * 26 * 26 * 32 * 9, 2 * 13 * 13 * 32 * 128, 2 * 128 * 10]
        case .convnet:
            layers = [2 * 26 * 26 * 32 * 9, 2 * 24 * 24 * 64 * (9 * 32), 2 * 12 * 12 * 64 * 128, 2 * 128 * 10]
        case .wide:
            layers = [2 * 784 * 1024, 2 * 1024 * 1024, 2 * 1024 * 10]
        case .lstm:
            // 28 steps of x·W (28 → 4·128) and h·U (128 → 4·128); the input projection is the first layer.
            layers = [28 * 2 * 28 * 512, 28 * 2 * 128 * 512, 2 * 128 * 10]
        }
        let forward = layers.reduce(0, +)
        return (forward, 3 * forward - layers[0])
    }
}
