import FlintBackend

/// How a sliding window treats the border, in Keras' words.
public enum Padding: Sendable, Hashable {
    /// No padding: only windows that fit inside the image.
    case valid
    /// Pad so that the output has `ceil(input / stride)` positions (TensorFlow's rule:
    /// any odd padding goes at the bottom/right).
    case same
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
}

/// Convolution and pooling on NHWC tensors (`[batch, height, width, channels]`), Keras' layout.
/// Convolution and average pooling are an `im2col` view of the input followed by existing ops
/// (a GEMM, a sum), so autograd comes from those ops plus `im2col`'s adjoint, `col2im`. Max
/// pooling has its own primitive pair: through im2col it took 5x the time (measured at the
/// seed CNN's shapes) for columns, argmax, gather and their adjoints.
extension Tensor {
    /// 2-D convolution with `filter` of shape `[kernelHeight, kernelWidth, inChannels, outChannels]`
    /// (Keras' kernel layout). Returns `[batch, outHeight, outWidth, outChannels]`.
    public func conv2d(_ filter: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                       dilation: (Int, Int) = (1, 1)) -> Tensor {
        conv2d(filter, strides: strides, padding: padding, dilation: dilation, adding: nil, then: nil)
    }

    /// `activation(conv2d(filter) + bias)`: a layer's convolution, with the bias and a ReLU or
    /// leaky ReLU applied as each output is stored where the backend fuses them; values and
    /// gradients have the bits of the separate ops (see `matmul(_:adding:then:)`).
    ///
    /// - Parameters:
    ///   - filter: `[kernelHeight, kernelWidth, inChannels, outChannels]`.
    ///   - strides: Steps between windows along height and width.
    ///   - padding: How the border is treated.
    ///   - dilation: Spacing between the taps of a window.
    ///   - bias: One per output channel, `[outChannels]`; nil for none. Another shape that
    ///     broadcasts is added by the separate ops.
    ///   - activation: Applied last; nil for none. A leaky ReLU's slope must be positive.
    /// - Returns: `[batch, outHeight, outWidth, outChannels]`.
    public func conv2d(_ filter: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                       dilation: (Int, Int) = (1, 1), adding bias: Tensor?, then activation: FusedActivation? = nil) -> Tensor {
        guard activation?.checkFusable("conv2d(…, adding:then:)") ?? true else {
            return conv2d(filter, strides: strides, padding: padding, dilation: dilation)
        }
        guard checkArgument(rank == 4 && filter.rank == 4 && filter.shape[2] == shape[3],
                            "conv2d: input \(shape) must be [batch, height, width, channels] and filter \(filter.shape) [kh, kw, \(rank == 4 ? shape[3] : 0), out]")
        else { return .placeholder(shape, on: device) }
        // A bias the product cannot add as it stores (another shape, dtype or device) is added
        // to the finished convolution by the separate ops, on every path alike.
        let shift = bias.flatMap { fusableBias($0, columns: filter.shape[3]) }
        if bias != nil && shift == nil {
            return conv2d(filter, strides: strides, padding: padding, dilation: dilation)
                .unfusedEpilogue(bias: bias, activation: activation)
        }
        let bias = shift
        let geometry = windowGeometry(kernel: (filter.shape[0], filter.shape[1]), strides: strides, padding: padding,
                                      dilation: dilation, op: "conv2d")
        // An empty output takes the plain path (the direct primitives need a position and a filter).
        if geometry.patchCount > 0 && filter.shape[3] > 0 && prefersDirectConvolution(geometry) {
            return directConv2d(filter, geometry: geometry, bias: bias, activation: activation)
        }
        if let images = Self.imagesPerConvolutionChunk(geometry, backend: backend) {
            return chunkedConv2d(filter, geometry: geometry, imagesPerChunk: images, bias: bias, activation: activation)
        }
        let columns = unfolded(geometry, padValue: 0)
        let product = columns.matmul(filter.reshaped(to: [geometry.patchSize, filter.shape[3]]), adding: bias, then: activation)
        return product.reshaped(to: [geometry.batch, geometry.outHeight, geometry.outWidth, filter.shape[3]])
    }

    /// Max over each `size` window, per channel. Padding positions never win, NaN does (the
    /// first NaN, where PyTorch picks the last), and of equal values the first in the window does; the gradient goes to the winner alone, as in
    /// PyTorch. One pass forward (values and winning taps) and one back, on every backend.
    public func maxPool2d(size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
        requireFloat("maxPool2d")
        let geometry = windowGeometry(kernel: size, strides: strides ?? size, padding: padding, dilation: (1, 1), op: "maxPool2d")
        let source = contiguous()
        let outputShape = [geometry.batch, geometry.outHeight, geometry.outWidth, geometry.channels]
        let values = Tensor(uninitializedShape: outputShape, backend: backend)
        let taps = Tensor(uninitializedShape: outputShape, dtype: .int32, backend: backend)
        guard values.count > 0 else { return values }
        backend.maxPool2d(source.buffer, offset: source.offset, geometry: geometry, out: values.buffer, taps: taps.buffer)
        // Over a ReLU's output, the pooled gradient masked by `values > 0` is, scattered, the
        // ReLU's adjoint (see `ReluHandoff`). A window wholly in padding has no winner and takes
        // no gradient, so masking its -∞ changes nothing.
        let handoff = source.node?.reluHandoff
        return values.recorded("maxPool2d", [source]) { [shape] g in
            let input = Tensor(uninitializedShape: shape, backend: g.backend)
            let gradient = handoff.map { _ in g.zipped(values.detached(), .reluGradient) } ?? g.contiguous()
            g.backend.maxPool2dBackward(gradient.buffer, offset: gradient.offset, taps: taps.buffer, geometry: geometry,
                                        out: input.buffer)
            if let handoff {
                handoff.offer(input, columnSums: handoff.wantsColumnSums ? gradient.sum(axes: [0, 1, 2]) : nil)
            }
            return [input]
        }
    }

