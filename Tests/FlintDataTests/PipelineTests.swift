import Foundation
import Testing
@testable import FlintData

/// A dataset of one's own: sample `i` holds `[i, −i]` and the class `i % 3`, made on demand.
struct Counting: SampleDataset {
    let count: Int
    func sample(at index: Int) throws -> Sample {
        try checkIndex(index)
        return Sample([Float(index), -Float(index)], label: Int32(index % 3))
    }
}

/// Sample datasets, their transforms and batching: what `fit` is built on.
@Suite struct Pipeline {
    @Test func defaultBatchesStackSamplesInTheOrderAsked() throws {
        let data = Counting(count: 10)
        let batch = try data.batch(at: [7, 2, 9])
        #expect(batch.count == 3 && batch.inputs[0].shape == [3, 2] && batch.target?.shape == [3])
        #expect(batch.inputs[0].floats == [7, -7, 2, -2, 9, -9] && batch.target?.int32s == [1, 2, 0])
        #expect(try data.layout() == SampleLayout(inputs: [ArrayLayout(type: .float32, shape: [2])], target: ArrayLayout(type: .int32, shape: [])))
        #expect(throws: DatasetError.indexOutOfRange(index: 10, count: 10)) { try data.batch(at: [10]) }
    }

    @Test func samplesThatDifferAreAnErrorNamingTheSample() throws {
        let ragged = Counting(count: 4).map { sample in
            sample.target?.int32s == [2] ? Sample([1, 2, 3], label: 2) : sample
        }
        #expect(throws: DatasetError.self) { try ragged.batch(at: [0, 1, 2]) }
        do {
            _ = try ragged.batch(at: [0, 2])
        } catch let error as DatasetError {
            #expect("\(error)".contains("sample 1 of a batch"))
        }
    }

    @Test func batchesFollowTheSeededShuffleEveryEpoch() throws {
        let data = Counting(count: 23)
        let batched = data.batched(5, shuffleSeed: 7)
        #expect(batched.batchCount == 5 && batched.count == 23)
        for epoch in 0..<3 {
            var shuffler = Shuffler(seed: 7 &+ UInt64(epoch))
            let expected = shuffler.permutation(23)
            var iterator = try batched.makeBatchIterator(epoch: epoch)
            var seen: [Int] = [], sizes: [Int] = []
            while let batch = try iterator.next() {
                sizes.append(batch.count)
                seen += batch.inputs[0].floats.enumerated().filter { $0.offset % 2 == 0 }.map { Int($0.element) }
            }
            #expect(seen == expected && sizes == [5, 5, 5, 5, 3])
        }
        let dropped = data.batched(5, dropRemainder: true)
        #expect(dropped.batchCount == 4 && dropped.count == 20 && dropped.order(epoch: 3) == Array(0..<20))
    }

    @Test func takeSkipAndShuffledSplitWithoutCopying() throws {
        let data = Counting(count: 10)
        #expect(try data.take(3).batch(at: [0, 1, 2]).target?.int32s == [0, 1, 2])
        #expect(try data.skip(8).batch(at: [1, 0]).inputs[0].floats == [9, -9, 8, -8])
        #expect(data.take(20).count == 10 && data.skip(20).count == 0)
        #expect(throws: DatasetError.self) { try data.skip(8).sample(at: 2) }
        let shuffled = data.shuffled(seed: 3)
        var shuffler = Shuffler(seed: 3)
        let order = shuffler.permutation(10)
        let train = shuffled.take(7), held = shuffled.skip(7)
        let ids = try (0..<7).map { Int(try train.sample(at: $0).inputs[0].floats[0]) } + (0..<3).map { Int(try held.sample(at: $0).inputs[0].floats[0]) }
        #expect(ids == order)
    }

    @Test func normalizedAndReshapedChangeOnlyTheLayout() throws {
        let images = try ArrayDataset(HostArray(uint8: (0..<24).map(UInt8.init), shape: [4, 6]), target: HostArray(int32: [0, 1, 2, 3], shape: [4]))
        let edited = images.reshaped([2, 3, 1]).normalized(scale: 1 / 255, shift: -0.5)
        let layout = try edited.layout()
        #expect(layout.inputs == [ArrayLayout(type: .uint8, shape: [2, 3, 1], conversion: .float(scale: 1 / 255, shift: -0.5))])
        let batch = try edited.batch(at: [3, 1])
        #expect(batch.inputs[0].shape == [2, 2, 3, 1] && batch.inputs[0].type == .uint8)
        #expect(batch.inputs[0].conversion == .float(scale: 1 / 255, shift: -0.5))
        #expect(try edited.sample(at: 1).inputs[0].shape == [2, 3, 1])
        #expect(throws: DatasetError.self) { try images.reshaped([5]).layout() }
        #expect(throws: DatasetError.self) { try images.normalized(scale: 2, input: 1).batch(at: [0]) }
        let standardized = try images.standardized(mean: 10, standardDeviation: 4).layout()
        #expect(standardized.inputs[0].conversion == .float(scale: 0.25, shift: -2.5))
    }

