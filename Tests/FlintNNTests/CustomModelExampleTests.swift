import Flint
import Foundation
import Testing

/// The custom-model examples of README.md and docs/models.md, run as written on small data.
/// `documentedCodeIsCompiledHere` checks that every Swift block of those pages and docs/data.md
/// appears in this file, ReadmeExampleTests.swift, DocumentedExampleTests.swift or
/// DataPipelineExampleTests.swift, so the pages cannot drift from what is compiled.
@Suite struct CustomModelExamples {
    @Test func readmeResidualAndTwoInputModel() throws {
        var rng = DataRNG(seed: 5)
        let images = Tensor((0..<(64 * 784)).map { _ in rng.uniform(0, 1) }, shape: [64, 28, 28, 1], on: .cpu)
        let features = Tensor((0..<(64 * 4)).map { _ in rng.uniform() }, shape: [64, 4], on: .cpu)
        let labels = Tensor(int32: (0..<64).map { Int32($0 % 10) }, shape: [64], on: .cpu)

        /// Two convolutions added back to their input.
        final class Residual: Layer {
            let conv1 = Conv2D(8, kernelSize: 3, padding: .same, activation: .relu)
            let conv2 = Conv2D(8, kernelSize: 3, padding: .same)
            override func forward(_ x: Tensor, training: Bool) -> Tensor { Add()([x, conv2(conv1(x))]).relu() }
        }

        /// An image and a row of features in, ten classes out.
        final class Classifier: Model {
            let stem = Conv2D(8, kernelSize: 3, padding: .same, activation: .relu)
            let blocks = [Residual(), Residual()]
            let pool = GlobalAveragePooling2D()
            let tabular = Dense(8, activation: .relu)
            let head = Dense(10)
            override func forward(_ inputs: [Tensor], training: Bool) -> Tensor {
                let image = pool(blocks.reduce(stem(inputs[0])) { $1($0) })
                return head(Concatenate()([image, tabular(inputs[1])]))
            }
        }

        let model = Classifier()
        try model.build(inputShapes: [[28, 28, 1], [4]], device: .cpu, seed: 0)
        print(model.namedParameters.map(\.path))  // stem.kernel, …, blocks.1.conv2.bias, tabular.kernel, …
        try model.compile(optimizer: Adam(), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        try model.fit([images, features], labels, epochs: 2, batchSize: 32, verbosity: .silent)

        let paths = model.namedParameters.map(\.path)
        #expect(paths.first == "stem.kernel" && paths.contains("blocks.1.conv2.bias") && paths.last == "head.bias")
        #expect(paths.count == 2 + 2 * 4 + 2 + 2)
        #expect(try model.predict([images, features]).shape == [64, 10])
    }

    @Test func readmeCustomTrainingStep() throws {
        var rng = DataRNG(seed: 6)
        let pixels = Tensor((0..<(128 * 784)).map { _ in rng.uniform(0, 1) > 0.7 ? 1 : 0 }, shape: [128, 784], on: .cpu)

        /// Learns to rebuild clean images from noisy ones; `fit` needs no targets.
        final class Denoiser: Model {
            let encoder = Dense(32, activation: .relu)
            let decoder = Dense(784, activation: .sigmoid)
            let noise = RandomGenerator(seed: 1)
            override func forward(_ x: Tensor, training: Bool) -> Tensor { decoder(encoder(x)) }

            override func trainStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
                let clean = batch.input
                let noisy = clean + Tensor.normal(clean.shape, standardDeviation: 0.2, generator: noise, on: clean.device)
                let loss = (self(noisy, training: true) - clean).square().mean()
                loss.backward()
                optimizer!.step(self)
                logs.record("loss", mean: loss, count: batch.count)
            }
        }

        let denoiser = Denoiser()
        try denoiser.build(inputShape: [784], device: .cpu)
        try denoiser.compile(optimizer: Adam())
        let curve = try denoiser.fit(pixels, epochs: 3, batchSize: 32, verbosity: .silent)

        #expect(curve["loss"].count == 3 && curve["loss"][2] < curve["loss"][0], "\(curve["loss"])")
    }

