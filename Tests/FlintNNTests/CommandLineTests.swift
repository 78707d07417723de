import Flint
import Foundation
import Testing

/// `flint predict`, `evaluate`, `inspect` and `convert` run as a user runs them: results for good
/// files, one clear line (and no crash) for bad ones.
@Suite struct CommandLineTool {
    static let flint: URL? = {
        let folder = URL(fileURLWithPath: Swift.CommandLine.arguments[0]).deletingLastPathComponent()
        return [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("flint") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    struct Result {
        let status: Int32
        let signalled: Bool
        let output: String
        let error: String
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = flint!
        process.arguments = arguments + (["predict", "evaluate"].contains(arguments.first) ? ["--device", "cpu"] : [])
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal, output: output, error: error)
    }

    /// A small MLP saved as `flint train --save` saves it, IDX, PNG, PGM and CSV inputs, in a fresh folder.
    static func fixture() throws -> (folder: URL, model: Sequential, pixels: [Float]) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let model = try Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)], inputShape: [28, 28], device: .cpu, seed: 4)
        try model.save(to: folder.appendingPathComponent("mlp.safetensors"),
                       metadata: ["model": "mlp", "dataset": "mnist", "input_mean": "0.5", "input_std": "0.25", "height": "28", "width": "28"])
        var rng = DataRNG(seed: 3)
        let bytes = (0..<(3 * 784)).map { _ in UInt8(rng.next() % 256) }
        var idx = Data([0, 0, 0x08, 3])
        for dim in [3, 28, 28] { idx += withUnsafeBytes(of: UInt32(dim).bigEndian) { Data($0) } }
        idx += Data(bytes)
        try idx.write(to: folder.appendingPathComponent("images.idx"))
        let pixels = bytes.map { Float($0) / 255 }
        try PNG.encode(PixelImage(width: 28, height: 28, format: .grey, pixels: Array(bytes[0..<784])))
            .write(to: folder.appendingPathComponent("first.png"))
        try (Data("P5\n28 28\n255\n".utf8) + Data(bytes[784..<1568])).write(to: folder.appendingPathComponent("second.pgm"))
        let csv = "label," + (0..<784).map { "p\($0)" }.joined(separator: ",") + "\n"
            + "7," + bytes[1568..<2352].map(String.init).joined(separator: ",") + "\n"
        try Data(csv.utf8).write(to: folder.appendingPathComponent("third.csv"))
        return (folder, model, pixels)
    }

    @Test(.enabled(if: flint != nil, "the flint binary is not built next to the tests"))
    func predictReadsEveryInputKindAndMatchesTheLibrary() throws {
        let (folder, model, pixels) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("mlp.safetensors").path
        let inputs = ["images.idx", "first.png", "second.pgm", "third.csv"].map { folder.appendingPathComponent($0).path }
        let result = try Self.run(["predict", "--weights", weights, "--json", "--logits"] + inputs)
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 6, "\(result.output)")
        // The same pictures through the library, standardised as the metadata says.
        let expected = try model.predict(Tensor(pixels.map { ($0 - 0.5) / 0.25 }, shape: [3, 28, 28], on: .cpu)).toArray()
        let logits = lines.map { ($0["logits"] as? [Double] ?? []).map(Float.init) }
        for (line, sample) in zip(logits, [0, 1, 2, 0, 1, 2]) {
            let want = Array(expected[(sample * 10)..<(sample * 10 + 10)])
            #expect(zip(line, want).allSatisfy { Swift.abs($0 - $1) < 1e-4 }, "\(line) vs \(want)")
        }
        #expect(lines.last?["label"] as? Int == 7)

        let text = try Self.run(["predict", "--weights", weights, "--top", "3", inputs[1]])
        #expect(text.status == 0 && text.output.hasPrefix(inputs[1] + ": ") && text.output.split(separator: ",").count == 3, "\(text.output)")
    }

    @Test(.enabled(if: flint != nil, "the flint binary is not built next to the tests"))
    func inspectAndConvertRoundTrip() throws {
        let (folder, model, _) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("mlp.safetensors").path
        let inspect = try Self.run(["inspect", weights])
        #expect(inspect.status == 0 && inspect.output.contains("layers.1.kernel") && inspect.output.contains("[784, 128]"), "\(inspect.output)")
        let exported = folder.appendingPathComponent("torch.safetensors").path
        #expect(try Self.run(["convert", "--to", "pytorch", weights, exported]).status == 0)
        let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: exported))
        #expect(file["1.weight"]?.shape == [128, 784] && file["3.bias"]?.shape == [10])
        let back = folder.appendingPathComponent("back.safetensors").path
        let imported = try Self.run(["convert", "--from", "pytorch", "--model", "mlp", exported, back])
        #expect(imported.status == 0, "\(imported.error)")
        let copy = try Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)], inputShape: [28, 28], device: .cpu, seed: 9)
        try copy.load(from: URL(fileURLWithPath: back))
        #expect(zip(copy.parameters, model.parameters).allSatisfy { $0.value.toArray() == $1.value.toArray() })
    }

    /// Each bad input ends the command with one line on standard error that names the problem,
    /// an ordinary failure status, and no crash.
    @Test(.enabled(if: flint != nil, "the flint binary is not built next to the tests"))
    func badFilesAreOneLineErrors() throws {
        let (folder, _, _) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        let weights = path("mlp.safetensors")
        let data = try Data(contentsOf: URL(fileURLWithPath: weights))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: path("truncated.safetensors")))
        try Data("not weights".utf8).write(to: URL(fileURLWithPath: path("text.safetensors")))
        let cnn = try Sequential([Conv2D(4, kernelSize: 3), Flatten(), Dense(10)], inputShape: [28, 28, 1], device: .cpu)
        try cnn.save(to: URL(fileURLWithPath: path("other.safetensors")), metadata: ["model": "mlp"])
        try Sequential([Dense(2)], inputShape: [3], device: .cpu).save(to: URL(fileURLWithPath: path("plain.safetensors")))
        try PNG.encode(PixelImage(width: 10, height: 10, format: .rgb, level: 128)).write(to: URL(fileURLWithPath: path("small.png")))
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]).write(to: URL(fileURLWithPath: path("broken.png")))

        let cases: [([String], String)] = [
            (["predict", "--weights", path("truncated.safetensors"), path("images.idx")], "truncated.safetensors"),
            (["predict", "--weights", path("text.safetensors"), path("images.idx")], "text.safetensors"),
            (["predict", "--weights", path("other.safetensors"), path("images.idx")], "does not fit the model"),
            (["predict", "--weights", path("plain.safetensors"), path("images.idx")], "was not saved by `flint train --save`"),
            (["predict", "--weights", path("missing.safetensors"), path("images.idx")], "missing.safetensors"),
            (["predict", "--weights", weights, path("small.png")], "10×10"),
            (["predict", "--weights", weights, path("broken.png")], "broken.png"),
            (["predict", "--weights", weights, path("nothing.idx")], "nothing.idx"),
            (["inspect", path("truncated.safetensors")], "truncated.safetensors"),
            (["inspect", folder.path], "folder"),
            (["convert", "--from", "pytorch", weights, path("x.safetensors")], "pytorch_modules"),
        ]
        for (arguments, expected) in cases {
            let result = try Self.run(arguments)
            let lines = result.error.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("  See") && !$0.isEmpty }
            #expect(!result.signalled && result.status != 0, "\(arguments.first!) crashed or succeeded: \(result.error)")
            #expect(lines.count == 1 && result.error.contains(expected), "\(arguments): \(result.error)")
        }
    }
}