    /// Mean over each `size` window, per channel. With padding, the mean is over the positions
    /// inside the image (Keras' rule; PyTorch's `count_include_pad=False`).
    public func avgPool2d(size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
        let geometry = windowGeometry(kernel: size, strides: strides ?? size, padding: padding, dilation: (1, 1), op: "avgPool2d")
        let sums = unfolded(geometry, padValue: 0)
            .reshaped(to: [geometry.batch, geometry.outHeight * geometry.outWidth, size.0 * size.1, geometry.channels])
            .sum(axis: 2)
        let taps = Float(size.0 * size.1)
        let noPadding = geometry.padTop == 0 && geometry.padLeft == 0
            && (geometry.outHeight - 1) * geometry.strideHeight + size.0 <= geometry.height
            && (geometry.outWidth - 1) * geometry.strideWidth + size.1 <= geometry.width
        let means: Tensor
        if noPadding {
            means = sums / taps
        } else {
            // How many taps of each window fall inside the image: im2col of a one-channel image of ones.
            var single = geometry
            (single.batch, single.channels) = (1, 1)
            let counts = Tensor.ones([1, geometry.height, geometry.width, 1], on: device)
                .unfolded(single, padValue: 0).sum(axis: 1, keepDims: true)
            means = sums / counts.reshaped(to: [1, geometry.outHeight * geometry.outWidth, 1])
        }
        return means.reshaped(to: [geometry.batch, geometry.outHeight, geometry.outWidth, geometry.channels])
    }

    /// The `[patchCount, patchSize]` column matrix of `geometry` (see `Backend.im2col`); its
    /// gradient folds back with `col2im`.
    func unfolded(_ geometry: ConvGeometry, padValue: Float) -> Tensor {
        requireFloat("im2col")
        let source = contiguous()
        let columns = Tensor(uninitializedShape: [geometry.patchCount, geometry.patchSize], backend: backend)
        guard columns.count > 0 else { return columns }
        backend.im2col(source.buffer, offset: source.offset, geometry: geometry, padValue: padValue, out: columns.buffer)
        return columns.recorded("im2col", [source]) { [shape] g in
            let folded = Tensor(uninitializedShape: shape, backend: g.backend)
            let gradient = g.contiguous()
            g.backend.col2im(gradient.buffer, offset: gradient.offset, geometry: geometry, out: folded.buffer)
            return [folded]
        }
    }

    /// The window geometry of this NHWC tensor, or a stop naming the op and shapes.
    func windowGeometry(kernel: (Int, Int), strides: (Int, Int), padding: Padding, dilation: (Int, Int), op: String) -> ConvGeometry {
        Self.windowGeometry(of: shape, kernel: kernel, strides: strides, padding: padding, dilation: dilation, op: op)
    }

    /// The window geometry of an NHWC tensor of `shape`, or a stop naming the op and shapes.
    static func windowGeometry(of shape: [Int], kernel: (Int, Int), strides: (Int, Int), padding: Padding, dilation: (Int, Int),
                               op: String) -> ConvGeometry {
        ensure(shape.count == 4, "\(op): input must be [batch, height, width, channels], got \(shape)")
        ensure(kernel.0 > 0 && kernel.1 > 0 && strides.0 > 0 && strides.1 > 0 && dilation.0 > 0 && dilation.1 > 0,
               "\(op): window \(kernel), strides \(strides) and dilation \(dilation) must be positive")
        if case .explicit(let t, let b, let l, let r) = padding {
            ensure(t >= 0 && b >= 0 && l >= 0 && r >= 0, "\(op): padding must not be negative, got \(padding)")
        }
        let (height, width) = (shape[1], shape[2])
        guard let placement = WindowPlacement(height: height, width: width, kernel: kernel, strides: strides,
                                              dilation: dilation, padding: padding) else {
            fatalError("\(op): a \(kernel) window with dilation \(dilation) does not fit input \(shape) with \(padding) padding")
        }
        return ConvGeometry(batch: shape[0], height: height, width: width, channels: shape[3],
                            kernelHeight: kernel.0, kernelWidth: kernel.1, strideHeight: strides.0, strideWidth: strides.1,
                            dilationHeight: dilation.0, dilationWidth: dilation.1, padTop: placement.padTop,
                            padLeft: placement.padLeft, outHeight: placement.outHeight, outWidth: placement.outWidth)
    }
}
