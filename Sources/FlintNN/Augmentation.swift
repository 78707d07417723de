import FlintCore

/// Where augmentation layers take pixels that fall outside the image (Keras' `fill_mode`),
/// shown for a row `a b c d`.
public enum FillMode: Sendable, Hashable {
    /// `d c b a | a b c d | d c b a`: mirrored about the outer edge of the border pixel.
    case reflect
    /// `a b c d | a b c d | a b c d`
    case wrap
    /// `a a a a | a b c d | d d d d`
    case nearest
    /// A constant value everywhere outside.
    case constant(Float)

    /// The source coordinate for `position` on an axis of `length`, or nil for the constant.
    func source(_ position: Int, length: Int) -> Int? {
        if position >= 0 && position < length { return position }
        switch self {
        case .constant:
            return nil
        case .nearest:
            return Swift.min(Swift.max(position, 0), length - 1)
        case .wrap:
            let r = position % length
            return r < 0 ? r + length : r
        case .reflect:
            let period = 2 * length
            var r = position % period
            if r < 0 { r += period }
            return r < length ? r : period - 1 - r
        }
    }
}

/// Randomly shifts each training image by whole pixels, up to `heightFactor` of its height
/// and `widthFactor` of its width each way (Keras `RandomTranslation` with nearest
/// interpolation; a positive shift moves the content down or right). Identity in evaluation.
/// Takes `[height, width, channels]` samples.
public final class RandomTranslation: Layer {
    /// Lower and upper shift, as fractions of the height, in [-1, 1].
    public let heightBounds: (lower: Float, upper: Float)
    /// Lower and upper shift, as fractions of the width, in [-1, 1].
    public let widthBounds: (lower: Float, upper: Float)
    /// What fills the pixels shifted in.
    public let fillMode: FillMode
    private var generator: RandomGenerator?

    /// Shifts of up to `heightFactor` and `widthFactor` (non-negative fractions of the image
    /// size) either way.
    public convenience init(heightFactor: Float, widthFactor: Float, fillMode: FillMode = .reflect) {
        self.init(heightBounds: (-heightFactor, heightFactor), widthBounds: (-widthFactor, widthFactor), fillMode: fillMode)
    }

    /// Shifts drawn uniformly between each pair of bounds (fractions of the image size).
    public init(heightBounds: (lower: Float, upper: Float), widthBounds: (lower: Float, upper: Float),
                fillMode: FillMode = .reflect) {
        self.heightBounds = heightBounds
        self.widthBounds = widthBounds
        self.fillMode = fillMode
    }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        try checkImageShape(inputShape, layer: typeName)
        for (axis, bounds) in [("height", heightBounds), ("width", widthBounds)]
        where !(bounds.lower >= -1 && bounds.lower <= bounds.upper && bounds.upper <= 1) {
            throw ModelError.incompatibleShape(layer: typeName, inputShape: inputShape,
                                               reason: "\(axis) shifts must satisfy -1 ≤ lower ≤ upper ≤ 1, got \(bounds)")
        }
        generator = context.generator
        return inputShape
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        guard training, input.count > 0 else { return input }
        let (height, width) = (input.shape[1], input.shape[2])
        let draws = drawUniforms(2 * input.shape[0], generator: generator)
        func shift(_ u: Float, _ bounds: (lower: Float, upper: Float), _ length: Int) -> Int {
            Int(((bounds.lower + u * (bounds.upper - bounds.lower)) * Float(length)).rounded())
        }
        let shifts = (0..<input.shape[0]).map {
            (shift(draws[2 * $0], heightBounds, height), shift(draws[2 * $0 + 1], widthBounds, width))
        }
        return remapPixels(input, fillMode: fillMode) { n, y, x in
            guard let sourceY = fillMode.source(y - shifts[n].0, length: height),
                  let sourceX = fillMode.source(x - shifts[n].1, length: width) else { return nil }
            return (sourceY, sourceX)
        }
    }
}

