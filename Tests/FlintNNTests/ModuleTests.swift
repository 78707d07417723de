import Flint
import Foundation
import Testing

// Models that are not a plain stack, written as a user would: a residual CNN, a model with an
// image and a tabular input, and a model that nests others.

/// conv → BatchNorm → conv, added back to the block's input.
final class ResidualBlock: Layer {
    let conv1: Conv2D
    let conv2: Conv2D
    let norm = BatchNormalization(momentum: 0.9)

    init(filters: Int) {
        conv1 = Conv2D(filters, kernelSize: 3, padding: .same, activation: .relu)
        conv2 = Conv2D(filters, kernelSize: 3, padding: .same)
    }

    override func forward(_ x: Tensor, training: Bool) -> Tensor {
        Add()([x, norm(conv2(conv1(x)), training: training)]).relu()
    }
}

final class ResidualCNN: Model {
    let stem = Conv2D(8, kernelSize: 3, padding: .same, activation: .relu)
    let blocks = [ResidualBlock(filters: 8)]
    let pool = GlobalAveragePooling2D()
    let head = Dense(2)

    override func forward(_ x: Tensor, training: Bool) -> Tensor {
        head(pool(blocks.reduce(stem(x)) { $1($0, training: training) }))
    }
}

/// An image branch and a tabular branch, concatenated.
final class ImageAndFeatures: Model {
    let image = Sequential([Conv2D(4, kernelSize: 3, activation: .relu), GlobalMaxPooling2D()])
    let features = Dense(4, activation: .relu)
    let head = Sequential([Dense(16, activation: .relu), Dense(4)])

    override func forward(_ inputs: [Tensor], training: Bool) -> Tensor {
        head(Concatenate()([image(inputs[0], training: training), features(inputs[1])]), training: training)
    }
}

/// A model whose parts are models: a reusable tower (a custom model) and a stack, plus a
/// dictionary of heads.
final class Tower: Model {
    let layers = [Dense(16, activation: .relu), Dense(8, activation: .relu)]
    let norm = LayerNormalization()
    override func forward(_ x: Tensor, training: Bool) -> Tensor { norm(layers.reduce(x) { $1($0) }) }
}

final class Nested: Model {
    let tower = Tower()
    let heads = ["left": Dense(2), "right": Dense(2)]
    let mixer = Sequential([Dense(8, activation: .tanh)])

    override func forward(_ x: Tensor, training: Bool) -> Tensor {
        let h = mixer(tower(x, training: training))
        return heads["left"]!(h) + heads["right"]!(h)
    }
}

/// Eight-by-eight pictures of a horizontal (class 0) or vertical (class 1) bar, with noise.
func barImages(_ count: Int, seed: UInt64) -> (pixels: [Float], labels: [Int32]) {
    var rng = DataRNG(seed: seed)
    var pixels: [Float] = [], labels: [Int32] = []
    for i in 0..<count {
        let vertical = i % 2 == 1
        let line = Int(rng.next() % 8)
        for y in 0..<8 {
            for x in 0..<8 { pixels.append(((vertical ? x : y) == line ? 1 : 0) + 0.1 * rng.normal()) }
        }
        labels.append(vertical ? 1 : 0)
    }
    return (pixels, labels)
}

@Suite struct CustomModels {
    /// One step of the compiled loss by hand: every trainable parameter must get a non-zero gradient.
    func expectEveryParameterGetsAGradient(_ model: Model, inputs: [Tensor], targets: Tensor, loss: any Loss) {
        let output = model(inputs, training: true)
        loss(output, targets).backward()
        for (path, parameter) in model.namedParameters where parameter.isTrainable {
            guard let grad = parameter.grad else {
                Issue.record("\(path) got no gradient on \(model.device)")
                continue
            }
            #expect(grad.abs().max().item() > 0, "\(path) got an all-zero gradient on \(model.device)")
        }
        model.zeroGrad()
    }

