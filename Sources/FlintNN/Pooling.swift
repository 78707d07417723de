import FlintCore

/// What the pooling layers share: a window, its strides and padding, and the shape check.
public class Pooling2D: Layer {
    /// The window's height and width.
    public let poolSize: (Int, Int)
    /// Steps between window positions (the pool size unless given).
    public let strides: (Int, Int)
    /// How the border is treated.
    public let padding: Padding

    init(poolSize: (Int, Int), strides: (Int, Int)?, padding: Padding) {
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
    }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        try pooledShape(inputShape, layer: typeName, poolSize: poolSize, strides: strides, padding: padding)
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        fatalError("\(typeName) must override forward(_:training:)")
    }
}

/// Max over `poolSize` windows of `(height, width, channels)` samples; strides default to the pool size.
public final class MaxPool2D: Pooling2D {
    /// Max pooling.
    ///
    /// - Parameters:
    ///   - poolSize: The window's height and width.
    ///   - strides: Steps between windows; the pool size when nil.
    ///   - padding: How the border is treated; padding never wins.
    public override init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        super.init(poolSize: poolSize, strides: strides, padding: padding)
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        input.maxPool2d(size: poolSize, strides: strides, padding: padding)
    }
}

/// Mean over `poolSize` windows; with padding, over the positions inside the image (Keras).
public final class AvgPool2D: Pooling2D {
    /// Average pooling.
    ///
    /// - Parameters:
    ///   - poolSize: The window's height and width.
    ///   - strides: Steps between windows; the pool size when nil.
    ///   - padding: How the border is treated; averages count only positions inside the image.
    public override init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        super.init(poolSize: poolSize, strides: strides, padding: padding)
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        input.avgPool2d(size: poolSize, strides: strides, padding: padding)
    }
}

/// What the global pooling layers share: `(height, width, channels)` → `(channels)`.
public class GlobalPooling2D: Layer {
    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 3, inputShape[0] > 0, inputShape[1] > 0 else {
            throw ModelError.incompatibleShape(layer: typeName, inputShape: inputShape, reason: "needs (height, width, channels) samples")
        }
        return [inputShape[2]]
    }
}

/// The mean of each channel over all positions: `(height, width, channels)` → `(channels)`.
public final class GlobalAveragePooling2D: GlobalPooling2D {
    public override init() {}
    public override func forward(_ input: Tensor, training: Bool) -> Tensor { input.mean(axes: [1, 2]) }
}

/// The maximum of each channel over all positions: `(height, width, channels)` → `(channels)`.
/// The gradient goes to the first position holding the maximum, as for max pooling.
public final class GlobalMaxPooling2D: GlobalPooling2D {
    public override init() {}
    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        input.maxPool2d(size: (input.shape[1], input.shape[2])).reshaped(to: [input.shape[0], input.shape[3]])
    }
}

private func pooledShape(_ inputShape: [Int], layer: String, poolSize: (Int, Int), strides: (Int, Int), padding: Padding) throws -> [Int] {
    guard inputShape.count == 3 else {
        throw ModelError.incompatibleShape(layer: layer, inputShape: inputShape, reason: "needs (height, width, channels) samples")
    }
    guard let out = WindowPlacement(height: inputShape[0], width: inputShape[1], kernel: poolSize, strides: strides,
                                    dilation: (1, 1), padding: padding) else {
        throw ModelError.incompatibleShape(layer: layer, inputShape: inputShape, reason: "a \(poolSize) window does not fit")
    }
    return [out.outHeight, out.outWidth, inputShape[2]]
}