/// `flint train` on a run that diverges: the JSON line is still printed, with the status, where
/// it diverged and nulls for what could not be measured, and the command fails.
@Suite struct TrainCommandDivergence {
    /// A tiny MNIST-shaped folder: 256 training and 64 test images of random bytes.
    static func tinyMNIST() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-tiny-\(UUID().uuidString)")
        let mnist = folder.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: mnist, withIntermediateDirectories: true)
        var rng = DataRNG(seed: 11)
        func idx(_ dims: [Int], _ values: [UInt8]) -> Data {
            var data = Data([0, 0, 0x08, UInt8(dims.count)])
            for dim in dims { data += withUnsafeBytes(of: UInt32(dim).bigEndian) { Data($0) } }
            return data + Data(values)
        }
        for (prefix, count) in [("train", 256), ("t10k", 64)] {
            try idx([count, 28, 28], (0..<(count * 784)).map { _ in UInt8(rng.next() % 256) })
                .write(to: mnist.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try idx([count], (0..<count).map { _ in UInt8(rng.next() % 10) }).write(to: mnist.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        return folder
    }

    @Test(.enabled(if: CommandLineTool.flint != nil, "the flint binary is not built next to the tests"))
    func jsonIsPrintedWhenTrainingDiverges() throws {
        let folder = try Self.tinyMNIST()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CommandLineTool.run(["train", "--model", "mlp", "--epochs", "2", "--learning-rate", "1e30", "--json", "--device", "cpu",
                                              "--data-dir", folder.path, "--output", folder.appendingPathComponent("out").path])
        #expect(result.status == 1 && !result.signalled, "\(result.error)")
        let last = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let json = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        #expect(json?["status"] as? String == "diverged", "\(last)")
        #expect(json?["diverged_epoch"] as? Int == 1 && json?["diverged_step"] as? Int != nil, "\(last)")
        #expect(json?["test_accuracy"] is NSNull)
        #expect(result.error.contains("training diverged") && result.error.split(separator: "\n").count == 1, "\(result.error)")

        let bad = try CommandLineTool.run(["train", "--model", "mlp", "--learning-rate", "-1", "--data-dir", folder.path])
        #expect(bad.status != 0 && !bad.signalled && bad.error.contains("--learning-rate"), "\(bad.error)")
    }
}