    @Test(arguments: NNDevices.all)
    func residualCNNTrainsEveryParameter(device: Device) throws {
        let (pixels, labels) = barImages(256, seed: 1)
        let x = Tensor(pixels, shape: [256, 8, 8, 1], on: .cpu), y = Tensor(int32: labels, shape: [256], on: .cpu)
        let model = ResidualCNN()
        try model.build(inputShape: [8, 8, 1], device: device, seed: 5)
        #expect(model.namedParameters.map(\.path) == [
            "stem.kernel", "stem.bias", "blocks.0.conv1.kernel", "blocks.0.conv1.bias", "blocks.0.conv2.kernel",
            "blocks.0.conv2.bias", "blocks.0.norm.gamma", "blocks.0.norm.beta", "blocks.0.norm.movingMean",
            "blocks.0.norm.movingVariance", "head.kernel", "head.bias",
        ])
        #expect(model.stateParameters.count == 2 && model.trainableParameters.count == 10)
        #expect(model.parameterCount == (9 * 8 + 8) + 2 * (9 * 64 + 8) + 4 * 8 + (8 * 2 + 2))
        let loss = SparseCategoricalCrossEntropy(fromLogits: true)
        expectEveryParameterGetsAGradient(model, inputs: [x.slice(axis: 0, 0..<32).to(device)],
                                          targets: y.slice(axis: 0, 0..<32).to(device), loss: loss)

        let before = model.parameters.map { $0.value.toArray() }
        try model.compile(optimizer: Adam(learningRate: 0.01), loss: loss, metrics: [.accuracy])
        let history = try model.fit(x, y, epochs: 8, batchSize: 32, verbosity: .silent, seed: 2)
        for ((path, parameter), old) in zip(model.namedParameters, before) {
            #expect(parameter.value.toArray() != old, "\(path) did not change on \(device)")
        }
        #expect(history["accuracy"].last! > 0.95, "residual CNN on \(device): \(history.epochs.last!)")
        #expect(model.summary.contains("blocks.0 (ResidualBlock)"), "\(model.summary)")
    }

    @Test(arguments: NNDevices.all)
    func twoInputModelLearnsFromBothInputs(device: Device) throws {
        let count = 512
        let (pixels, bars) = barImages(count, seed: 3)
        var rng = DataRNG(seed: 4)
        let table = (0..<(count * 3)).map { _ in rng.uniform() }
        // Four classes: the bar's orientation and the sign of the first tabular feature.
        let labels = (0..<count).map { 2 * bars[$0] + (table[$0 * 3] > 0 ? 1 : 0) }
        let images = Tensor(pixels, shape: [count, 8, 8, 1], on: .cpu), features = Tensor(table, shape: [count, 3], on: .cpu)
        let y = Tensor(int32: labels, shape: [count], on: .cpu)

        let model = ImageAndFeatures()
        try model.build(inputShapes: [[8, 8, 1], [3]], device: device, seed: 7)
        #expect(model.outputShape == [4])
        let loss = SparseCategoricalCrossEntropy(fromLogits: true)
        expectEveryParameterGetsAGradient(model, inputs: [images.slice(axis: 0, 0..<64).to(device), features.slice(axis: 0, 0..<64).to(device)],
                                          targets: y.slice(axis: 0, 0..<64).to(device), loss: loss)
        try model.compile(optimizer: Adam(learningRate: 0.01), loss: loss, metrics: [.accuracy])
        let history = try model.fit([images, features], y, epochs: 15, batchSize: 32, validationSplit: 0.25, verbosity: .silent, seed: 1)
        #expect(history["val_accuracy"].last! > 0.9, "two-input model on \(device): \(history.epochs.last!)")
        let predictions = try model.predict([images, features])
        #expect(predictions.shape == [count, 4])
        // Inputs are checked, each against its own shape.
        #expect(throws: ModelError.self) { try model.predict([features, images]) }
        #expect(throws: ModelError.self) { try model.predict(images) }
    }

    @Test(arguments: NNDevices.all)
    func nestedModelsTrainAndNameEveryPart(device: Device) throws {
        var rng = DataRNG(seed: 9)
        let count = 256
        let points = (0..<(count * 2)).map { _ in rng.uniform() }
        let labels = (0..<count).map { Int32(points[$0 * 2] * points[$0 * 2 + 1] > 0 ? 1 : 0) }
        let x = Tensor(points, shape: [count, 2], on: .cpu), y = Tensor(int32: labels, shape: [count], on: .cpu)

        func made() throws -> Nested {
            let model = Nested()
            try model.build(inputShape: [2], device: device, seed: 3)
            return model
        }
        let model = try made()
        let names = model.namedParameters.map(\.path)
        #expect(names == ["tower.layers.0.kernel", "tower.layers.0.bias", "tower.layers.1.kernel", "tower.layers.1.bias",
                          "tower.norm.gamma", "tower.norm.beta", "heads.left.kernel", "heads.left.bias",
                          "heads.right.kernel", "heads.right.bias", "mixer.layers.0.kernel", "mixer.layers.0.bias"])
        #expect(Set(names).count == names.count)
        // Stable across builds: the same names, and the same weights for the same seed.
        let again = try made()
        #expect(again.namedParameters.map(\.path) == names)
        #expect(zip(again.parameters, model.parameters).allSatisfy { $0.value.toArray() == $1.value.toArray() })

        let loss = SparseCategoricalCrossEntropy(fromLogits: true)
        expectEveryParameterGetsAGradient(model, inputs: [x.to(device)], targets: y.to(device), loss: loss)
        try model.compile(optimizer: Adam(learningRate: 0.02), loss: loss, metrics: [.accuracy])
        let history = try model.fit(x, y, epochs: 40, batchSize: 32, verbosity: .silent)
        #expect(history["accuracy"].last! > 0.9, "nested model on \(device): \(history.epochs.last!)")
    }

    @Test func frozenSubtreesKeepTheirValues() throws {
        let model = Nested()
        try model.build(inputShape: [2], device: .cpu, seed: 1)
        model.tower.freeze()
        let frozen = model.tower.parameters.map { $0.value.toArray() }
        let free = model.mixer.parameters.map { $0.value.toArray() }
        #expect(model.trainableParameters.count == 6)
        #expect(model.summary.contains("frozen \(model.tower.parameterCount)"), "\(model.summary)")
        try model.compile(optimizer: SGD(learningRate: 0.1), loss: MeanSquaredError())
        let x = Tensor.uniform([16, 2], seed: 2, on: .cpu), y = Tensor.uniform([16, 2], seed: 3, on: .cpu)
        try model.fit(x, y, epochs: 2, batchSize: 8, verbosity: .silent)
        #expect(model.tower.parameters.map { $0.value.toArray() } == frozen)
        #expect(model.mixer.parameters.map { $0.value.toArray() } != free)
        model.tower.unfreeze()
        #expect(model.trainableParameters.count == 12)
    }

    @Test func sharedLayersAreListedOnceAndOptionalsAndTuplesAreFound() throws {
        final class Siamese: Model {
            let encoder = Dense(4)
            lazy var alias = encoder
            let pair: (first: Dense, second: Dense?) = (Dense(3), nil)
            let extra: Dense? = Dense(2)
            override func forward(_ inputs: [Tensor], training: Bool) -> Tensor {
                extra!(pair.first(encoder(inputs[0]) + alias(inputs[1])))
            }
        }
        let model = Siamese()
        try model.build(inputShapes: [[5], [5]], device: .cpu)
        #expect(model.namedParameters.map(\.path) == ["encoder.kernel", "encoder.bias", "pair.first.kernel", "pair.first.bias",
                                                       "extra.kernel", "extra.bias"])
    }

    @Test func parametersNoPropertyHoldsAreReported() {
        /// Keeps its weights in a closure, where reflection cannot see them.
        final class Hidden: Layer {
            var weights: () -> Tensor = { Tensor.zeros([1]) }
            override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
                let kernel = Parameter(.ones([inputShape[0], 3], on: context.device), name: "kernel")
                weights = { kernel.value }
                return [3]
            }
            override func forward(_ input: Tensor, training: Bool) -> Tensor { input.matmul(weights()) }
        }
        let error = #expect(throws: ModelError.self) { try Sequential([Dense(4), Hidden()], inputShape: [2], device: .cpu) }
        #expect(error?.description.contains("Hidden.kernel [4, 3]") == true, "\(String(describing: error))")
    }

    @Test func mismatchedBranchesFailWhenBuilt() {
        final class Broken: Model {
            let a = Dense(3), b = Dense(4)
            override func forward(_ x: Tensor, training: Bool) -> Tensor { Add()([a(x), b(x)]) }
        }
        let error = #expect(throws: ModelError.self) { try Broken().build(inputShape: [2], device: .cpu) }
        #expect(error?.description.contains("same shape") == true, "\(String(describing: error))")
        // A layer cannot be built twice for different shapes.
        let dense = Dense(2)
        let context = BuildContext(device: .cpu, generator: RandomGenerator(seed: 0))
        #expect(throws: Never.self) { try dense.build(inputShape: [3], context: context) }
        #expect(throws: ModelError.self) { try dense.build(inputShape: [4], context: context) }
        #expect(throws: ModelError.self) { try Sequential([Flatten(), Concatenate()], inputShape: [2, 2], device: .cpu) }
    }
}
