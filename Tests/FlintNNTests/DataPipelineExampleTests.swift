import Flint
import Foundation
import Testing

/// Noisy copies of two waveforms, generated as they are asked for: a stream cut into epochs.
struct Waves: BatchDataset {
    var count: Int { 32 * 64 }
    var batchCount: Int { 32 }
    func makeBatchIterator(epoch: Int) throws -> any BatchIterator { Batches(random: SplitMix64(seed: UInt64(epoch))) }

    struct Batches: BatchIterator {
        var random: SplitMix64
        var made = 0
        mutating func next() throws -> HostBatch? {
            guard made < 32 else { return nil }
            made += 1
            var values: [Float] = [], labels: [Int32] = []
            for _ in 0..<64 {
                let kind = Int32(random.next() % 2)
                for t in 0..<16 {
                    let wave: Float = kind == 0 ? sin(Float(t) / 2) : (t % 4 < 2 ? 1 : -1)
                    values.append(wave + Float(random.next() % 1_000) / 2_000 - 0.25)
                }
                labels.append(kind)
            }
            return HostBatch(inputs: [HostArray(values, shape: [64, 16])], target: HostArray(int32: labels, shape: [64]))
        }
    }
}

/// The data-pipeline examples of README.md and docs/data.md, run as written (on small data where
/// the page trains on MNIST). `CustomModelExamples.documentedCodeIsCompiledHere` checks that the
/// pages' Swift blocks are here.
@Suite struct DataPipelineExamples {
    @Test func readmeUserDefinedDatasetTrains() throws {
        /// Points inside or outside a circle, made from their index: nothing is stored.
        struct Rings: SampleDataset {
            var count: Int { 4_096 }
            func sample(at index: Int) -> Sample {
                var random = SplitMix64(seed: UInt64(index))   // the same point for an index, on any thread
                let x = Float(random.next() % 2_001) / 1_000 - 1, y = Float(random.next() % 2_001) / 1_000 - 1
                return Sample([x, y], label: x * x + y * y < 0.5 ? 1 : 0)
            }
        }

        let rings = Rings()
        let classifier = try Sequential([Dense(16, activation: .relu), Dense(2)], inputShape: [2], device: try Device.default)
        try classifier.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        try classifier.fit(rings.take(3_584), epochs: 10, batchSize: 64, validation: rings.skip(3_584))

        let accuracy = try classifier.evaluate(rings.skip(3_584))["accuracy"] ?? 0
        #expect(accuracy > 0.9, "a circle is easy to learn: \(accuracy)")
        #expect(classifier.history["val_accuracy"].count == 10)
    }

    @Test func docsStreamTrains() throws {
        let detector = try Sequential([Dense(8, activation: .relu), Dense(2)], inputShape: [16], device: .cpu)
        try detector.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        let history = try detector.fit(Waves(), epochs: 3)  // 32 steps an epoch; batch size and shuffling are the stream's

        #expect(history["accuracy"].last! > 0.9, "\(history["accuracy"])")
    }

    @Test func docsCSVExampleRuns() throws {
        let csvURL = FileManager.default.temporaryDirectory.appendingPathComponent("flint-\(UUID().uuidString).csv")
        try "x1,x2,label\n" .appending((0..<200).map { i in "\(i % 7),\(i % 5),\((i % 7 + i % 5) % 2)" }.joined(separator: "\n"))
            .write(to: csvURL, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: csvURL) }

        let table = try CSVDataset(contentsOf: csvURL, targetColumn: "label")   // features float32, labels int32
        let (training, held) = (table.shuffled(seed: 1).take(160), table.shuffled(seed: 1).skip(160))
        let model = try Sequential([Dense(16, activation: .relu), Dense(2)], inputShape: [table.featureNames.count], device: .cpu)
        try model.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        try model.fit(training, epochs: 5, batchSize: 16, validation: held, verbosity: .silent)
        let predictions = try model.predict(held)  // [40, 2]; the targets are not needed

        #expect(predictions.shape == [40, 2])
    }

    /// docs/data.md's file larger than memory, compiled but not run.
    func docsLargeFile(imagesURL: URL, labelsURL: URL, model: Model) throws {
        let huge = try IDXDataset(inputs: imagesURL, targets: labelsURL, access: .disk)  // rows read per batch, never held
        try model.fit(huge.normalized(scale: 1 / 255), epochs: 1, batchSize: 128)
    }

    /// The README's MNIST example, compiled but not run (it trains on the full MNIST set).
    func readmeTrainingExample() throws {
        let train = try ImageDataset.mnist.samples(.train)            // bytes, memory-mapped or decoded once
        let (mean, std) = try train.inputStatistics(scale: 1.0 / 255)  // of pixels in [0, 1]
        let images = train.normalized(scale: 1 / (255 * std), shift: -mean / std)  // per batch, on the device
        let model = try Sequential([Flatten(), Dense(128, activation: .relu), Dropout(0.2), Dense(10)],
                                   inputShape: [28, 28], device: try Device.default)
        try model.compile(optimizer: Adam(learningRate: 1e-3),
                          loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        let history = try model.fit(images.take(54_000), epochs: 5, batchSize: 128, validation: images.skip(54_000),
                                    callbacks: [EarlyStopping(monitor: "val_loss", patience: 2)])
        print(model.summary, history["val_accuracy"])
    }
}
