import Flint
import Foundation

/// The classic fully connected MNIST GAN (as in the Keras-GAN and PyTorch examples), as a model
/// of two models with a training step of its own — `fit` keeps the progress display, history and
/// callbacks.
///
/// - Generator: noise (64) → Dense 256, LeakyReLU 0.2, BatchNorm → Dense 512, LeakyReLU 0.2,
///   BatchNorm → Dense 784, tanh (pixels in [-1, 1]).
/// - Discriminator: 784 → Dense 512, LeakyReLU 0.2 → Dense 256, LeakyReLU 0.2 → Dense 1 (a logit).
///
/// Each step trains the discriminator on a real batch (label 0.9, one-sided label smoothing) and
/// a detached generated batch (label 0), then the generator through the updated discriminator
/// with labels 1 (the non-saturating loss).
final class GAN: Model {
    static let realLabel: Float = 0.9
    let latent: Int
    let generator: Sequential
    let discriminator: Sequential
    let generatorOptimizer: Adam
    let discriminatorOptimizer: Adam
    private let noise: RandomGenerator
    private let bce = BinaryCrossEntropy(fromLogits: true)
    /// Label tensors per batch size (the last batch of an epoch is smaller).
    private var labelCache: [Int: (real: Tensor, fake: Tensor, ones: Tensor)] = [:]

    init(latent: Int, pixels: Int, noiseSeed: UInt64, learningRate: Float = 2e-4) {
        self.latent = latent
        generatorOptimizer = Adam(learningRate: learningRate, beta1: 0.5)
        discriminatorOptimizer = Adam(learningRate: learningRate, beta1: 0.5)
        generator = Sequential([Dense(256), LeakyReLU(slope: 0.2), BatchNormalization(momentum: 0.8),
                                Dense(512), LeakyReLU(slope: 0.2), BatchNormalization(momentum: 0.8),
                                Dense(pixels, activation: .tanh)])
        discriminator = Sequential([Dense(512, activation: .leakyRelu(slope: 0.2)), Dense(256, activation: .leakyRelu(slope: 0.2)),
                                    Dense(1)])
        noise = RandomGenerator(seed: noiseSeed)
    }

    /// Builds the generator for noise and the discriminator for images, each from its own seed.
    func build(pixels: Int, device: Device, seed: UInt64) throws {
        try generator.build(inputShape: [latent], device: device, seed: seed)
        try discriminator.build(inputShape: [pixels], device: device, seed: seed &+ 1)
        try build(inputShape: [latent], device: device, seed: seed)
    }

    /// Training data are real images, of the discriminator's input shape.
    override func checkData(_ data: Dataset) throws {
        guard data.inputShapes == discriminator.inputShapes else {
            throw ModelError.inputShapeMismatch(expected: discriminator.inputShapes[0], got: data.inputShapes[0])
        }
    }

    /// The model maps noise to images.
    override func forward(_ z: Tensor, training: Bool) -> Tensor { generator(z, training: training) }

    private func labels(_ n: Int) -> (real: Tensor, fake: Tensor, ones: Tensor) {
        if let cached = labelCache[n] { return cached }
        let made = (Tensor.full([n, 1], value: Self.realLabel, on: device), Tensor.zeros([n, 1], on: device), Tensor.ones([n, 1], on: device))
        labelCache[n] = made
        return made
    }

    override func trainStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
        let n = batch.count
        let (realLabels, fakeLabels, ones) = labels(n)
        let z = Tensor.normal([n, latent], generator: noise, on: device)
        let fake = generator(z, training: true)

        // Discriminator: real → 0.9, generated (detached: no gradient reaches G) → 0.
        let realLogits = discriminator(batch.input, training: true)
        let fakeLogits = discriminator(fake.detached(), training: true)
        let dLoss = bce(realLogits, realLabels) + bce(fakeLogits, fakeLabels)
        dLoss.backward()
        discriminatorOptimizer.step(discriminator)

        // Generator: make the (updated) discriminator say 1. Only G is stepped; the gradients
        // this leaves on D are dropped.
        let gLoss = bce(discriminator(fake, training: true), ones)
        gLoss.backward()
        generatorOptimizer.step(generator)
        discriminator.zeroGrad()

