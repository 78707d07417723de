import Flint
import Foundation

/// The MNIST-family classifiers share loading, training and reporting; they differ in layers.
protocol ImageClassifier: TrainableModel {
    /// Per-sample input shape for `height × width` grey images.
    static func inputShape(height: Int, width: Int) -> [Int]
    static func layers() -> [Layer]
    /// Adam's initial learning rate.
    static var learningRate: Float { get }
    /// How the rate changes over the run, whose length is `epochs`.
    static func schedule(epochs: Int) -> LearningRateSchedule
    static var labelSmoothing: Float { get }
}

extension ImageClassifier {
    static var defaultDataset: String { "mnist" }
    static var learningRate: Float { 1e-3 }
    static func schedule(epochs: Int) -> LearningRateSchedule { .constant }
    static var labelSmoothing: Float { 0 }
    static var acceptsCallbacks: Bool { true }

    static func run(_ context: TrainContext) throws -> [String: Any] {
        guard let dataset = ImageDataset(rawValue: context.dataset) else {
            throw ModelError.invalidArgument("\(name) trains on mnist or fashion-mnist, not '\(context.dataset)'")
        }
        // The pixels stay bytes, memory-mapped or decoded once; each batch is cast and
        // standardised on the device while the previous step computes.
        let train = try dataset.samples(.train, from: context.data)
        let test = try dataset.samples(.test, from: context.data)
        if train.inputs.readsFromDisk {
            print("Reading \(train.inputs.url.path) from disk batch by batch: the memory limit leaves too little room to map it")
        }
        let (height, width) = (train.inputs.shape[1], train.inputs.shape[2])
        let shape = inputShape(height: height, width: width)
        // Standardise with the training set's statistics (as PyTorch's MNIST example does):
        // zero-mean, unit-variance inputs train faster than raw [0, 1] pixels.
        let (mean, std) = try train.inputStatistics(scale: 1.0 / 255)
        func prepared(_ images: IDXDataset) -> StandardisedImages {
            images.reshaped(shape).normalized(scale: 1 / (255 * std), shift: -mean / std)
        }
        let (xTrain, xTest) = (prepared(train), prepared(test))

        let network = try Sequential(layers(), inputShape: shape, device: context.device, seed: context.seed)
        context.announceResume()
        try network.compile(optimizer: Adam(learningRate: context.rate(learningRate)),
                            loss: SparseCategoricalCrossEntropy(fromLogits: true, labelSmoothing: labelSmoothing),
                            metrics: [.accuracy])
        print("Training \(name) on \(dataset.rawValue) (\(train.count) samples) on \(context.device) — \(context.device.info.name)")
        print(network.summary)

        let start = Date()
        try network.fit(xTrain, epochs: context.epochs, batchSize: context.batchSize,
                        validation: context.watchers.callbacks.isEmpty ? nil : xTest, callbacks: context.callbacks,
                        schedule: schedule(epochs: context.epochs), seed: context.seed, resumeFrom: context.resume)
        let trainSeconds = Date().timeIntervalSince(start)
        // Test batches of the training size: their tensors reuse the blocks training left in the
        // memory pool (batches of 500 took the CNN's peak from 230 to 320 MB for no real speed-up).
        let result = try network.evaluate(xTest, batchSize: context.batchSize)
        let accuracy = result["accuracy"] ?? 0, loss = result["loss"] ?? 0
        let throughput = Double(train.count * context.epochs) / trainSeconds
        print(String(format: "Test accuracy: %.2f%%  test loss: %.4f  (trained in %.1f s, %.0f samples/s)",
                     accuracy * 100, loss, trainSeconds, throughput))
        try context.saveIfAsked(network, model: name, extra: ["input_mean": "\(mean)", "input_std": "\(std)",
                                                                "height": String(height), "width": String(width)])
        let report = try ClassifierReport.run(network, name: name, dataset: dataset, test: test, inputs: xTest,
                                              batchSize: context.batchSize, context: context)
        return report.merging(["test_accuracy": Double(accuracy), "test_loss": Double(loss), "train_seconds": trainSeconds,
                               "samples_per_second": throughput, "batch_size": context.batchSize]) { $1 }
    }
}

/// Byte images given the model's input shape and standardised per batch.
typealias StandardisedImages = EditedSamples<EditedSamples<IDXDataset>>

enum MLPModel: ImageClassifier {
    static let name = "mlp"
    static let summary = "784→128 ReLU→10 perceptron, Adam 1e-3 (the classic Keras MNIST example)"
    static func inputShape(height: Int, width: Int) -> [Int] { [height, width] }
    static func layers() -> [Layer] { [Flatten(), Dense(128, activation: .relu), Dense(10)] }
}

/// The seed CNN. Its training recipe was chosen by measurement (see docs/models.md): the same
/// network with a constant Adam 1e-3 at batch 128 ends 3 epochs at 98.2–98.6% in Flint and in
/// PyTorch alike; batch 64, a cosine decay from 2e-3 to 0, label smoothing 0.1 and random
/// one-pixel shifts of the training images reach ~99.1%.
enum CNNModel: ImageClassifier {
    static let name = "cnn"
    static let summary = "Conv2D(32, 3×3, ReLU) → MaxPool 2×2 → Dense(128, ReLU) → Dense(10); ±1 px shifts, Adam 2e-3 cosine-decayed, label smoothing 0.1, batch 64"
    static let defaultBatchSize = 64
    static let learningRate: Float = 2e-3
    static let labelSmoothing: Float = 0.1
    static func schedule(epochs: Int) -> LearningRateSchedule { .cosine(period: epochs) }
    static func inputShape(height: Int, width: Int) -> [Int] { [height, width, 1] }
    static func layers() -> [Layer] {
        [RandomTranslation(heightFactor: 0.05, widthFactor: 0.05),
         Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(poolSize: (2, 2)), Flatten(),
         Dense(128, activation: .relu), Dense(10)]
    }
}
