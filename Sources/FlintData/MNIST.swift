import Foundation

/// The MNIST family of 28×28 grey-level image sets, read from the original IDX files.
public enum ImageDataset: String, CaseIterable, Sendable {
    case mnist
    case fashionMNIST = "fashion-mnist"

    public enum Split: String, Sendable {
        case train
        case test

        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    public var classNames: [String] {
        switch self {
        case .mnist: (0...9).map(String.init)
        case .fashionMNIST:
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        }
    }

    var hint: String {
        switch self {
        case .mnist:
            "Put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                + "t10k-labels-idx1-ubyte.gz (the original MNIST files) in one of these folders, or pass --data-dir."
        case .fashionMNIST:
            "On Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist). "
                + "Or put the four original Fashion-MNIST IDX files in one of these folders, or pass --data-dir."
        }
    }

    /// Images scaled to [0, 1] (`count × 28 × 28`, row-major) and their labels 0…9.
    public func load(_ split: Split, from directory: DataDirectory = DataDirectory()) throws -> LabeledImages {
        let names = ["\(split.filePrefix)-images-idx3-ubyte", "\(split.filePrefix)-labels-idx1-ubyte"]
        let urls = try directory.locate(rawValue, files: names, hint: hint)
        let images = try IDXArray(contentsOf: urls[0])
        let labels = try IDXArray(contentsOf: urls[1])
        guard images.shape.count == 3 else {
            throw DataError.corrupt(path: urls[0].path, reason: "expected images of rank 3, found shape \(images.shape)")
        }
        guard labels.shape.count == 1, labels.shape[0] == images.shape[0] else {
            throw DataError.corrupt(path: urls[1].path, reason: "\(labels.shape) labels for \(images.shape[0]) images")
        }
        if let bad = labels.values.first(where: { $0 < 0 || $0 > 9 }) {
            throw DataError.corrupt(path: urls[1].path, reason: "label \(bad) is outside 0…9")
        }
        return LabeledImages(
            pixels: images.values.map { $0 / 255 }, labels: labels.values.map { Int32($0) },
            height: images.shape[1], width: images.shape[2])
    }
}

/// Grey-level images with integer class labels, on the host.
public struct LabeledImages: Sendable {
    /// `count × height × width` values in [0, 1], row-major.
    public var pixels: [Float]
    public var labels: [Int32]
    public var height: Int
    public var width: Int

    public var count: Int { labels.count }
}
