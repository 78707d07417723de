import ArgumentParser
import Flint
import Foundation

// Data stays on the host (CPU tensors): fit uploads one batch per step to the model's device.
/// The models `flint train` knows, each with a one-line description for `--help`.
enum ModelKind: String, CaseIterable, ExpressibleByArgument {
    case mlp
    case cnn

    var summary: String {
        switch self {
        case .mlp: "784→128 ReLU→10 multilayer perceptron, Adam 1e-3 (the classic Keras MNIST example)"
        case .cnn: "Conv2D(32, 3×3, ReLU) → MaxPool 2×2 → Flatten → Dense(128, ReLU) → Dense(10), Adam 1e-3"
        }
    }

    /// Per-sample input shape for `height × width` grey images.
    func inputShape(height: Int, width: Int) -> [Int] {
        self == .cnn ? [height, width, 1] : [height, width]
    }

    static var helpText: String {
        "Model to train:\n" + allCases.map { "  \($0.rawValue): \($0.summary)" }.joined(separator: "\n")
    }

    func build(imageShape: [Int], classes: Int, device: Device, seed: UInt64) throws -> Sequential {
        switch self {
        case .mlp:
            try Sequential([Flatten(), Dense(128, activation: .relu), Dense(classes)],
                           inputShape: imageShape, device: device, seed: seed)
        case .cnn:
            try Sequential([Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(poolSize: (2, 2)), Flatten(),
                            Dense(128, activation: .relu), Dense(classes)],
                           inputShape: imageShape, device: device, seed: seed)
        }
    }

    var optimizer: Optimizer { Adam(learningRate: 1e-3) }
}

extension ImageDataset: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on a dataset on the default device, then report test accuracy."
    )

    @Option(help: ArgumentHelp(ModelKind.helpText))
    var model: ModelKind = .mlp

    @Option(help: "mnist or fashion-mnist.")
    var dataset: ImageDataset = .mnist

    @Option(help: "Passes over the training set.")
    var epochs = 5

    @Option(help: "Samples per training step.")
    var batchSize = 128

    @Option(help: "cpu, opencl or opencl:N (default: FLINT_DEVICE, else an OpenCL GPU, else cpu).")
    var device: String?

    @Option(help: "Seed for weights and shuffling.")
    var seed: UInt64 = 0

    @Option(help: "Folder holding <dataset>/ with the IDX files (searched first, before FLINT_DATA_DIR, /usr/share/datasets and ~/.cache/flint/datasets).")
    var dataDir: String?

    @Flag(help: "End with one JSON line of results.")
    var json = false

    func run() throws {
        let target = try device.map(Device.named) ?? Device.default
        let directory = DataDirectory(explicit: dataDir)
        let train = try dataset.load(.train, from: directory)
        let test = try dataset.load(.test, from: directory)
        let imageShape = model.inputShape(height: train.height, width: train.width)
        // Standardise with the training set's statistics (as PyTorch's MNIST example does):
        // zero-mean, unit-variance inputs train faster than raw [0, 1] pixels.
        let mean = train.pixels.reduce(0, +) / Float(train.pixels.count)
        let std = (train.pixels.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(train.pixels.count)).squareRoot()
        let (xTrain, yTrain) = tensors(train, shape: imageShape, mean: mean, std: std)
        let (xTest, yTest) = tensors(test, shape: imageShape, mean: mean, std: std)

        let network = try model.build(imageShape: imageShape, classes: 10, device: target, seed: seed)
        try network.compile(optimizer: model.optimizer, loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        print("Training \(model.rawValue) on \(dataset.rawValue) (\(train.count) samples) on \(target) — \(target.info.name)")
        print(network.summary)

        let start = Date()
        try network.fit(xTrain, yTrain, epochs: epochs, batchSize: batchSize, seed: seed)
        let trainSeconds = Date().timeIntervalSince(start)
        let result = try network.evaluate(xTest, yTest, batchSize: 500)
        let accuracy = result["accuracy"] ?? 0, loss = result["loss"] ?? 0
        let throughput = Double(train.count * epochs) / trainSeconds
        print(String(format: "Test accuracy: %.2f%%  test loss: %.4f  (trained in %.1f s, %.0f samples/s)",
                     accuracy * 100, loss, trainSeconds, throughput))
        if json {
            let object: [String: Any] = [
                "model": model.rawValue, "dataset": dataset.rawValue, "device": target.identifier, "epochs": epochs,
                "batch_size": batchSize, "seed": seed, "test_accuracy": Double(accuracy), "test_loss": Double(loss),
                "train_seconds": trainSeconds, "samples_per_second": throughput,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    private func tensors(_ images: LabeledImages, shape: [Int], mean: Float, std: Float) -> (Tensor, Tensor) {
        (Tensor(images.pixels.map { ($0 - mean) / std }, shape: [images.count] + shape, on: .cpu),
         Tensor(int32: images.labels, shape: [images.count], on: .cpu))
    }
}
