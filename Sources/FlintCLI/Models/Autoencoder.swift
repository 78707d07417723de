import Flint
import Foundation

/// A dense autoencoder (the classic Keras "building autoencoders" example, deeper): it learns to
/// squeeze each image through a 64-number code and rebuild it. Reports the test-set
/// reconstruction MSE and writes a picture of test inputs above their reconstructions.
///
/// The model nests an encoder and a decoder, and its training step compares the output with
/// the input itself, so `fit` needs no targets (and uploads each batch once).
final class DenseAutoencoder: Model {
    let encoder = Sequential([Dense(256, activation: .relu), Dense(64, activation: .relu)])
    let decoder: Sequential

    init(pixels: Int) {
        decoder = Sequential([Dense(256, activation: .relu), Dense(pixels, activation: .sigmoid)])
    }

    override func forward(_ x: Tensor, training: Bool) -> Tensor {
        decoder(encoder(x, training: training), training: training)
    }

    /// Mean squared reconstruction error of the batch.
    func reconstructionLoss(_ x: Tensor, training: Bool) -> Tensor {
        (self(x, training: training) - x).square().mean()
    }

    override func trainStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
        guard let optimizer else { throw ModelError.notCompiled }
        let loss = reconstructionLoss(batch.input, training: true)
        loss.backward()
        optimizer.step(stepParameters)
        logs.record("loss", mean: loss, count: batch.count)
    }

    override func testStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
        logs.record("loss", mean: reconstructionLoss(batch.input, training: false), count: batch.count)
    }
}

enum AutoencoderModel: TrainableModel {
    static let name = "autoencoder"
    static let summary = "784→256→64→256→784 dense autoencoder (ReLU, sigmoid out), Adam 1e-3, MSE; writes reconstructions"
    static let defaultDataset = "mnist"
    static let defaultEpochs = 10
    static let acceptsCallbacks = true
    /// Test images shown in the picture (one row of inputs, one of reconstructions).
    static let shown = 10

    static func run(_ context: TrainContext) throws -> [String: Any] {
        guard let dataset = ImageDataset(rawValue: context.dataset) else {
            throw ModelError.invalidArgument("\(name) trains on mnist or fashion-mnist, not '\(context.dataset)'")
        }
        let train = try dataset.load(.train, from: context.data)
        let test = try dataset.load(.test, from: context.data)
        let pixels = train.height * train.width
        // Pixels stay in [0, 1], the range of the sigmoid output; data stays on the host.
        let xTrain = Tensor(train.pixels, shape: [train.count, pixels], on: .cpu)
        let xTest = Tensor(test.pixels, shape: [test.count, pixels], on: .cpu)

        let network = DenseAutoencoder(pixels: pixels)
        try network.build(inputShape: [pixels], device: context.device, seed: context.seed)
        try network.compile(optimizer: Adam(learningRate: context.rate(1e-3)))
        print("Training \(name) on \(dataset.rawValue) (\(train.count) samples) on \(context.device) — \(context.device.info.name)")
        print(network.summary)

        let start = Date()
        context.announceResume()
        try network.fit(xTrain, epochs: context.epochs, batchSize: context.batchSize, callbacks: context.callbacks,
                        seed: context.seed, resumeFrom: context.resume)
        let trainSeconds = Date().timeIntervalSince(start)
        let mse = try network.evaluate(xTest, batchSize: 500)["loss"] ?? .nan
        let throughput = Double(train.count * context.epochs) / trainSeconds
        print(String(format: "Test reconstruction MSE: %.5f  (trained in %.1f s, %.0f samples/s)", mse, trainSeconds, throughput))

        try context.saveIfAsked(network, model: name, extra: ["height": String(test.height), "width": String(test.width)])

        // The first test images, then their reconstructions underneath.
        let count = min(shown, test.count)
        let inputs = xTest.slice(axis: 0, 0..<count)
        let outputs = try network.predict(inputs).toArray()
        let originals = inputs.toArray()
        let tile = { (values: [Float], i: Int) in Array(values[(i * pixels)..<((i + 1) * pixels)]) }
        let tiles = (0..<count).map { tile(originals, $0) } + (0..<count).map { tile(outputs, $0) }
        let picture = context.outputDirectory.appendingPathComponent("autoencoder-reconstructions.png")
        try ImageGrid.write(tiles, height: test.height, width: test.width, columns: count, to: picture)
        print("Wrote \(picture.path) (top: test images, bottom: reconstructions)")

        return ["reconstruction_mse": Double(mse), "train_seconds": trainSeconds, "samples_per_second": throughput,
                "batch_size": context.batchSize, "picture": picture.path]
    }
}
