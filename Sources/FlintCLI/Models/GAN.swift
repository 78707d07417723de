import Flint
import Foundation

/// The classic fully connected MNIST GAN (as in the Keras-GAN and PyTorch examples), trained
/// with a hand-written loop: two networks, two optimizers, one step of each per batch.
///
/// - Generator: noise (64) → Dense 256, LeakyReLU 0.2, BatchNorm → Dense 512, LeakyReLU 0.2,
///   BatchNorm → Dense 784, tanh (pixels in [-1, 1]).
/// - Discriminator: 784 → Dense 512, LeakyReLU 0.2 → Dense 256, LeakyReLU 0.2 → Dense 1 (a logit).
///
/// Each step trains the discriminator on a real batch (label 0.9, one-sided label smoothing) and
/// a detached generated batch (label 0), then the generator through the updated discriminator
/// with labels 1 (the non-saturating loss). After each epoch it writes 64 samples from a fixed
/// noise batch, so the pictures show the same "seeds" improving.
enum GANModel: TrainableModel {
    static let name = "gan"
    static let summary = "MNIST GAN: dense generator (64→256→512→784, BatchNorm, tanh) vs discriminator, Adam 2e-4 β₁ 0.5; writes samples"
    static let defaultDataset = "mnist"
    static let defaultEpochs = 10
    static let latent = 64
    static let samples = 64
    static let realLabel: Float = 0.9

    static func generator(pixels: Int) -> [Layer] {
        [Dense(256), LeakyReLU(slope: 0.2), BatchNormalization(momentum: 0.8),
         Dense(512), LeakyReLU(slope: 0.2), BatchNormalization(momentum: 0.8),
         Dense(pixels, activation: .tanh)]
    }

    static func discriminator() -> [Layer] {
        [Dense(512, activation: .leakyRelu(slope: 0.2)), Dense(256, activation: .leakyRelu(slope: 0.2)), Dense(1)]
    }

    static func run(_ context: TrainContext) throws -> [String: Any] {
        guard let dataset = ImageDataset(rawValue: context.dataset) else {
            throw ModelError.invalidArgument("\(name) trains on mnist or fashion-mnist, not '\(context.dataset)'")
        }
        let train = try dataset.load(.train, from: context.data)
        let pixels = train.height * train.width
        let device = context.device
        // Real images scaled to [-1, 1], the generator's tanh range. They stay on the host;
        // each batch is uploaded when used. The targets are unused placeholders.
        let real = try Dataset(Tensor(train.pixels.map { $0 * 2 - 1 }, shape: [train.count, pixels], on: .cpu),
                               Tensor.zeros([train.count, 1], on: .cpu))

        let g = try Sequential(generator(pixels: pixels), inputShape: [latent], device: device, seed: context.seed)
        let d = try Sequential(discriminator(), inputShape: [pixels], device: device, seed: context.seed &+ 1)
        let gOptimizer = Adam(learningRate: 2e-4, beta1: 0.5)
        let dOptimizer = Adam(learningRate: 2e-4, beta1: 0.5)
        let bce = BinaryCrossEntropy(fromLogits: true)
        let noise = RandomGenerator(seed: context.seed &+ 0x6A4E)
        let fixedNoise = Tensor.normal([samples, latent], seed: context.seed &+ 0xF1ED, on: device)

        print("Training \(name) on \(dataset.rawValue) (\(train.count) samples) on \(device) — \(device.info.name)")
        print("Generator:\n\(g.summary)\nDiscriminator:\n\(d.summary)")

        // Label tensors per batch size (the last batch of an epoch is smaller).
        var labelCache: [Int: (real: Tensor, fake: Tensor, ones: Tensor)] = [:]
        func labels(_ n: Int) -> (real: Tensor, fake: Tensor, ones: Tensor) {
            if let cached = labelCache[n] { return cached }
            let made = (Tensor.full([n, 1], value: realLabel, on: device), Tensor.zeros([n, 1], on: device),
                        Tensor.ones([n, 1], on: device))
            labelCache[n] = made
            return made
        }

        var history: [(d: Double, g: Double, real: Double, fake: Double)] = []
        var pictures: [String] = []
        let start = Date()
        for epoch in 0..<context.epochs {
            let epochStart = Date()
            // Sums stay on the device; one read per epoch.
            var sums = (d: Tensor.zeros([], on: device), g: Tensor.zeros([], on: device),
                        real: Tensor.zeros([], on: device), fake: Tensor.zeros([], on: device))
            var steps = 0, seen = 0
            for batch in real.batches(size: context.batchSize, shuffleSeed: context.seed &+ UInt64(epoch), on: device) {
                let n = batch.count
                let (realLabels, fakeLabels, ones) = labels(n)
                let x = batch.inputs
                let z = Tensor.normal([n, latent], generator: noise, on: device)
                let fake = g(z, training: true)

                // Discriminator: real → 0.9, generated (detached: no gradient reaches G) → 0.
                let realLogits = d(x, training: true)
                let fakeLogits = d(fake.detached(), training: true)
                let dLoss = bce(realLogits, realLabels) + bce(fakeLogits, fakeLabels)
                dLoss.backward()
                dOptimizer.step(d.parameters)

                // Generator: make the (updated) discriminator say 1. Only G's parameters are
                // stepped; the gradients this leaves on D's parameters are dropped.
                let gLogits = d(fake, training: true)
                let gLoss = bce(gLogits, ones)
                gLoss.backward()
                gOptimizer.step(g.parameters)
                for parameter in d.parameters { parameter.value.zeroGrad() }

                Tensor.withoutGrad {
                    sums.d = sums.d + dLoss.detached()
                    sums.g = sums.g + gLoss.detached()
                    sums.real = sums.real + realLogits.detached().sigmoid().sum()
                    sums.fake = sums.fake + fakeLogits.detached().sigmoid().sum()
                }
                steps += 1
                seen += n
            }
            let means = (d: Double(sums.d.item()) / Double(steps), g: Double(sums.g.item()) / Double(steps),
                         real: Double(sums.real.item()) / Double(seen), fake: Double(sums.fake.item()) / Double(seen))
            history.append(means)

            let images = try g.predict(fixedNoise).reshaped(to: [samples, train.height, train.width])
            let picture = context.outputDirectory.appendingPathComponent("gan-epoch-\(epoch + 1).png")
            try ImageGrid.write(images, columns: 8, range: -1...1, to: picture)
            pictures.append(picture.path)
            print(String(format: "Epoch %d/%d - %.1f s - d_loss: %.4f - g_loss: %.4f - D(real): %.3f - D(fake): %.3f",
                         epoch + 1, context.epochs, Date().timeIntervalSince(epochStart), means.d, means.g,
                         means.real, means.fake) + " - wrote \(picture.path)")
        }
        let trainSeconds = Date().timeIntervalSince(start)
        print(String(format: "Trained in %.1f s (%.0f samples/s)", trainSeconds, Double(train.count * context.epochs) / trainSeconds)
              + "; samples of a fixed noise batch after each epoch in \(context.outputDirectory.path)")

        let last = history.last
        return ["d_loss": last?.d ?? .nan, "g_loss": last?.g ?? .nan, "d_real": last?.real ?? .nan,
                "d_fake": last?.fake ?? .nan, "pictures": pictures, "train_seconds": trainSeconds,
                "batch_size": context.batchSize,
                "history": ["d_loss": history.map(\.d), "g_loss": history.map(\.g),
                            "d_real": history.map(\.real), "d_fake": history.map(\.fake)]]
    }
}