        logs.record("d_loss", mean: dLoss, count: n)
        logs.record("g_loss", mean: gLoss, count: n)
        logs.record("d_real", mean: realLogits.detached().sigmoid().mean(), count: n)
        logs.record("d_fake", mean: fakeLogits.detached().sigmoid().mean(), count: n)
    }
}

/// Writes the generator's images for a fixed noise batch after every epoch, so the pictures
/// show the same "seeds" improving.
final class SampleGrid: Callback {
    let noise: Tensor
    let height: Int, width: Int
    let folder: URL
    private(set) var pictures: [String] = []

    init(noise: Tensor, height: Int, width: Int, folder: URL) {
        self.noise = noise
        self.height = height
        self.width = width
        self.folder = folder
    }

    func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        let picture = folder.appendingPathComponent("gan-epoch-\(epoch + 1).png")
        do {
            let images = try model.predict(noise).reshaped(to: [noise.shape[0], height, width])
            try ImageGrid.write(images, columns: 8, range: -1...1, to: picture)
            pictures.append(picture.path)
            print("wrote \(picture.path)")
        } catch {
            print("could not write \(picture.path): \(error)")
        }
        return false
    }
}

enum GANModel: TrainableModel {
    static let name = "gan"
    static let summary = "MNIST GAN: dense generator (64→256→512→784, BatchNorm, tanh) vs discriminator, Adam 2e-4 β₁ 0.5; writes samples"
    static let defaultDataset = "mnist"
    static let defaultEpochs = 10
    static let acceptsCallbacks = true
    static let latent = 64
    static let samples = 64

    static func run(_ context: TrainContext) throws -> [String: Any] {
        guard let dataset = ImageDataset(rawValue: context.dataset) else {
            throw ModelError.invalidArgument("\(name) trains on mnist or fashion-mnist, not '\(context.dataset)'")
        }
        let train = try dataset.load(.train, from: context.data)
        let pixels = train.height * train.width
        let device = context.device
        // Real images scaled to [-1, 1], the generator's tanh range. They stay on the host;
        // each batch is uploaded when used.
        let real = Tensor(train.pixels.map { $0 * 2 - 1 }, shape: [train.count, pixels], on: .cpu)

        let gan = GAN(latent: latent, pixels: pixels, noiseSeed: context.seed &+ 0x6A4E, learningRate: context.rate(2e-4))
        try gan.build(pixels: pixels, device: device, seed: context.seed)
        let grid = SampleGrid(noise: Tensor.normal([samples, latent], seed: context.seed &+ 0xF1ED, on: device),
                              height: train.height, width: train.width, folder: context.outputDirectory)

        print("Training \(name) on \(dataset.rawValue) (\(train.count) samples) on \(device) — \(device.info.name)")
        print("Generator:\n\(gan.generator.summary)\nDiscriminator:\n\(gan.discriminator.summary)")
        let start = Date()
        context.announceResume()
        let history = try gan.fit(real, epochs: context.epochs, batchSize: context.batchSize, callbacks: [grid] + context.callbacks,
                                  verbosity: .epochLines, seed: context.seed, resumeFrom: context.resume)
        let trainSeconds = Date().timeIntervalSince(start)
        print(String(format: "Trained in %.1f s (%.0f samples/s)", trainSeconds, Double(train.count * context.epochs) / trainSeconds)
              + "; samples of a fixed noise batch after each epoch in \(context.outputDirectory.path)")

        try context.saveIfAsked(gan, model: name, extra: ["height": String(train.height), "width": String(train.width),
                                                          "latent": String(latent)])
        let last = history.epochs.last ?? [:]
        func series(_ key: String) -> [Double] { history[key].map(Double.init) }
        return ["d_loss": Double(last["d_loss"] ?? .nan), "g_loss": Double(last["g_loss"] ?? .nan),
                "d_real": Double(last["d_real"] ?? .nan), "d_fake": Double(last["d_fake"] ?? .nan),
                "pictures": grid.pictures, "train_seconds": trainSeconds, "batch_size": context.batchSize,
                "history": ["d_loss": series("d_loss"), "g_loss": series("g_loss"), "d_real": series("d_real"), "d_fake": series("d_fake")]]
    }
}
