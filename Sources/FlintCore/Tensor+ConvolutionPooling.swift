import FlintBackend

/// A max pooling window over a convolution's output, for `conv2d(_:…:maxPooling:)`.
public struct MaxPooling: Sendable {
    /// The window's height and width.
    public var size: (Int, Int)
    /// Steps between windows; the window's size when nil.
    public var strides: (Int, Int)?
    /// How the border is treated; padding never wins.
    public var padding: Padding

    /// A window of `size`, moved by `strides` (its size when nil).
    public init(size: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        (self.size, self.strides, self.padding) = (size, strides, padding)
    }
}

extension Tensor {
    /// `conv2d(filter, …, adding: bias, then: activation).maxPool2d(…)` as one op: the same values
    /// and winners, the same input gradient, and the filter's and bias's gradients up to the order
    /// of their sums. Where the backend convolves without a column matrix (the CPU's product over
    /// the image), it pools a few output rows at a time as they are computed, so the
    /// convolution's output is never stored; elsewhere it is the two ops.
    ///
    /// - Parameters:
    ///   - filter: `[kernelHeight, kernelWidth, inChannels, outChannels]`.
    ///   - strides: Steps between the convolution's windows along height and width.
    ///   - padding: How the convolution treats the border.
    ///   - dilation: Spacing between the taps of a convolution window.
    ///   - bias: One per output channel, `[outChannels]`; nil for none.
    ///   - activation: Applied to the convolution before pooling; nil for none.
    ///   - pooling: The max pooling window over the convolution's output.
    /// - Returns: `[batch, pooledHeight, pooledWidth, outChannels]`.
    public func conv2d(_ filter: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                       dilation: (Int, Int) = (1, 1), adding bias: Tensor?, then activation: FusedActivation?,
                       maxPooling pooling: MaxPooling) -> Tensor {
        func separately() -> Tensor {
            conv2d(filter, strides: strides, padding: padding, dilation: dilation, adding: bias, then: activation)
                .maxPool2d(size: pooling.size, strides: pooling.strides, padding: pooling.padding)
        }
        // A ReLU's gradient at a window's winner follows from the pooled value; other activations
        // and the checks and messages of unusual inputs take the two ops.
        guard activation == nil || activation == .relu, dtype == .float32, filter.dtype == .float32,
              rank == 4, filter.rank == 4, filter.shape[2] == shape[3], filter.shape[3] > 0,
              filter.shape[0] > 0, filter.shape[1] > 0, pooling.size.0 > 0, pooling.size.1 > 0,
              (pooling.strides ?? pooling.size).0 > 0, (pooling.strides ?? pooling.size).1 > 0,
              strides.0 > 0, strides.1 > 0, dilation.0 > 0, dilation.1 > 0 else { return separately() }
        let shift = bias.flatMap { fusableBias($0, columns: filter.shape[3]) }
        // Windows that do not fit take the two ops too, whose stops name the op and shapes.
        guard bias == nil || shift != nil,
              let convolved = WindowPlacement(height: shape[1], width: shape[2], kernel: (filter.shape[0], filter.shape[1]),
                                              strides: strides, dilation: dilation, padding: padding),
              WindowPlacement(height: convolved.outHeight, width: convolved.outWidth, kernel: pooling.size,
                              strides: pooling.strides ?? pooling.size, dilation: (1, 1), padding: pooling.padding) != nil
        else { return separately() }
        let g = windowGeometry(kernel: (filter.shape[0], filter.shape[1]), strides: strides, padding: padding,
                               dilation: dilation, op: "conv2d")
        let filters = filter.shape[3], convolvedShape = [g.batch, g.outHeight, g.outWidth, filters]
        let pool = Self.windowGeometry(of: convolvedShape, kernel: pooling.size, strides: pooling.strides ?? pooling.size,
                                       padding: pooling.padding, dilation: (1, 1), op: "maxPool2d")
        // A window wholly in padding takes no gradient; without a ReLU's mask the fused bias sums
        // would count it, so such poolings take the two ops.
        let bottom = (pool.outHeight - 1) * pool.strideHeight - pool.padTop
        let right = (pool.outWidth - 1) * pool.strideWidth - pool.padLeft
        let someWindowInPadding = pool.padTop >= pool.kernelHeight || pool.padLeft >= pool.kernelWidth
            || bottom >= g.outHeight || right >= g.outWidth
        guard g.patchCount > 0, pool.patchCount > 0, prefersDirectConvolution(g), activation == .relu || !someWindowInPadding
        else { return separately() }
        let x = contiguous(), w = filter.contiguous()
        let outputShape = [g.batch, pool.outHeight, pool.outWidth, filters]
        let values = Tensor(uninitializedShape: outputShape, backend: backend)
        let taps = Tensor(uninitializedShape: outputShape, dtype: .int32, backend: backend)
        let epilogue = shift == nil && activation == nil
            ? nil : GemmEpilogue(bias: shift.map { ($0.buffer, $0.offset) }, activation: activation?.op)
        backend.conv2dMaxPool(x.buffer, offset: x.offset, filter: w.buffer, filterOffset: w.offset, geometry: g,
                              filters: filters, epilogue: epilogue, pool: pool, out: values.buffer, taps: taps.buffer)
        return values.recorded("conv2d+maxPool2d", [x, w] + (shift.map { [$0] } ?? [])) { g2 in
            // The pooled gradient reaches each window's winner alone, whose output the pooled
            // value is: masked by `values > 0` it is, scattered, the ReLU's adjoint (as in maxPool2d).
            let masked = activation == .relu ? g2.zipped(values.detached(), .reluGradient) : g2.contiguous()
            let biasGradient = shift.map { [$0.requiresGrad ? masked.sum(axes: [0, 1, 2]) : nil] } ?? []
            let backend = g2.backend
            guard !x.requiresGrad || backend.convolvesInputGradientWithoutColumns(g) else {
                // The input's gradient from the column gradient, in chunks: the output gradient first.
                let dy = Tensor(uninitializedShape: convolvedShape, backend: backend)
                backend.maxPool2dBackward(masked.buffer, offset: masked.offset, taps: taps.buffer, geometry: pool, out: dy.buffer)
                return Self.directConvolutionGradients(dy, x, w, geometry: g) + biasGradient
            }
            let dw = w.requiresGrad ? Tensor(uninitializedShape: w.shape, backend: backend) : nil
            let dx = x.requiresGrad ? Tensor(uninitializedShape: x.shape, backend: backend) : nil
            guard dw != nil || dx != nil else { return [nil, nil] + biasGradient }
            // The input a ReLU's output: its adjoint too, handed to the ReLU (as directConvolutionGradients does).
            let handoff = dx == nil || g.channels == 0 ? nil : x.node?.reluHandoff
            let sums = handoff?.wantsColumnSums == true ? Tensor(uninitializedShape: [g.channels], backend: backend) : nil
            backend.conv2dMaxPoolBackward(masked.buffer, gradientOffset: masked.offset, taps: taps.buffer, pool: pool,
                                          input: x.buffer, offset: x.offset, filter: w.buffer, filterOffset: w.offset,
                                          geometry: g, filters: filters, filterGradient: dw?.buffer, inputGradient: dx?.buffer,
                                          reluOutput: handoff == nil ? nil : x.buffer, reluOutputOffset: x.offset,
                                          sums: sums?.buffer)
            if let handoff, let dx { handoff.offer(dx, columnSums: sums) }
            return [dx, dw] + biasGradient
        }
    }
}
