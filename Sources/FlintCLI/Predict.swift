import ArgumentParser
import Flint
import Foundation

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify pictures with saved weights (or draw samples from a saved GAN).",
        discussion: """
            Inputs: an IDX file of images (gzipped or not), a CSV file with one picture per row (height × width \
            values in 0…255, optionally after a label column), or PNG/PGM pictures of the model's size (grey or colour, \
            light strokes on dark as in MNIST). Prints each picture's class and probability; --json prints one JSON \
            line per picture with every class's probability.
            """
    )

    @Option(help: "Weights saved by flint train --save (mlp, cnn, gru, lstm, gan).")
    var weights: String

    @Argument(help: "IDX, CSV, PNG or PGM files.")
    var inputs: [String] = []

    @Option(help: "How many of the most likely classes to print per picture.")
    var top = 1

    @Option(help: "cpu, opencl or opencl:N (default: FLINT_DEVICE, else an OpenCL GPU, else cpu).")
    var device: String?

    @Option(help: "GAN: how many samples to draw.")
    var samples = 64

    @Option(help: "GAN: the picture to write the samples to.")
    var output = "flint-output/samples.png"

    @Option(help: "GAN: seed of the noise.")
    var seed: UInt64 = 0

    @Flag(help: "One JSON line per picture.")
    var json = false

    @Flag(help: "With --json: add the network's raw outputs (logits) to each line.")
    var logits = false

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1") }
    }

    func run() throws {
        let target = try chooseDevice(device)
        let saved = try SavedModel(URL(fileURLWithPath: weights), device: target)
        switch saved.kind {
        case .gan(let latent):
            let images = try saved.network.predict(Tensor.normal([samples, latent], seed: seed, on: target))
            try ImageGrid.write(images.reshaped(to: [samples, saved.height, saved.width]), columns: 8, range: -1...1,
                                to: URL(fileURLWithPath: output))
            print("Wrote \(samples) samples to \(output)")
            return
        case .autoencoder:
            throw ValidationError("predict classifies pictures; the autoencoder's reconstructions are drawn by flint train --model autoencoder")
        case .table(let table):
            return try predictRows(table)
        case .classifier, .sequential:
            break
        }
        guard !inputs.isEmpty else { throw ValidationError("give at least one IDX, CSV, PNG or PGM file to classify") }
        let classes = (saved.dataset ?? .mnist).classNames
        for path in inputs {
            let pictures = try readPictures(path, height: saved.height, width: saved.width)
            let count = pictures.pixels.count / (saved.height * saved.width)
            guard count > 0 else { continue }
            let outputs = try saved.network.predict(saved.inputs(pictures.pixels, count: count), batchSize: 256)
            let raw = logits ? outputs.toArray() : []
            let probabilities = Tensor.withoutGrad { outputs.softmax(axis: -1) }.toArray()
            let width = probabilities.count / count
            for index in 0..<count {
                let row = Array(probabilities[(index * width)..<((index + 1) * width)])
                let ranked = row.indices.sorted { row[$0] > row[$1] }
                let name = count == 1 ? path : "\(path)[\(index)]"
                if json {
                    var object: [String: Any] = ["input": path, "index": index, "class": ranked[0],
                                                 "name": ranked[0] < classes.count ? classes[ranked[0]] : String(ranked[0]),
                                                 "probabilities": row.map(Double.init)]
                    if let label = pictures.labels?[index] { object["label"] = label }
                    if logits { object["logits"] = raw[(index * width)..<((index + 1) * width)].map(Double.init) }
                    try printJSONLine(object)
                } else {
                    let guesses = ranked.prefix(top).map { String(format: "%@ %.3f", $0 < classes.count ? classes[$0] : String($0), row[$0]) }
                    let label = pictures.labels.map { "  (label \($0[index]))" } ?? ""
                    print("\(name): \(guesses.joined(separator: ", "))\(label)")
                }
            }
        }
    }

    /// The pictures of one input file, as `count × height × width` values in [0, 1], with labels
    /// where the file has them (IDX has none here; a CSV's first column when there is one more).
    func readPictures(_ path: String, height: Int, width: Int) throws -> (pixels: [Float], labels: [Int]?) {
        let url = URL(fileURLWithPath: path)
        let lower = path.lowercased()
        let size = height * width
        if lower.hasSuffix(".png") || lower.hasSuffix(".pgm") {
            let image = try ImageFile.read(contentsOf: url)
            guard image.height == height, image.width == width else {
                throw ValidationError("\(path) is \(image.width)×\(image.height); the model takes \(width)×\(height) pictures")
            }
            return (image.pixels, nil)
        }
        if lower.hasSuffix(".csv") || lower.hasSuffix(".csv.gz") {
            // A header row is recognised by a first field that is not a number.
            var table = try CSVTable(contentsOf: url, hasHeader: false)
            if let first = table.rows.first?.first, Float(first.trimmingCharacters(in: .whitespaces)) == nil {
                table = try CSVTable(contentsOf: url, hasHeader: true)
            }
            guard table.columnCount == size || table.columnCount == size + 1 else {
                throw ValidationError("\(path) has \(table.columnCount) columns; expected \(size) pixel values per row (or a label and \(size))")
            }
            let labelled = table.columnCount == size + 1
            let values = try table.features(columns: 0..<table.columnCount)
            var pixels: [Float] = [], labels: [Int] = []
            pixels.reserveCapacity(table.rowCount * size)
            for row in 0..<table.rowCount {
                let fields = values[(row * table.columnCount)..<((row + 1) * table.columnCount)]
                if labelled { labels.append(Int(fields.first!)) }
                pixels += fields.dropFirst(labelled ? 1 : 0).map { Swift.min(Swift.max($0, 0), 255) / 255 }
            }
            return (pixels, labelled ? labels : nil)
        }
        let array = try IDXArray(contentsOf: url)
        guard array.shape.count == 3, array.shape[1] == height, array.shape[2] == width else {
            throw ValidationError("\(path) holds an array of shape \(array.shape); expected [count, \(height), \(width)] images")
        }
        let maximum = Swift.max(array.values.max() ?? 1, 1)
        return (array.values.map { $0 / (maximum > 1 ? 255 : 1) }, nil)
    }

    /// Classifies the feature rows of CSV files (the model's feature count per row, or one more:
    /// a label, first or last, as in scikit-learn's files).
    func predictRows(_ table: TableModel) throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one CSV file of feature rows") }
        for path in inputs {
            var csv = try CSVTable(contentsOf: URL(fileURLWithPath: path), hasHeader: false)
            if let first = csv.rows.first?.first, Float(first.trimmingCharacters(in: .whitespaces)) == nil {
                csv = try CSVTable(contentsOf: URL(fileURLWithPath: path), hasHeader: true)
            }
            let features = table.featureCount
            guard csv.columnCount == features || csv.columnCount == features + 1 else {
                throw ValidationError("\(path) has \(csv.columnCount) columns; the model takes \(features) features per row (or a label and \(features))")
            }
            // A label column is the last (scikit-learn's layout).
            let rows = try csv.features(columns: 0..<features)
            let labels = csv.columnCount > features ? try csv.features(columns: [features]).map { Int($0) } : nil
            let probabilities = try table.probabilities(rows)
            let width = probabilities.count / Swift.max(csv.rowCount, 1)
            for row in 0..<csv.rowCount {
                let scores = Array(probabilities[(row * width)..<((row + 1) * width)])
                let ranked = scores.indices.sorted { scores[$0] > scores[$1] }
                func name(_ index: Int) -> String { index < table.classes.count ? table.classes[index] : String(index) }
                if json {
                    var object: [String: Any] = ["input": path, "index": row, "class": ranked[0], "name": name(ranked[0]),
                                                 "probabilities": scores.map(Double.init)]
                    if let labels { object["label"] = labels[row] }
                    try printJSONLine(object)
                } else {
                    let guesses = ranked.prefix(top).map { String(format: "%@ %.3f", name($0), scores[$0]) }
                    print("\(path)[\(row)]: \(guesses.joined(separator: ", "))" + (labels.map { "  (label \($0[row]))" } ?? ""))
                }
            }
        }
    }
}
