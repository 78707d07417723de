/// Where a sliding window's positions fall on an image: the padding before the first row and
/// column, and how many positions fit down and across.
///
/// The one derivation of a window's output size: the convolution and pooling ops build their
/// `ConvGeometry` from it, and layers check shapes with it when a model is built, so the two
/// can never disagree.
public struct WindowPlacement: Sendable, Hashable {
    /// Rows of padding above the image.
    public let padTop: Int
    /// Columns of padding left of the image.
    public let padLeft: Int
    /// Window positions down the image.
    public let outHeight: Int
    /// Window positions across the image.
    public let outWidth: Int

    /// The placement of a `kernel` window moved by `strides`, its taps `dilation` apart.
    ///
    /// - Parameters:
    ///   - height: The image's height.
    ///   - width: The image's width.
    ///   - kernel: The window's height and width, in taps.
    ///   - strides: The steps between window positions, down and across.
    ///   - dilation: The distance between neighbouring taps (1: adjacent).
    ///   - padding: How the border is treated.
    /// - Returns: `nil` when a window size, stride or dilation is not positive, a padding is
    ///   negative, or no window position fits.
    public init?(height: Int, width: Int, kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int), padding: Padding) {
        guard kernel.0 > 0, kernel.1 > 0, strides.0 > 0, strides.1 > 0, dilation.0 > 0, dilation.1 > 0 else { return nil }
        let span = (dilation.0 * (kernel.0 - 1) + 1, dilation.1 * (kernel.1 - 1) + 1)
        /// Positions along one axis of `size` padded by `padding` in all.
        func positions(_ size: Int, padding: Int, span: Int, stride: Int) -> Int {
            size + padding < span ? 0 : (size + padding - span) / stride + 1
        }
        switch padding {
        case .valid:
            (padTop, padLeft) = (0, 0)
            outHeight = positions(height, padding: 0, span: span.0, stride: strides.0)
            outWidth = positions(width, padding: 0, span: span.1, stride: strides.1)
        case .same:
            // TensorFlow's rule: ceil(size / stride) positions, any odd padding at the bottom/right.
            outHeight = (height + strides.0 - 1) / strides.0
            outWidth = (width + strides.1 - 1) / strides.1
            padTop = Swift.max((outHeight - 1) * strides.0 + span.0 - height, 0) / 2
            padLeft = Swift.max((outWidth - 1) * strides.1 + span.1 - width, 0) / 2
        case .explicit(let top, let bottom, let left, let right):
            guard top >= 0, bottom >= 0, left >= 0, right >= 0 else { return nil }
            (padTop, padLeft) = (top, left)
            outHeight = positions(height, padding: top + bottom, span: span.0, stride: strides.0)
            outWidth = positions(width, padding: left + right, span: span.1, stride: strides.1)
        }
        guard outHeight > 0, outWidth > 0 else { return nil }
    }
}
