import Flint
import Foundation
import Testing

/// `fit`, `evaluate` and `predict` on datasets: byte images converted per batch train exactly as
/// pre-scaled floats, prefetching changes nothing but timing, errors and early stops end the
/// background thread, and streams with several inputs and no targets train.
@Suite struct DatasetTraining {
    /// Bytes `[count, 6, 6]` with a bright bar whose orientation is the label.
    static func byteBars(_ count: Int, seed: UInt64) -> (pixels: [UInt8], labels: [Int32]) {
        var rng = DataRNG(seed: seed)
        var pixels: [UInt8] = [], labels: [Int32] = []
        for _ in 0..<count {
            let label = Int32(rng.next() % 2), at = Int(rng.next() % 6)
            for row in 0..<6 {
                for column in 0..<6 {
                    let on = label == 0 ? row == at : column == at
                    pixels.append(on ? UInt8(180 + rng.next() % 76) : UInt8(rng.next() % 60))
                }
            }
            labels.append(label)
        }
        return (pixels, labels)
    }

    static func model(on device: Device) throws -> Sequential {
        let model = try Sequential([Flatten(), Dense(8, activation: .relu), Dropout(0.2), Dense(2)], inputShape: [6, 6], device: device, seed: 3)
        try model.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        return model
    }

    static let (scale, shift): (Float, Float) = (1 / (255 * 0.3), -0.2 / 0.3)

    @Test(arguments: NNDevices.all)
    func byteImagesTrainExactlyAsPrescaledFloats(device: Device) throws {
        let (pixels, labels) = Self.byteBars(200, seed: 1)
        let images = try ArrayDataset(HostArray(uint8: pixels, shape: [200, 6, 6]), target: HostArray(int32: labels, shape: [200]))
            .normalized(scale: Self.scale, shift: Self.shift)
        // The same two float32 roundings on the host.
        let floats = pixels.map { (Float($0) * Self.scale) + Self.shift }
        let x = Tensor(floats, shape: [200, 6, 6], on: .cpu), y = Tensor(int32: labels, shape: [200], on: .cpu)

        let fromBytes = try Self.model(on: device), fromFloats = try Self.model(on: device)
        let a = try fromBytes.fit(images.take(160), epochs: 4, batchSize: 16, validation: images.skip(160), verbosity: .silent, seed: 4)
        let b = try fromFloats.fit(x, y, epochs: 4, batchSize: 16, validationSplit: 0.2, verbosity: .silent, seed: 4)
        for (p, q) in zip(fromBytes.parameters, fromFloats.parameters) {
            #expect(p.value.toArray() == q.value.toArray(), "weights differ on \(device)")
        }
        #expect(a["loss"] == b["loss"] && a["val_accuracy"] == b["val_accuracy"])
        #expect(try fromBytes.evaluate(images.skip(160), batchSize: 7) == fromFloats.evaluate(x.slice(axis: 0, 160..<200), y.slice(axis: 0, 160..<200), batchSize: 7))
        #expect(try fromBytes.predict(images, batchSize: 33).toArray() == fromBytes.predict(x, batchSize: 33).toArray())
        #expect(a["val_accuracy"].last! >= 0.85, "the bars are easy: \(a["val_accuracy"])")
    }

    @Test(arguments: NNDevices.all)
    func prefetchingChangesNothingButTiming(device: Device) throws {
        let (pixels, labels) = Self.byteBars(150, seed: 2)
        let data = try ArrayDataset(HostArray(uint8: pixels, shape: [150, 6, 6]), target: HostArray(int32: labels, shape: [150]))
            .normalized(scale: Self.scale, shift: Self.shift)
        var results: [[Float]] = []
        for depth in [0, 1, 4] {
            let model = try Self.model(on: device)
            let history = try model.fit(data, epochs: 2, batchSize: 8, validation: data.take(40), verbosity: .silent, seed: 9, prefetch: depth)
            results.append(model.parameters.flatMap { $0.value.toArray() } + history["loss"] + history["val_loss"])
        }
        #expect(results[0] == results[1] && results[0] == results[2], "prefetch depth changed the results on \(device)")
    }

    /// Reading sample 13 fails.
    struct Failing: SampleDataset {
        struct Broken: Error, Equatable {}
        var count: Int { 40 }
        func sample(at index: Int) throws -> Sample {
            if index == 13 { throw Broken() }
            return Sample([Float(index % 5), 1], label: Int32(index % 2))
        }
    }

