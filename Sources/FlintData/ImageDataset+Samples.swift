import Foundation

extension ImageDataset {
    /// The split's images as stored, bytes of shape `28 × 28`, with their labels 0…9: ready for
    /// `fit` with no float copy of the pixels anywhere. Scale or standardise them per batch with
    /// `normalized(scale:shift:)` or `standardized(mean:standardDeviation:)` (on the device). An
    /// uncompressed file is memory-mapped; a gzipped one is decoded once into memory.
    public func samples(_ split: Split, from directory: DataDirectory = DataDirectory(),
                        access: IDXFile.Access = .automatic) throws -> IDXDataset {
        let names = ["\(split.filePrefix)-images-idx3-ubyte", "\(split.filePrefix)-labels-idx1-ubyte"]
        let urls = try directory.locate(rawValue, files: names, hint: hint)
        let data = try IDXDataset(inputs: urls[0], targets: urls[1], access: access)
        guard data.inputs.type == .uint8, data.inputs.shape.count == 3 else {
            throw DataError.corrupt(path: urls[0].path, reason: "expected bytes of shape [count, height, width], found \(data.inputs.type) \(data.inputs.shape)")
        }
        guard let labels = data.targets, labels.type == .uint8, labels.shape.count == 1 else {
            throw DataError.corrupt(path: urls[1].path, reason: "expected one byte per label, found \(data.targets.map { "\($0.type) \($0.shape)" } ?? "none")")
        }
        if let (index, label) = try data.labels().enumerated().first(where: { !(0...9).contains($0.element) }) {
            throw DataError.corrupt(path: urls[1].path, reason: "label \(index) is \(label), not a class 0…9")
        }
        return data
    }
}

extension IDXDataset {
    /// The mean and standard deviation of every input element, in units of `scale` (pass
    /// `1 / 255` for pixels in [0, 1]): what `standardized(mean:standardDeviation:)` takes.
    public func inputStatistics(scale: Double = 1) throws -> (mean: Float, standardDeviation: Float) {
        var moments = Moments()
        if let array = inputs.array {
            moments.add(array)
        } else {
            // Read from disk in chunks, never whole.
            for start in stride(from: 0, to: count, by: 4096) {
                moments.add(try inputs.rows(at: Array(start..<Swift.min(start + 4096, count))))
            }
        }
        let (mean, deviation) = moments.result
        return (Float(mean * scale), Float(deviation * scale))
    }

    /// Input `index` as Float values times `scale` (a picture to show), without a batch axis.
    public func inputValues(at index: Int, scale: Float = 1) throws -> [Float] {
        try inputs.rows(at: [index]).floats.map { $0 * scale }
    }
}
