import Flint
import Foundation
import Testing

/// Tiny real problems that must be solved on every device.
@Suite struct Convergence {
    @Test(arguments: NNDevices.all)
    func xorIsLearnedByASmallMLP(device: Device) throws {
        let x = Tensor([0, 0, 0, 1, 1, 0, 1, 1], shape: [4, 2], on: device)
        let y = Tensor([0, 1, 1, 0], shape: [4, 1], on: device)
        let model = try Sequential([Dense(8, activation: .tanh), Dense(1, activation: .sigmoid)], inputShape: [2], device: device, seed: 3)
        try model.compile(optimizer: Adam(learningRate: 0.05), loss: BinaryCrossEntropy(), metrics: [.accuracy])
        let history = try model.fit(x, y, epochs: 300, batchSize: 4, verbosity: .silent)
        let predictions = try model.predict(x).toArray()
        #expect(predictions[0] < 0.2 && predictions[1] > 0.8 && predictions[2] > 0.8 && predictions[3] < 0.2,
                "XOR on \(device): \(predictions)")
        #expect(history["accuracy"].last == 1)
    }

    @Test(arguments: NNDevices.all)
    func linearRegressionRecoversKnownWeights(device: Device) throws {
        var rng = DataRNG(seed: 7)
        let trueWeights: [Float] = [2, -3, 0.5], trueBias: Float = 1.25
        let n = 512
        var features: [Float] = [], targets: [Float] = []
        for _ in 0..<n {
            let row = (0..<3).map { _ in rng.uniform() }
            features += row
            targets.append(zip(row, trueWeights).reduce(trueBias) { $0 + $1.0 * $1.1 } + 0.01 * rng.normal())
        }
        let model = try Sequential([Dense(1)], inputShape: [3], device: device, seed: 1)
        try model.compile(optimizer: SGD(learningRate: 0.1, momentum: 0.9), loss: MeanSquaredError())
        let history = try model.fit(Tensor(features, shape: [n, 3], on: device), Tensor(targets, shape: [n, 1], on: device),
                                    epochs: 40, batchSize: 32, verbosity: .silent)
        let dense = try #require(model.layers[0] as? Dense)
        let weights = dense.kernel.value.toArray(), bias = dense.bias!.value.toArray()[0]
        for (learned, truth) in zip(weights, trueWeights) { #expect(Swift.abs(learned - truth) < 0.02, "weights \(weights) on \(device)") }
        #expect(Swift.abs(bias - trueBias) < 0.02, "bias \(bias) on \(device)")
        #expect(history["loss"].last! < 0.001)
    }

    @Test(arguments: NNDevices.all)
    func logisticRegressionSeparatesLinearlySeparableData(device: Device) throws {
        var rng = DataRNG(seed: 11)
        let n = 400
        var features: [Float] = [], labels: [Float] = []
        while labels.count < n {
            let (a, b) = (rng.uniform(), rng.uniform())
            let margin = a + 2 * b - 0.3
            guard Swift.abs(margin) > 0.05 else { continue }  // a clear margin: perfectly separable
            features += [a, b]
            labels.append(margin > 0 ? 1 : 0)
        }
        let model = try Sequential([Dense(1, activation: .sigmoid)], inputShape: [2], device: device, seed: 2)
        try model.compile(optimizer: Adam(learningRate: 0.1), loss: BinaryCrossEntropy(), metrics: [.accuracy])
        try model.fit(Tensor(features, shape: [n, 2], on: device), Tensor(labels, shape: [n, 1], on: device),
                      epochs: 60, batchSize: 50, verbosity: .silent)
        let result = try model.evaluate(Tensor(features, shape: [n, 2], on: device), Tensor(labels, shape: [n, 1], on: device))
        #expect(result["accuracy"]! >= 0.99, "logistic regression on \(device): \(result)")
    }

    @Test(arguments: NNDevices.all)
    func softmaxClassifierWithSparseLabelsAndValidation(device: Device) throws {
        var rng = DataRNG(seed: 13)
        let centers: [[Float]] = [[2, 0], [-2, 0], [0, 2.5]]
        var features: [Float] = [], labels: [Int32] = []
        for i in 0..<600 {
            let c = i % 3
            features += [centers[c][0] + 0.5 * rng.normal(), centers[c][1] + 0.5 * rng.normal()]
            labels.append(Int32(c))
        }
        let model = try Sequential([Dense(16, activation: .relu), Dropout(0.1), Dense(3)], inputShape: [2], device: device, seed: 4)
        try model.compile(optimizer: RMSprop(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        let history = try model.fit(Tensor(features, shape: [600, 2], on: device), Tensor(int32: labels, shape: [600], on: device),
                                    epochs: 15, batchSize: 32, validationSplit: 0.2, verbosity: .silent)
        #expect(history["val_accuracy"].last! > 0.95, "history on \(device): \(history.epochs.last!)")
        #expect(history["loss"].first! > history["loss"].last!)
    }
}

@Suite struct ModelChecks {
    @Test func mismatchedInputShapeFailsBeforeTraining() throws {
        let model = try Sequential([Flatten(), Dense(10)], inputShape: [28, 28], device: .cpu)
        try model.compile(optimizer: Adam(), loss: SparseCategoricalCrossEntropy(fromLogits: true))
        let x = Tensor.zeros([8, 32, 32], on: .cpu), y = Tensor(int32: Array(repeating: 0, count: 8), shape: [8], on: .cpu)
        #expect(throws: ModelError.inputShapeMismatch(expected: [28, 28], got: [32, 32])) {
            try model.fit(x, y, verbosity: .silent)
        }
        #expect("\(ModelError.inputShapeMismatch(expected: [28, 28], got: [32, 32]))".contains("[28, 28]"))
    }

    @Test func mismatchedTargetsFailBeforeTraining() throws {
        let model = try Sequential([Dense(3)], inputShape: [4], device: .cpu)
        try model.compile(optimizer: SGD(), loss: CategoricalCrossEntropy(fromLogits: true))
        #expect(throws: ModelError.self) {
            try model.fit(Tensor.zeros([5, 4], on: .cpu), Tensor.zeros([5, 2], on: .cpu), verbosity: .silent)
        }
        #expect(throws: ModelError.self) {
            try model.fit(Tensor.zeros([5, 4], on: .cpu), Tensor.zeros([6, 3], on: .cpu), verbosity: .silent)
        }
        let sparse = try Sequential([Dense(3)], inputShape: [4], device: .cpu)
        #expect(throws: ModelError.self) {
            try sparse.compile(optimizer: SGD(), loss: MeanSquaredError())
            try sparse.fit(Tensor.zeros([5, 4], on: .cpu), Tensor(int32: [0, 1, 2, 0, 1], shape: [5], on: .cpu), verbosity: .silent)
        }
    }

    @Test func fitBeforeCompileIsAnError() throws {
        let model = try Sequential([Dense(1)], inputShape: [2], device: .cpu)
        #expect(throws: ModelError.notCompiled) { try model.fit(Tensor.zeros([2, 2], on: .cpu), Tensor.zeros([2, 1], on: .cpu)) }
    }

    @Test func summaryListsLayersAndCounts() throws {
        let model = try Sequential([Flatten(), Dense(128, activation: .relu), Dropout(0.2), Dense(10)], inputShape: [28, 28], device: .cpu)
        #expect(model.parameterCount == 784 * 128 + 128 + 128 * 10 + 10)
        #expect(model.summary.contains("(None, 128)") && model.summary.contains("Total params: 101770"))
        // A long layer name widens its column instead of running into the shape.
        let augmented = try Sequential([RandomTranslation(heightFactor: 0.1, widthFactor: 0.1), Flatten()], inputShape: [4, 4, 1], device: .cpu)
        #expect(augmented.summary.contains("randomtranslation_0 (RandomTranslation)  (None, 4, 4, 1)"), "\(augmented.summary)")
    }

    @Test func dropoutIsIdentityInEvaluation() throws {
        let layer = Dropout(0.5)
        _ = try layer.build(inputShape: [1000], context: BuildContext(device: .cpu, generator: RandomGenerator(seed: 1)))
        let x = Tensor.ones([1, 1000], on: .cpu)
        #expect(layer(x, training: false).toArray() == x.toArray())
        let dropped = layer(x, training: true).toArray()
        let zeros = dropped.filter { $0 == 0 }.count
        #expect(zeros > 400 && zeros < 600 && dropped.allSatisfy { $0 == 0 || $0 == 2 })
    }
}