    @Test(arguments: [0, 2])
    func aFailingDatasetStopsFitWithItsError(prefetch: Int) throws {
        let model = try Sequential([Dense(2)], inputShape: [2], device: .cpu)
        try model.compile(optimizer: SGD(learningRate: 0.1), loss: SparseCategoricalCrossEntropy(fromLogits: true))
        #expect(throws: Failing.Broken()) {
            try model.fit(Failing(), epochs: 2, batchSize: 4, shuffle: false, verbosity: .silent, prefetch: prefetch)
        }
        #expect(throws: Failing.Broken()) { try model.evaluate(Failing(), batchSize: 4, prefetch: prefetch) }
    }

    final class StopAfterFirstEpoch: Callback {
        func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool { true }
    }

    @Test func anEarlyStopLeavesNoProducerBehind() throws {
        let (pixels, labels) = Self.byteBars(600, seed: 3)
        let data = try ArrayDataset(HostArray(uint8: pixels, shape: [600, 6, 6]), target: HostArray(int32: labels, shape: [600]))
        let model = try Self.model(on: .cpu)
        // One step per batch of 2, and a producer eight batches ahead when the run stops.
        let history = try model.fit(data.normalized(scale: 1 / 255), epochs: 5, batchSize: 2, callbacks: [StopAfterFirstEpoch()],
                                    verbosity: .silent, prefetch: 8)
        #expect(history.epochs.count == 1)
    }

    /// A stream of batches with two inputs and no targets, as a generator might make them.
    struct PairStream: BatchDataset {
        var count: Int { 48 }
        var batchCount: Int { 6 }
        func makeBatchIterator(epoch: Int) throws -> any BatchIterator { Iterator(epoch: epoch) }

        struct Iterator: BatchIterator {
            let epoch: Int
            var made = 0
            mutating func next() throws -> HostBatch? {
                guard made < 6 else { return nil }
                made += 1
                let base = Float(made) / 10 + Float(epoch) / 100
                return HostBatch(inputs: [HostArray((0..<24).map { base + Float($0) / 48 }, shape: [8, 3]),
                                          HostArray(int8: (0..<8).map { Int8($0) - 4 }, shape: [8, 1])])
            }
        }
    }

    /// Reconstructs its first input from both: a model with its own step and no targets.
    final class PairModel: Model {
        let dense = Dense(3)
        override func forward(_ inputs: [Tensor], training: Bool) -> Tensor {
            dense(Concatenate()([inputs[0], inputs[1]]))
        }
        override func trainStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
            let loss = (self(batch.inputs, training: true) - batch.inputs[0]).square().mean()
            loss.backward()
            optimizer!.step(self)
            logs.record("loss", mean: loss, count: batch.count)
        }
    }

    final class CountSteps: BatchCallback {
        var steps: [Int] = []
        func batchEnded(_ step: Int, logs: () -> [String: Float]) { steps.append(step) }
        func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool { false }
    }

    @Test(arguments: NNDevices.all)
    func aStreamWithSeveralInputsAndNoTargetsTrains(device: Device) throws {
        let model = PairModel()
        try model.build(inputShapes: [[3], [1]], device: device, seed: 1)
        try model.compile(optimizer: Adam(learningRate: 0.02))
        let counter = CountSteps()
        let history = try model.fit(PairStream(), epochs: 3, callbacks: [counter], verbosity: .silent)
        #expect(counter.steps == Array(1...18))
        #expect(history["loss"].count == 3 && history["loss"].last! < history["loss"].first!, "\(history["loss"])")
        let data = try Dataset(batches: PairStream())
        #expect(data.inputShapes == [[3], [1]] && data.targetShape == nil && data.count == 48)
        #expect(try model.predict(data).shape == [48, 3])
        var iterator = data.batches(size: 1, on: device).makeIterator()
        let first = try #require(try iterator.nextBatch())
        #expect(first.inputs[1].toArray() == [-4, -3, -2, -1, 0, 1, 2, 3] && first.targets == nil)
    }

    @Test func datasetsThatDoNotFitTheModelAreErrorsBeforeTraining() throws {
        let model = try Self.model(on: .cpu)
        let wrongShape = try ArrayDataset(HostArray(uint8: [UInt8](repeating: 0, count: 50), shape: [2, 5, 5]), target: HostArray(int32: [0, 1]))
        #expect(throws: ModelError.self) { try model.fit(wrongShape, verbosity: .silent) }
        let floatLabels = try ArrayDataset(HostArray(uint8: [UInt8](repeating: 0, count: 72), shape: [2, 6, 6]), target: HostArray([0, 1]).converted(.int32))
        #expect(throws: DatasetError.self) { try model.fit(floatLabels, verbosity: .silent) }
    }
}