    @Test func docsNestedModelFreezingAndExtensionPoints() throws {
        final class Encoder: Model {
            let layers = [Dense(64, activation: .gelu), Dense(16)]
            let norm = LayerNormalization()
            override func forward(_ x: Tensor, training: Bool) -> Tensor { norm(layers.reduce(x) { $1($0) }) }
        }

        final class TwoHeads: Model {
            let encoder = Encoder()
            let heads = ["digit": Dense(10), "parity": Dense(2)]
            override func forward(_ x: Tensor, training: Bool) -> Tensor {
                let code = encoder(x, training: training)
                return Concatenate()([heads["digit"]!(code), heads["parity"]!(code)])
            }
        }

        let twoHeads = TwoHeads()
        try twoHeads.build(inputShape: [64], device: .cpu, seed: 0)
        twoHeads.encoder.freeze()                 // fine-tune the heads only
        print(twoHeads.summary)                   // encoder (Encoder), heads.digit (Dense), …; frozen 5232

        #expect(twoHeads.outputShape == [12])
        #expect(twoHeads.encoder.parameterCount == 5232 && twoHeads.summary.contains("frozen 5232"))
        #expect(twoHeads.trainableParameters.count == 4)

        try extensionPoints()
    }

    func extensionPoints() throws {
        let x = Tensor.uniform([256, 4], seed: 1, on: .cpu)
        let y = x.sum(axis: 1, keepDims: true) + 2

        let regressor = try Sequential([Dense(32, activation: .mish, kernelInitializer: .lecunNormal), Dense(1)],
                                       inputShape: [4], device: .cpu)
        try regressor.compile(optimizer: SignSGD(learningRate: 1e-3), loss: Huber(), metrics: [.within10Percent])
        // try regressor.fit(x, y, epochs: 10, schedule: .warmUp)

        let history = try regressor.fit(x, y, epochs: 10, schedule: .warmUp, verbosity: .silent)
        #expect(history["loss"].last! < history["loss"].first!, "\(history["loss"])")
        #expect(history["within_10%"].count == 10)
        #expect(history["learning_rate"].first! < 1e-3 && history["learning_rate"].last == 1e-3)
    }

    /// Every ```swift block of README.md and docs/models.md, line for line (ignoring indentation,
    /// blank lines and `import`), is in one of the files that compile the examples.
    @Test func documentedCodeIsCompiledHere() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        func lines(_ text: String) -> [String] {
            text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("import ") }
        }
        let compiled = try ["CustomModelExampleTests.swift", "ReadmeExampleTests.swift", "DocumentedExampleTests.swift",
                            "DataPipelineExampleTests.swift"]
            .map { lines(try String(contentsOf: here.appendingPathComponent($0), encoding: .utf8)) }
        for page in ["README.md", "docs/models.md", "docs/data.md"] {
            let text = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8)
            let blocks = text.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
            #expect(!blocks.isEmpty)
            for block in blocks {
                let wanted = lines(block)
                let found = compiled.contains { source in
                    source.indices.contains { start in
                        start + wanted.count <= source.count && Array(source[start..<(start + wanted.count)]) == wanted
                    }
                }
                #expect(found, "\(page): this block is not compiled by the example tests:\n\(block)")
            }
        }
    }
}

// docs/models.md's extension points, as written there.

extension Activation {
    static let mish = Activation(name: "mish") { x in x * x.softplus().tanh() }
}
extension Metric {
    /// A mean over samples; `Metric(name:statistics:result:)` takes ratios of sums such as precision.
    static let within10Percent = Metric(name: "within_10%") { p, y in ((p - y).abs() .<= y.abs() * 0.1).sum() }
}
extension Initializer {
    static let lecunNormal = Initializer(name: "lecun_normal") { shape, fanIn, _, generator, device in
        .normal(shape, standardDeviation: (1 / Float(fanIn)).squareRoot(), generator: generator, on: device)
    }
}
extension LearningRateSchedule {
    static let warmUp = LearningRateSchedule(name: "warm_up") { epoch, initial in initial * Float(min(epoch + 0.1, 1)) }
}
struct Huber: Loss {
    var name: String { "huber" }
    func validate(outputShape: [Int], targetShape: [Int], targetType: DType) throws {}
    func callAsFunction(_ p: Tensor, _ y: Tensor) -> Tensor {
        let error = (p - y).abs()
        return Tensor.where(error .< 1, error.square() * 0.5, error - 0.5).mean()
    }
}
final class SignSGD: Optimizer {
    override func update(_ parameter: Parameter, gradient: Tensor) -> Tensor {
        parameter.value - gradient.sign() * learningRate
    }
}