/// Randomly mirrors each training image, each allowed axis with probability ½ (Keras
/// `RandomFlip`). Identity in evaluation. Takes `[height, width, channels]` samples.
public final class RandomFlip: Layer {
    /// Which axes may be mirrored.
    public enum Mode: Sendable, Hashable {
        /// Left–right, up–down, or either.
        case horizontal, vertical, horizontalAndVertical
    }

    /// Which axes may be mirrored.
    public let mode: Mode
    private var generator: RandomGenerator?

    /// Random flips along `mode`'s axes.
    ///
    /// - Parameter mode: Which axes may be mirrored.
    public init(_ mode: Mode = .horizontalAndVertical) {
        self.mode = mode
    }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        try checkImageShape(inputShape, layer: typeName)
        generator = context.generator
        return inputShape
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        guard training, input.count > 0 else { return input }
        let (height, width) = (input.shape[1], input.shape[2])
        let draws = drawUniforms(2 * input.shape[0], generator: generator)
        let flipsRows = mode != .horizontal, flipsColumns = mode != .vertical
        return remapPixels(input, fillMode: .nearest) { n, y, x in
            (flipsRows && draws[2 * n] < 0.5 ? height - 1 - y : y, flipsColumns && draws[2 * n + 1] < 0.5 ? width - 1 - x : x)
        }
    }
}

private func checkImageShape(_ shape: [Int], layer: String) throws {
    guard shape.count == 3 else {
        throw ModelError.incompatibleShape(layer: layer, inputShape: shape, reason: "expects [height, width, channels] images")
    }
}

/// `count` uniforms in [0, 1) from the layer's Philox stream, computed on the host (they
/// steer host-built indices), advancing the generator as a device draw would.
private func drawUniforms(_ count: Int, generator: RandomGenerator?) -> [Float] {
    let generator = generator ?? RandomGenerator(seed: 0)
    let blocks = (count + 3) / 4
    let first = generator.reserve(blocks: blocks)
    var values: [Float] = []
    values.reserveCapacity(blocks * 4)
    for b in 0..<blocks {
        let words = Philox.block(first &+ UInt64(b), seed: generator.seed)
        for word in [words.0, words.1, words.2, words.3] { values.append(Philox.unitFloat(word)) }
    }
    return values
}

/// Moves whole pixels of the NHWC batch `input`: output pixel `(y, x)` of image `n` is input
/// pixel `source(n, y, x)` of the same image, or `fillMode`'s constant where that is nil. One
/// row gather on the device; the indices are built on the host, one per pixel (Int32 is
/// enough: a tensor holds fewer than 2^31 elements).
private func remapPixels(_ input: Tensor, fillMode: FillMode, _ source: (Int, Int, Int) -> (Int, Int)?) -> Tensor {
    let (batch, height, width, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    var indices = [Int32](repeating: 0, count: batch * height * width)
    var inside = [Float](repeating: 1, count: indices.count)
    var anyOutside = false
    for n in 0..<batch {
        for y in 0..<height {
            for x in 0..<width {
                let pixel = (n * height + y) * width + x
                if let (sourceY, sourceX) = source(n, y, x) {
                    indices[pixel] = Int32((n * height + sourceY) * width + sourceX)
                } else {
                    indices[pixel] = Int32(pixel)
                    inside[pixel] = 0
                    anyOutside = true
                }
            }
        }
    }
    let device = input.device
    let rows = input.reshaped(to: [batch * height * width, channels])
        .indexSelect(axis: 0, indices: Tensor(int32: indices, shape: [indices.count], on: device))
    var output = rows
    if anyOutside, case .constant(let value) = fillMode {
        // A select, not a product with the mask: 0 · inf would leave NaN where the fill goes.
        let mask = Tensor(inside, shape: [indices.count, 1], on: device) .> 0.5
        output = Tensor.where(mask, rows, Tensor.full([1], value: value, on: device))
    }
    return output.reshaped(to: input.shape)
}
