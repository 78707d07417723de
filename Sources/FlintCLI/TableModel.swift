import ArgumentParser
import Flint
import Foundation

/// A table classifier (`logistic-regression`, `mlp-classifier`) saved by `flint train --save`:
/// the fitted network in PyTorch's layout with its module list, the standard scaler fitted on the
/// training rows, and the class names, so `flint evaluate` and `predict` can rebuild it.
struct TableModel {
    let network: Sequential
    let featureCount: Int
    let classes: [String]
    let mean: [Float]
    let scale: [Float]
    /// One logit for two classes (a sigmoid), else one per class (a softmax).
    var binary: Bool { network.outputShape == [1] }

    static let names = [LogisticRegressionModel.name, MLPClassifierModel.name]

    static func save(_ network: Sequential, to url: URL, model: String, context: TrainContext, scaler: StandardScaler,
                     classes: [String]) throws {
        func list(_ values: [Float]) -> String { values.map { "\($0)" }.joined(separator: ",") }
        let names = String(decoding: try JSONSerialization.data(withJSONObject: classes), as: UTF8.self)
        try network.exportPyTorch(to: url, metadata: [
            "model": model, "dataset": context.dataset, "seed": String(context.seed), "input_shape": String(scaler.featureCount),
            "scaler_mean": list(scaler.mean), "scaler_scale": list(scaler.scale), "classes": names,
        ])
    }

    init(_ file: SafeTensorsFile, device: Device) throws {
        let metadata = file.metadata
        func floats(_ key: String) throws -> [Float] {
            let values = (metadata[key] ?? "").split(separator: ",").compactMap { Float($0) }
            guard !values.isEmpty else { throw ValidationError("\(file.path): metadata entry '\(key)' is missing or malformed") }
            return values
        }
        guard let modules = metadata["pytorch_modules"], let features = metadata["input_shape"].flatMap(Int.init), features > 0,
              let classes = metadata["classes"].flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }) else {
            throw ValidationError("\(file.path): a table model needs pytorch_modules, input_shape and classes in its metadata")
        }
        mean = try floats("scaler_mean")
        scale = try floats("scaler_scale")
        guard mean.count == features, scale.count == features else {
            throw ValidationError("\(file.path): the scaler has \(mean.count) columns for \(features) features")
        }
        network = try PyTorchFormat.sequential(modules: modules)
        try network.build(inputShape: [features], device: device)
        try PyTorchFormat.load(file, into: network)
        featureCount = features
        self.classes = classes
    }

    /// Class probabilities (`rows × classes`) for raw (unscaled) feature rows.
    func probabilities(_ features: [Float]) throws -> [Float] {
        let rows = features.count / featureCount
        let scaled = features.enumerated().map { ($0.element - mean[$0.offset % featureCount]) / scale[$0.offset % featureCount] }
        let outputs = try network.predict(Tensor(scaled, shape: [rows, featureCount], on: .cpu), batchSize: 1024)
        if binary { return Tensor.withoutGrad { outputs.sigmoid() }.toArray().flatMap { [1 - $0, $0] } }
        return Tensor.withoutGrad { outputs.softmax(axis: -1) }.toArray()
    }

    /// Test accuracy on the held-out rows of the split `flint train` made (same seed).
    func accuracy(on data: TabularDataset, seed: UInt64) throws -> (accuracy: Float, rows: Int) {
        guard data.featureCount == featureCount else {
            throw ValidationError("the data have \(data.featureCount) features, the model takes \(featureCount)")
        }
        let (_, testRows) = try trainTestSplit(count: data.count, testFraction: 0.2, seed: seed, stratifyBy: data.labels)
        let test = data.subset(testRows)
        let width = binary ? 2 : classes.count
        let probabilities = try probabilities(test.features)
        var correct = 0
        for row in 0..<test.count {
            let scores = probabilities[(row * width)..<((row + 1) * width)]
            if scores.indices.max(by: { scores[$0] < scores[$1] })! - row * width == Int(test.labels[row]) { correct += 1 }
        }
        return (Float(correct) / Float(Swift.max(test.count, 1)), test.count)
    }
}