/// The README's saving, loading, exporting and resuming example, run in a temporary folder.
@Suite struct SavingExample {
    @Test func readmeSavingExampleRuns() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-readme-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = DataRNG(seed: 1)
        let x = Tensor((0..<(64 * 784)).map { _ in rng.uniform(0, 1) }, shape: [64, 28, 28], on: .cpu)
        let y = Tensor(int32: (0..<64).map { Int32($0 % 10) }, shape: [64], on: .cpu)
        let model = try Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)], inputShape: [28, 28], device: .cpu, seed: 3)
        try model.compile(optimizer: Adam(), loss: SparseCategoricalCrossEntropy(fromLogits: true))

        let weights = folder.appendingPathComponent("mlp.safetensors")
        try model.save(to: weights)                                   // parameters named by path, with metadata
        let copy = try Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)], inputShape: [28, 28], device: .cpu)
        try copy.load(from: weights)                                  // checks names and shapes, lists every mismatch
        try copy.exportPyTorch(to: folder.appendingPathComponent("mlp-torch.safetensors"))  // for torch's load_state_dict

        // A checkpoint after every epoch; after a crash, the same call continues where it stopped.
        let checkpoints = folder.appendingPathComponent("checkpoints")
        try model.fit(x, y, epochs: 5, callbacks: [ModelCheckpoint(directory: checkpoints, keepLast: 3)], resumeFrom: checkpoints)

        #expect(try copy.predict(x).toArray() != model.predict(x).toArray(), "training changed the model after it was saved")
        #expect(try Checkpoint.latest(in: checkpoints)?.epoch == 5)
        // Calling again resumes from epoch 5: nothing left to do, nothing changes.
        let before = model.parameters.map { $0.value.toArray() }
        let history = try model.fit(x, y, epochs: 5, callbacks: [ModelCheckpoint(directory: checkpoints, keepLast: 3)],
                                    verbosity: .silent, resumeFrom: checkpoints)
        #expect(history.epochs.count == 5 && model.parameters.map { $0.value.toArray() } == before)
        #expect(try SafeTensorsFile(contentsOf: folder.appendingPathComponent("mlp-torch.safetensors"))["1.weight"]?.shape == [128, 784])
    }
}

/// The README's process-group example, run as one process (the mpirun case is DistributedTests).
@Suite struct ProcessGroupExample {
    @Test func readmeProcessGroupExampleRuns() throws {
        var rng = DataRNG(seed: 2)
        let x = Tensor((0..<(512 * 4)).map { _ in rng.uniform() }, shape: [512, 4], on: .cpu)
        let y = Tensor(int32: (0..<512).map { Int32($0 % 2) }, shape: [512], on: .cpu)
        let model = try Sequential([Dense(8, activation: .relu), Dense(2)], inputShape: [4], device: .cpu)
        try model.compile(optimizer: Adam(), loss: SparseCategoricalCrossEntropy(fromLogits: true))

        let world = ProcessGroup.world                   // rank, size, localRank; a world of one without mpirun
        let total = world.allSum(Tensor([Float(world.rank + 1)], shape: [1], on: .cpu))   // 1 + 2 + … on every rank
        try model.fit(x, y, epochs: 5, batchSize: 256)   // under mpirun, data-parallel; alone, as usual

        #expect(world.size == 1 && world.rank == 0 && total.toArray() == [1])
        #expect(model.history.epochs.count == 5)
    }
}
