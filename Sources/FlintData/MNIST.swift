import Foundation

/// The MNIST family of 28×28 grey-level image sets, read from the original IDX files.
public enum ImageDataset: String, CaseIterable, Sendable {
    /// Handwritten digits.
    case mnist
    /// Zalando's clothing images.
    case fashionMNIST = "fashion-mnist"

    /// The 60,000 training or 10,000 test images.
    public enum Split: String, Sendable {
        /// The training images.
        case train
        /// The test images.
        case test

        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// The names of the ten classes, in label order.
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

    /// Side of every image in the family, in pixels.
    public static let imageSide = 28

    /// Images scaled to [0, 1] (`count × 28 × 28`, row-major) and their labels 0…9.
    ///
    /// Both splits come from the same folder, which must hold all four files (see
    /// `DataDirectory`). Throws `DataError` for a file that is not a set of 28×28 images with as
    /// many whole-number labels in 0…9, or whose pixels are not finite.
    public func load(_ split: Split, from directory: DataDirectory = DataDirectory()) throws -> LabeledImages {
        let all = [Split.train, .test].flatMap { ["\($0.filePrefix)-images-idx3-ubyte", "\($0.filePrefix)-labels-idx1-ubyte"] }
        let urls = try directory.locate(rawValue, files: all, hint: hint)
        let (imagesURL, labelsURL) = split == .train ? (urls[0], urls[1]) : (urls[2], urls[3])
        let images = try IDXArray(contentsOf: imagesURL)
        let labels = try IDXArray(contentsOf: labelsURL)
        let side = Self.imageSide
        guard images.shape.count == 3, images.shape[1] == side, images.shape[2] == side else {
            throw DataError.corrupt(path: imagesURL.path, reason: "expected \(side)×\(side) images (shape [count, \(side), \(side)]), found shape \(images.shape)")
        }
        guard images.shape[0] > 0 else { throw DataError.corrupt(path: imagesURL.path, reason: "it holds no images") }
        guard labels.shape.count == 1, labels.shape[0] == images.shape[0] else {
            throw DataError.corrupt(path: labelsURL.path, reason: "\(labels.shape) labels for \(images.shape[0]) images")
        }
        // `contains` is false for NaN, so a NaN label is caught here rather than trapping in Int32(_:).
        if let index = labels.values.firstIndex(where: { !(0...9).contains($0) || $0 != $0.rounded() }) {
            throw DataError.corrupt(path: labelsURL.path, reason: "label \(index) is \(labels.values[index]), not a class 0…9")
        }
        if let index = images.values.firstIndex(where: { !$0.isFinite }) {
            let pixels = side * side
            throw DataError.corrupt(
                path: imagesURL.path,
                reason: "image \(index / pixels), pixel (\(index % pixels / side), \(index % side)) is \(images.values[index]), not a finite number")
        }
        return LabeledImages(
            pixels: images.values.map { $0 / 255 }, labels: labels.values.map { Int32($0) }, height: side, width: side)
    }
}

/// Grey-level images with integer class labels, on the host.
public struct LabeledImages: Sendable {
    /// `count × height × width` values in [0, 1], row-major.
    public var pixels: [Float]
    /// One class label per image.
    public var labels: [Int32]
    /// Image height in pixels.
    public var height: Int
    /// Image width in pixels.
    public var width: Int

    /// The number of images.
    public var count: Int { labels.count }
}
