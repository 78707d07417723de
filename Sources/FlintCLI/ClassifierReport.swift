import Flint
import Foundation

/// What `flint train` shows about a trained image classifier beyond its accuracy: the test
/// set's confusion matrix and per-class precision, recall and F1 (printed; drawn with
/// `--confusion FILE`), a grid of misclassified test images captioned "true as predicted", and
/// the first layer's weights as pictures (convolution filters, or each first dense unit's
/// weights over the image). Grids go to the output folder and, with `--tensorboard`, to
/// TensorBoard's Images tab.
enum ClassifierReport {
    /// Misclassified test images shown (5 rows of 8).
    static let misclassifiedShown = 40
    /// First-layer units or filters shown.
    static let unitsShown = 32

    static func run(_ network: Sequential, name: String, dataset: ImageDataset, test: IDXDataset, inputs: some SampleDataset,
                    batchSize: Int, context: TrainContext) throws -> [String: Any] {
        let predicted = try network.predict(inputs, batchSize: batchSize).argmax(axis: 1).toInt32Array()
        let labels = try test.labels()
        let matrix = try ConfusionMatrix(predicted: predicted, actual: labels, classCount: network.outputShape?.last ?? 0,
                                         classNames: dataset == .mnist ? nil : dataset.classNames)
        print(matrix.table)
        print(matrix.report)

        var results: [String: Any] = ["macro_f1": matrix.average(weighted: false).f1]
        var pictures: [(tag: String, image: PixelImage, url: URL)] = []
        let (height, width) = (test.inputs.shape[1], test.inputs.shape[2])
        let wrong = (0..<test.count).filter { predicted[$0] != labels[$0] }.prefix(misclassifiedShown)
        if !wrong.isEmpty {
            let images = try wrong.map { try test.inputValues(at: $0, scale: 1 / 255) }
            let grid = try ImageGrid.image(images, height: height, width: width, columns: 8, scale: 2,
                                           captions: wrong.map { "\(labels[$0]) as \(predicted[$0])" })
            pictures.append(("misclassified", grid, context.outputDirectory.appendingPathComponent("\(name)-misclassified.png")))
        }
        if let (weights, tileHeight, tileWidth, scale) = firstLayerWeights(network, imageHeight: height, imageWidth: width) {
            let grid = try ImageGrid.image(weights, height: tileHeight, width: tileWidth, columns: 8, range: -1...1, scale: scale, separator: 1)
            pictures.append(("first_layer", grid, context.outputDirectory.appendingPathComponent("\(name)-first-layer.png")))
        }
        for picture in pictures {
            try PNG.write(picture.image, to: picture.url)
            results["\(picture.tag)_picture"] = picture.url.path
        }
        if let url = context.watchers.confusionFile {
            try matrix.write(to: url)
            results["confusion_picture"] = url.path
        }
        if let board = context.watchers.tensorBoard {
            for picture in pictures { try board.addImage(picture.image, tag: picture.tag, step: context.epochs) }
            try board.addImage(matrix.image(), tag: "confusion_matrix", step: context.epochs)
        }
        let written = pictures.map(\.url.path) + (context.watchers.confusionFile.map { [$0.path] } ?? [])
        print("Wrote " + written.joined(separator: ", ") + " (captions: true class as predicted; weights: mid-grey is 0)")
        return results
    }

    /// The first layer's weights as small images, each scaled to [-1, 1] by its largest
    /// magnitude so its pattern shows: a Conv2D's filters on one input channel, or a Dense
    /// layer's weights from each pixel of a flattened image. Nil for other first layers.
    static func firstLayerWeights(_ network: Sequential, imageHeight: Int, imageWidth: Int)
        -> (images: [[Float]], height: Int, width: Int, scale: Int)? {
        guard let layer = network.layers.first(where: { !$0.parameters.isEmpty }) else { return nil }
        func normalised(_ image: [Float]) -> [Float] {
            let largest = image.map(abs).max() ?? 0
            return largest > 0 ? image.map { $0 / largest } : image
        }
        if let conv = layer as? Conv2D, conv.kernel.value.shape[2] == 1 {
            // Kernel [kh, kw, 1, filters]: filter f is every filters-th value from f.
            let shape = conv.kernel.value.shape, values = conv.kernel.value.toArray()
            let (height, width, filters) = (shape[0], shape[1], shape[3])
            let images = (0..<min(filters, unitsShown)).map { f in normalised((0..<(height * width)).map { values[$0 * filters + f] }) }
            return (images, height, width, max(1, 48 / max(height, width)))
        }
        if let dense = layer as? Dense, dense.kernel.value.shape[0] == imageHeight * imageWidth {
            // Kernel [pixels, units]: unit u's weights are column u.
            let units = dense.kernel.value.shape[1], values = dense.kernel.value.toArray()
            let images = (0..<min(units, unitsShown)).map { u in normalised((0..<(imageHeight * imageWidth)).map { values[$0 * units + u] }) }
            return (images, imageHeight, imageWidth, 2)
        }
        return nil
    }
}
