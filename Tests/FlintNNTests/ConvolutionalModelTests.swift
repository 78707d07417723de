import Flint
import Foundation
import Testing

@Suite struct ConvolutionalModels {
    /// 10×10 images holding a noisy horizontal (class 0) or vertical (class 1) bar at a random place.
    static func bars(_ count: Int, seed: UInt64) -> (Tensor, Tensor) {
        var rng = DataRNG(seed: seed)
        var pixels: [Float] = [], labels: [Int32] = []
        for i in 0..<count {
            var image = (0..<100).map { _ in 0.1 * rng.uniform(0, 1) }
            let position = Int(rng.next() % 8) + 1, start = Int(rng.next() % 4)
            for k in start..<(start + 6) {
                if i % 2 == 0 { image[position * 10 + k] = 1 } else { image[k * 10 + position] = 1 }
            }
            pixels += image
            labels.append(Int32(i % 2))
        }
        return (Tensor(pixels, shape: [count, 10, 10, 1], on: .cpu), Tensor(int32: labels, shape: [count], on: .cpu))
    }

    @Test(arguments: NNDevices.all)
    func smallCNNLearnsBarOrientation(device: Device) throws {
        let (x, y) = Self.bars(256, seed: 1)
        let (testX, testY) = Self.bars(128, seed: 2)
        let model = try Sequential([
            Conv2D(8, kernelSize: 3, padding: .same, activation: .relu), BatchNormalization(), MaxPool2D(),
            Conv2D(8, kernelSize: (3, 3), strides: (2, 2)), ReLU(), GlobalAveragePooling2D(), Dropout(0.1), Dense(2),
        ], inputShape: [10, 10, 1], device: device, seed: 5)
        try model.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        try model.fit(x, y, epochs: 15, batchSize: 32, verbosity: .silent)
        let result = try model.evaluate(testX, testY)
        #expect(result["accuracy"]! >= 0.95, "bars on \(device): \(result)")
    }

    @Test func layersCheckShapesWhenBuilt() throws {
        #expect(throws: ModelError.self) { try Sequential([Conv2D(4, kernelSize: 3)], inputShape: [28, 28], device: .cpu) }
        #expect(throws: ModelError.self) { try Sequential([Conv2D(4, kernelSize: 5)], inputShape: [3, 3, 1], device: .cpu) }
        #expect(throws: ModelError.self) { try Sequential([MaxPool2D(poolSize: (4, 4))], inputShape: [3, 3, 1], device: .cpu) }
        let model = try Sequential([Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(), Flatten(), Dense(128), Dense(10)],
                                   inputShape: [28, 28, 1], device: .cpu)
        #expect(model.layerShapes == [[26, 26, 32], [13, 13, 32], [5408], [128], [10]])
        #expect(model.parameterCount == 320 + 5408 * 128 + 128 + 1290)
        let same = try Sequential([Conv2D(4, kernelSize: (3, 3), strides: (2, 2), padding: .same), AvgPool2D(poolSize: (2, 2), padding: .same)],
                                  inputShape: [9, 9, 2], device: .cpu)
        #expect(same.layerShapes == [[5, 5, 4], [3, 3, 4]])
    }

    @Test(arguments: NNDevices.all)
    func batchNormNormalisesInTrainingAndUsesMovingStatisticsInEvaluation(device: Device) throws {
        let layer = BatchNormalization(momentum: 0.5)
        _ = try layer.build(inputShape: [2, 2, 3], context: BuildContext(device: device, generator: RandomGenerator(seed: 1)))
        let x = Tensor.normal([16, 2, 2, 3], mean: 3, standardDeviation: 2, seed: 4, on: device)
        let y = layer(x, training: true)
        let mean = y.mean(axes: [0, 1, 2]).toArray(), variance = y.square().mean(axes: [0, 1, 2]).toArray()
        for (m, v) in zip(mean, variance) { #expect(Swift.abs(m) < 1e-4 && Swift.abs(v - 1) < 1e-2, "batch statistics \(mean) \(variance)") }
        let batchMean = x.mean(axes: [0, 1, 2]).toArray()
        for (moving, batch) in zip(layer.movingMean.value.toArray(), batchMean) { #expect(Swift.abs(moving - 0.5 * batch) < 1e-5) }
        // Evaluation uses the moving statistics, not the batch's.
        let evaluated = layer(x, training: false).toArray()
        let expected = x.toArray().enumerated().map { i, v -> Float in
            let c = i % 3
            return (v - layer.movingMean.value.toArray()[c]) / (layer.movingVariance.value.toArray()[c] + 1e-3).squareRoot()
        }
        for (a, b) in zip(evaluated, expected) { #expect(Swift.abs(a - b) < 1e-4) }
    }

    @Test(arguments: NNDevices.all)
    func initialisersHaveKerasScales(device: Device) {
        let generator = RandomGenerator(seed: 3)
        let limit = (6.0 / Double(300 + 200)).squareRoot()
        let glorot = Initializer.glorotUniform.make([300, 200], fanIn: 300, fanOut: 200, generator: generator, on: device).toArray()
        #expect(glorot.allSatisfy { Swift.abs(Double($0)) <= limit } && Double(glorot.map(Swift.abs).max()!) > 0.99 * limit)
        let he = Initializer.heNormal.make([300, 200], fanIn: 300, fanOut: 200, generator: generator, on: device).toArray()
        let std = (he.reduce(0) { $0 + Double($1 * $1) } / Double(he.count)).squareRoot()
        #expect(Swift.abs(std - (2.0 / 300).squareRoot()) < 0.003)
    }
}