    @Test func hostArraysShareStorageUntilGathered() throws {
        let array = HostArray((0..<12).map(Float.init), shape: [4, 3])
        #expect(array.rows(1..<3).floats == [3, 4, 5, 6, 7, 8])
        #expect(array.row(3).shape == [3] && array.row(3).floats == [9, 10, 11])
        #expect(array.gathering(rows: [3, 0, 3]).floats == [9, 10, 11, 0, 1, 2, 9, 10, 11])
        #expect(HostArray.stacking([array.row(1), array.row(0)]).floats == [3, 4, 5, 0, 1, 2])
        #expect(HostArray(int8: [-3, 4]).int32s == [-3, 4] && HostArray(int8: [-3, 4]).floats == [-3, 4])
        #expect(HostArray(label: 7).shape == [] && HostArray(label: 7).int32s == [7])
        let batch = HostBatch(inputs: [array], target: HostArray(int32: [1, 2, 3, 4]))
        #expect(batch.rows(2..<4).target?.int32s == [3, 4] && batch.rows(2..<4).inputs[0].floats == [6, 7, 8, 9, 10, 11])
    }

    @Test func statisticsMatchAFloat64Reference() {
        var shuffler = Shuffler(seed: 4)
        let bytes = (0..<10_001).map { _ in UInt8(truncatingIfNeeded: shuffler.next() >> 56) }
        let values = bytes.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let deviation = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        for array in [HostArray(uint8: bytes), HostArray(bytes.map(Float.init)), HostArray(int32: bytes.map(Int32.init))] {
            let (m, s) = array.meanAndStandardDeviation()
            #expect(Swift.abs(m - mean) < 1e-9 && Swift.abs(s - deviation) < 1e-9, "\(array.type)")
        }
        let signed = HostArray(int8: [-128, 127, 0, -1])
        #expect(signed.meanAndStandardDeviation().mean == -0.5)
    }

    @Test func batchDatasetsMapAndTake() throws {
        let batches = Counting(count: 10).batched(4).map { batch in
            HostBatch(inputs: [batch.inputs[0].rows(0..<1)], target: batch.target?.rows(0..<1))
        }.take(2)
        #expect(batches.batchCount == 2)
        var iterator = try batches.makeBatchIterator(epoch: 0)
        var firsts: [Float] = []
        while let batch = try iterator.next() { firsts += batch.inputs[0].floats }
        #expect(firsts == [0, -0, 4, -4])
        #expect(try batches.layout().inputs[0].shape == [2])
    }

    @Test func csvAndTabularDataAreDatasets() throws {
        let url = try temporaryFile(Data("a,label,b\n1,2,3\n4,0,6\n7,1,9\n".utf8))
        defer { try? FileManager.default.removeItem(at: url) }
        let csv = try CSVDataset(contentsOf: url, targetColumn: "label")
        #expect(csv.count == 3 && csv.featureNames == ["a", "b"])
        let batch = try csv.batch(at: [2, 0])
        #expect(batch.inputs[0].floats == [7, 9, 1, 3] && batch.target?.int32s == [1, 2])
        let regression = try CSVDataset(contentsOf: url, targetColumn: "b", target: .value)
        #expect(try regression.sample(at: 1).target?.floats == [6] && (try regression.layout().target?.conversion) == .float)
        let unlabelled = try CSVDataset(contentsOf: url)
        #expect(try unlabelled.layout().target == nil && unlabelled.featureNames.count == 3)

        let table = TabularDataset(features: [1, 2, 3, 4, 5, 6], featureCount: 2, labels: [0, 1, 1], classNames: ["x", "y"])
        #expect(try table.batch(at: [2, 1]).inputs[0].floats == [5, 6, 3, 4])
        #expect(try table.sample(at: 0).target?.int32s == [0])
        #expect(try table.layout() == SampleLayout(inputs: [ArrayLayout(type: .float32, shape: [2])], target: ArrayLayout(type: .int32, shape: [])))
    }
}
