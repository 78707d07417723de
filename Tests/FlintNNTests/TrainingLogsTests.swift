import Flint
import Foundation
import Testing

@Suite struct TrainingLogsTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("flint-logs-\(UUID().uuidString)")
    }

    /// A small regression fit with validation, reporting through `callbacks`.
    static func fit(callbacks: [Callback], epochs: Int = 3) throws -> History {
        var rng = DataRNG(seed: 9)
        let x = Tensor((0..<60).map { _ in rng.uniform() }, shape: [30, 2], on: .cpu)
        let y = Tensor((0..<30).map { _ in rng.uniform() }, shape: [30, 1], on: .cpu)
        let model = try Sequential([Dense(1)], inputShape: [2], device: .cpu, seed: 2)
        try model.compile(optimizer: SGD(learningRate: 0.05), loss: MeanSquaredError(), metrics: [.meanAbsoluteError])
        return try model.fit(x, y, epochs: epochs, batchSize: 8, validationSplit: 0.2, callbacks: callbacks, verbosity: .silent)
    }

    /// A model to hand to callbacks called directly (they do not look at it).
    static func model() throws -> Sequential { try Sequential([Dense(1)], inputShape: [1], device: .cpu) }

    @Test func csvHasAHeaderAndOneRowPerEpochWrittenAsItEnds() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("run.csv")
        let logger = try CSVLogger(url: url)
        let probe = FileProbe { try String(contentsOf: url, encoding: .utf8) }
        let history = try Self.fit(callbacks: [logger, probe])

        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == "epoch,loss,learning_rate,mae,val_loss,val_mae")
        try #require(lines.count == 4)
        for (epoch, line) in lines.dropFirst().enumerated() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(cells[0] == String(epoch + 1))
            for (column, key) in ["loss", "learning_rate", "mae", "val_loss", "val_mae"].enumerated() {
                #expect(Float(cells[column + 1]) == history[key][epoch], "\(key) in epoch \(epoch + 1)")
            }
        }
        // Each row was in the file when its epoch ended, before training finished.
        #expect(probe.seen.map { $0.split(separator: "\n").count } == [2, 3, 4])
        #expect(logger.writeError == nil)
    }

    @Test func csvWritesNonFiniteValuesAndAppends() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("odd.csv")
        let logger = try CSVLogger(url: url), model = try Self.model()
        _ = logger.epochEnded(0, logs: ["loss": .nan, "a": .infinity, "b": -.infinity], model: model)
        _ = logger.epochEnded(1, logs: ["loss": 1.5, "c": 2], model: model)  // b missing, c unknown
        let again = try CSVLogger(url: url, append: true)
        _ = again.epochEnded(0, logs: ["loss": 0.25, "a": 1, "b": 2], model: model)
        #expect(try String(contentsOf: url, encoding: .utf8) == "epoch,loss,a,b\n1,nan,inf,-inf\n2,1.5,,\n1,0.25,1.0,2.0\n")
        // A fresh logger empties the file.
        _ = try CSVLogger(url: url)
        #expect(try String(contentsOf: url, encoding: .utf8).isEmpty)
        #expect(throws: FileWriteError.self) { try CSVLogger(url: URL(fileURLWithPath: "/proc/flint-none/run.csv")) }
    }

    @Test func jsonLinesAreObjectsWithNullsForNonFiniteValues() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("run.jsonl")
        let logger = try JSONLinesLogger(url: url), model = try Self.model()
        let history = try Self.fit(callbacks: [logger])
        _ = logger.epochEnded(3, logs: ["loss": .nan, "odd \"key\"\n": -.infinity, "tiny": 1e-30], model: model)

        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        try #require(lines.count == 4)
        for (epoch, line) in lines.prefix(3).enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["epoch"] as? Int == epoch + 1)
            for key in ["loss", "learning_rate", "mae", "val_loss", "val_mae"] {
                let value = try #require(object[key] as? NSNumber, "\(key)")
                #expect(value.floatValue == history[key][epoch], "\(key) in epoch \(epoch + 1)")
            }
        }
        #expect(lines[3] == #"{"epoch": 4, "loss": null, "odd \"key\"\n": null, "tiny": 1e-30}"#)
        let last = try #require(try JSONSerialization.jsonObject(with: Data(lines[3].utf8)) as? [String: Any])
        #expect(last["loss"] is NSNull && last["odd \"key\"\n"] is NSNull)
    }
}
