import ArgumentParser
import Flint
import Foundation

/// The image classifiers `flint evaluate` and `flint predict` can rebuild from saved weights.
let imageClassifiers: [any ImageClassifier.Type] = [MLPModel.self, CNNModel.self, GRUModel.self, LSTMModel.self]

/// Weights saved by `flint train --save`, rebuilt into their network on a device. The file's
/// metadata names the model and holds what prediction needs (image size, input scaling); a file
/// of another architecture, or one Flint did not write, is a one-line error.
struct SavedModel {
    enum Kind {
        case classifier(any ImageClassifier.Type)
        case autoencoder
        case gan(latent: Int)
        /// A network imported from a PyTorch module list, with its per-sample input shape.
        case sequential([Int])
        /// A table classifier with its scaler and classes.
        case table(TableModel)
    }

    let url: URL
    let file: SafeTensorsFile
    let name: String
    let kind: Kind
    let network: Model
    let height: Int
    let width: Int
    /// Standardisation of the inputs, for the classifiers.
    let mean: Float
    let std: Float

    init(_ url: URL, device: Device) throws {
        self.url = url
        file = try SafeTensorsFile(contentsOf: url)
        guard ["flint", "pytorch"].contains(file.metadata["format"]), let name = file.metadata["model"] else {
            throw ValidationError("\(url.path) was not saved by `flint train --save` (its metadata names no model)")
        }
        self.name = name
        let metadata = file.metadata
        func number<T: LosslessStringConvertible>(_ key: String, _ fallback: T) throws -> T {
            guard let text = metadata[key] else { return fallback }
            guard let value = T(text) else { throw ValidationError("\(url.path): metadata entry '\(key)' is not a number") }
            return value
        }
        height = try number("height", 28)
        width = try number("width", 28)
        mean = try number("input_mean", 0)
        std = try number("input_std", 1)
        let pixels = height * width
        if TableModel.names.contains(name) {
            let table = try TableModel(file, device: device)
            kind = .table(table)
            network = table.network
            return
        }
        if let classifier = imageClassifiers.first(where: { $0.name == name }) {
            kind = .classifier(classifier)
            network = Sequential(classifier.layers())
            try network.build(inputShape: classifier.inputShape(height: height, width: width), device: device)
        } else if name == AutoencoderModel.name {
            kind = .autoencoder
            network = DenseAutoencoder(pixels: pixels)
            try network.build(inputShape: [pixels], device: device)
        } else if name == GANModel.name {
            let latent: Int = try number("latent", GANModel.latent)
            kind = .gan(latent: latent)
            let gan = GAN(latent: latent, pixels: pixels, noiseSeed: 0)
            try gan.build(pixels: pixels, device: device, seed: 0)
            network = gan
        } else if name == SavedModel.importedName {
            guard let modules = metadata["pytorch_modules"], let shapeText = metadata["input_shape"] else {
                throw ValidationError("\(url.path): an imported model needs pytorch_modules and input_shape in its metadata")
            }
            let shape = try SavedModel.shape(shapeText)
            kind = .sequential(shape)
            network = try PyTorchFormat.sequential(modules: modules)
            try network.build(inputShape: shape, device: device)
        } else {
            throw ValidationError("\(url.path) holds a '\(name)' model, which flint evaluate and predict do not rebuild")
        }
        try network.load(file)
    }

    /// Network inputs for `count` pictures of `height × width` values in [0, 1].
    func inputs(_ pixels: [Float], count: Int) -> Tensor {
        switch kind {
        case .classifier(let classifier):
            return Tensor(pixels.map { ($0 - mean) / std }, shape: [count] + classifier.inputShape(height: height, width: width), on: .cpu)
        case .autoencoder, .gan:
            return Tensor(pixels, shape: [count, height * width], on: .cpu)
        case .sequential(let shape):
            return Tensor(pixels.map { ($0 - mean) / std }, shape: [count] + shape, on: .cpu)
        case .table(let table):
            return Tensor(pixels, shape: [count, table.featureCount], on: .cpu)
        }
    }

    /// The `model` metadata of a network imported from a PyTorch module list.
    static let importedName = "pytorch-sequential"

    /// `28,28,1` as `[28, 28, 1]`.
    static func shape(_ text: String) throws -> [Int] {
        let dims = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("input shape '\(text)' is not a list of positive sizes") }
        return dims.map { $0! }
    }

    /// The dataset it was trained on, from the metadata.
    var dataset: ImageDataset? { file.metadata["dataset"].flatMap(ImageDataset.init(rawValue:)) }
}
