import Flint
import Foundation
import Testing

/// Saving and loading weights, and resuming training from checkpoints.
@Suite struct Persistence {
    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-persistence-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The architectures `flint train` uses, small enough for a test.
    static let architectures: [(name: String, inputShape: [Int], make: @Sendable () -> Model)] = [
        ("mlp", [28, 28], { Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)]) }),
        ("cnn", [28, 28, 1], { Sequential([RandomTranslation(heightFactor: 0.05, widthFactor: 0.05),
                                            Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(poolSize: (2, 2)), Flatten(),
                                            Dense(128, activation: .relu), Dense(10)]) }),
        ("gru", [28, 28], { Sequential([GRU(16), Dense(10)]) }),
        ("lstm", [28, 28], { Sequential([LSTM(16), Dense(10)]) }),
        ("gan generator", [64], { Sequential([Dense(256), LeakyReLU(slope: 0.2), BatchNormalization(momentum: 0.8),
                                              Dense(784, activation: .tanh)]) }),
        ("nested", [2], { Nested() }),
        ("residual", [8, 8, 1], { ResidualCNN() }),
    ]

    @Test(arguments: NNDevices.all)
    func savedWeightsLoadOnEveryDeviceWithTheSamePredictions(device: Device) throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, shape, make) in Self.architectures {
            let original = make()
            try original.build(inputShape: shape, device: device, seed: 7)
            // Move BatchNorm statistics away from their initial values, so that state is checked too.
            try original.compile(optimizer: SGD(learningRate: 0.01), loss: MeanSquaredError())
            let x = Tensor.uniform([4] + shape, seed: 3, on: .cpu)
            if original.stateParameters.count > 0 {
                try original.fit(x, Tensor.uniform([4, original.outputShape![0]], seed: 4, on: .cpu), epochs: 1, batchSize: 4, verbosity: .silent)
            }
            let url = folder.appendingPathComponent("\(name).safetensors")
            try original.save(to: url, metadata: ["model": name])
            let expected = try original.predict(x).toArray()
            for target in NNDevices.all {
                let copy = make()
                try copy.build(inputShape: shape, device: target, seed: 99)
                let report = try copy.load(from: url)
                #expect(report.isComplete && report.loaded.count == original.parameters.count, "\(name): \(report.summary)")
                let got = try copy.predict(x).toArray()
                let worst = zip(got, expected).map { Swift.abs($0 - $1) / Swift.max(1, Swift.abs($1)) }.max() ?? 0
                // The same device computes the same numbers; another one agrees to float32 rounding.
                #expect(target == device ? got == expected : worst < 1e-4, "\(name) saved on \(device), loaded on \(target): \(worst)")
            }
        }
    }

    @Test func fileCarriesPathsArchitectureAndVersion() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = Nested()
        try model.build(inputShape: [2], device: .cpu)
        let url = folder.appendingPathComponent("nested.safetensors")
        try model.save(to: url, metadata: ["dataset": "toy"])
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(Set(file.entries.map(\.name)) == Set(model.namedParameters.map(\.path)))
        #expect(file.metadata["dataset"] == "toy" && file.metadata["flint_version"] == flintVersion && file.metadata["format"] == "flint")
        let architecture = try #require(file.metadata["architecture"])
        #expect(architecture.contains("\"type\":\"Nested\"") && architecture.contains("[\"tower.norm\",\"LayerNormalization\"]"),
                "\(architecture)")
    }

    @Test func mismatchesAreListedAndNonStrictLoadingTakesWhatFits() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("small.safetensors")
        let small = try Sequential([Dense(4), Dense(3)], inputShape: [2], device: .cpu, seed: 1)
        try small.save(to: url)

        // Another head size and one layer more: the second kernel and bias have the wrong shape,
        // the third layer's are missing.
        let other = try Sequential([Dense(4), Dense(5), Dense(3)], inputShape: [2], device: .cpu, seed: 2)
        let before = other.parameters.map { $0.value.toArray() }
        let error = #expect(throws: WeightsError.self) { try other.load(from: url) }
        let message = error?.description ?? ""
        #expect(message.contains("missing layers.2.kernel, layers.2.bias") && message.contains("layers.1.kernel (model [4, 5], file [4, 3])"),
                "\(message)")
        #expect(other.parameters.map { $0.value.toArray() } == before, "a failed strict load changed the model")

        let report = try other.load(from: url, strict: false)
        #expect(report.loaded == ["layers.0.kernel", "layers.0.bias"] && report.missing == ["layers.2.kernel", "layers.2.bias"])
        #expect(other.parameters[0].value.toArray() == small.parameters[0].value.toArray())

        let unexpected = try Sequential([Dense(4)], inputShape: [2], device: .cpu)
        #expect((try? unexpected.load(from: url)) == nil)
        #expect(try unexpected.load(from: url, strict: false).unexpected == ["layers.1.kernel", "layers.1.bias"])
        // Not a safetensors file, and a truncated one: one-line errors.
        let text = folder.appendingPathComponent("notes.safetensors")
        try Data("hello".utf8).write(to: text)
        #expect(throws: DataError.self) { try small.load(from: text) }
        let truncated = folder.appendingPathComponent("truncated.safetensors")
        try Data(try Data(contentsOf: url).dropLast(5)).write(to: truncated)
        #expect(throws: DataError.self) { try small.load(from: truncated) }
    }

    /// A model with everything a checkpoint must carry: Adam's moments and step count, dropout and
    /// augmentation randomness, BatchNorm statistics, and a schedule.
    static func resumable(on device: Device) throws -> Sequential {
        let model = try Sequential([RandomTranslation(heightFactor: 0.25, widthFactor: 0.25), Conv2D(4, kernelSize: 3, activation: .relu),
                                    BatchNormalization(momentum: 0.9), Flatten(), Dropout(0.3), Dense(2)],
                                   inputShape: [8, 8, 1], device: device, seed: 11)
        try model.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        return model
    }

    @Test(arguments: NNDevices.all)
    func resumedRunEqualsUninterruptedRun(device: Device) throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (pixels, labels) = barImages(96, seed: 8)
        let x = Tensor(pixels, shape: [96, 8, 8, 1], on: .cpu), y = Tensor(int32: labels, shape: [96], on: .cpu)
        func train(_ model: Model, epochs: Int, checkpoints: URL?, resume: URL? = nil) throws -> History {
            try model.fit(x, y, epochs: epochs, batchSize: 16, validationSplit: 0.25,
                          callbacks: checkpoints.map { [ModelCheckpoint(directory: $0)] } ?? [],
                          schedule: .cosine(period: 4), verbosity: .silent, seed: 5, resumeFrom: resume)
        }
        let whole = try Self.resumable(on: device)
        let wholeHistory = try train(whole, epochs: 4, checkpoints: nil)

        let interrupted = try Self.resumable(on: device)
        _ = try train(interrupted, epochs: 2, checkpoints: folder)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(Checkpoint.fileName(epoch: 2)).path))
        // A new process would start from a freshly built model with other weights.
        let resumed = try Self.resumable(on: device)
        let resumedHistory = try train(resumed, epochs: 4, checkpoints: folder, resume: folder)

        #expect(resumedHistory.epochs.count == 4)
        for ((path, a), b) in zip(whole.namedParameters, resumed.parameters) {
            #expect(a.value.toArray() == b.value.toArray(), "\(path) differs after resuming on \(device)")
        }
        #expect(resumedHistory["loss"] == wholeHistory["loss"] && resumedHistory["val_accuracy"] == wholeHistory["val_accuracy"])
        #expect(try Checkpoint.latest(in: folder)?.epoch == 4)
        // Resuming a finished run trains no more.
        let done = try Self.resumable(on: device)
        #expect(try train(done, epochs: 4, checkpoints: nil, resume: folder).epochs.count == 4)
        #expect(done.parameters.first!.value.toArray() == resumed.parameters.first!.value.toArray())
    }

    @Test func checkpointCallbackKeepsTheNewestAndTheBest() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (pixels, labels) = barImages(64, seed: 2)
        let x = Tensor(pixels, shape: [64, 8, 8, 1], on: .cpu), y = Tensor(int32: labels, shape: [64], on: .cpu)
        let model = try Self.resumable(on: .cpu)
        let callback = ModelCheckpoint(directory: folder, every: 2, keepLast: 2, monitor: "val_loss")
        let history = try model.fit(x, y, epochs: 7, batchSize: 16, validationSplit: 0.25, callbacks: [callback], verbosity: .silent)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["best.safetensors", Checkpoint.fileName(epoch: 4), Checkpoint.fileName(epoch: 6)])
        let best = history["val_loss"].enumerated().min { $0.element < $1.element }!
        #expect(callback.bestValue == best.element)
        let file = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("best.safetensors"))
        #expect(file.metadata["epoch"] == String(best.offset + 1))
        // A checkpoint is also a weights file; a weights file is not a checkpoint.
        let copy = try Self.resumable(on: .cpu)
        #expect(try copy.load(from: folder.appendingPathComponent(Checkpoint.fileName(epoch: 6))).isComplete)
        #expect(throws: DataError.self) { try Checkpoint(contentsOf: folder.appendingPathComponent("best.safetensors")) }
        // A folder that cannot be made stops fit before the first epoch.
        let blocked = ModelCheckpoint(directory: folder.appendingPathComponent("best.safetensors/inner"))
        #expect(throws: FileWriteError.self) { try model.fit(x, y, epochs: 1, callbacks: [blocked], verbosity: .silent) }
    }
}
