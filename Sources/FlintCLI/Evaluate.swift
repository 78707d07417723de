import ArgumentParser
import Flint
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate saved weights on a dataset's test split.",
        discussion: "Takes a file written by `flint train --save` for mlp, cnn, gru, lstm (test accuracy and loss) or autoencoder (reconstruction MSE)."
    )

    @Option(help: "Weights saved by flint train --save.")
    var weights: String

    @Option(help: "mnist or fashion-mnist (default: the one the weights were trained on).")
    var dataset: String?

    @Option(help: "Folder holding <dataset>/ (searched first).")
    var dataDir: String?

    @Option(help: "cpu, opencl or opencl:N (default: FLINT_DEVICE, else an OpenCL GPU, else cpu).")
    var device: String?

    @Option(help: "Samples per evaluation step.")
    var batchSize = 500

    @Flag(help: "End with one JSON line of results.")
    var json = false

    func run() throws {
        let target = try chooseDevice(device)
        let saved = try SavedModel(URL(fileURLWithPath: weights), device: target)
        if case .table(let table) = saved.kind { return try evaluate(table, saved: saved, device: target) }
        let name = dataset ?? saved.dataset?.rawValue ?? "mnist"
        guard let data = ImageDataset(rawValue: name) else { throw ValidationError("--dataset must be mnist or fashion-mnist, not '\(name)'") }
        let test = try data.load(.test, from: DataDirectory(explicit: dataDir))
        guard test.height == saved.height, test.width == saved.width else {
            throw ValidationError("\(name) has \(test.height)×\(test.width) images, the model takes \(saved.height)×\(saved.width)")
        }
        let x = saved.inputs(test.pixels, count: test.count)
        var results: [String: Any] = ["model": saved.name, "dataset": name, "device": target.identifier, "weights": weights,
                                      "samples": test.count]
        switch saved.kind {
        case .classifier, .sequential:
            try saved.network.compile(optimizer: SGD(), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
            let logs = try saved.network.evaluate(x, Tensor(int32: test.labels, shape: [test.count], on: .cpu), batchSize: batchSize)
            let accuracy = logs["accuracy"] ?? .nan, loss = logs["loss"] ?? .nan
            print(String(format: "%@ on %@ test (%d images, %@): accuracy %.2f%%, loss %.4f", saved.name, name, test.count,
                         target.identifier, accuracy * 100, loss))
            results["test_accuracy"] = Double(accuracy)
            results["test_loss"] = Double(loss)
        case .autoencoder:
            let mse = try saved.network.evaluate(x, batchSize: batchSize)["loss"] ?? .nan
            print(String(format: "%@ on %@ test (%d images, %@): reconstruction MSE %.5f", saved.name, name, test.count, target.identifier, mse))
            results["reconstruction_mse"] = Double(mse)
        case .gan:
            throw ValidationError("a GAN has no test metric; draw samples with flint predict --weights \(weights)")
        case .table:
            break
        }
        if json { try printJSONLine(results) }
    }
}

extension Evaluate {
    /// Test accuracy of a table classifier on the rows `flint train` held out (same split seed).
    func evaluate(_ table: TableModel, saved: SavedModel, device: Device) throws {
        let name = dataset ?? saved.file.metadata["dataset"] ?? "iris"
        let folder = DataDirectory(explicit: dataDir)
        let data: TabularDataset
        switch name {
        case "iris": data = try TabularDataset.iris(from: folder)
        case "digits": data = try TabularDataset.digits(from: folder)
        default: throw ValidationError("--dataset must be iris or digits for \(saved.name), not '\(name)'")
        }
        let seed = saved.file.metadata["seed"].flatMap(UInt64.init) ?? 0
        let (accuracy, rows) = try table.accuracy(on: data, seed: seed)
        print(String(format: "%@ on %@ test rows (%d, split seed %llu, %@): accuracy %.2f%%", saved.name, name, rows, seed,
                     device.identifier, accuracy * 100))
        if json {
            try printJSONLine(["model": saved.name, "dataset": name, "device": device.identifier, "weights": weights,
                               "samples": rows, "test_accuracy": Double(accuracy)])
        }
    }
}

/// Prints `object` as one line of JSON with sorted keys.
func printJSONLine(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}
