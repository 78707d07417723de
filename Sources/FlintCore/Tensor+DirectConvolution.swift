import FlintBackend

/// Convolution through the backend's `conv2d` and `conv2dFilterGradient` primitives on the whole
/// batch. Taken where the backend convolves without a column matrix (the CPU's product over the
/// image, `convolvesWithoutColumns`), and by default on the CPU for inputs with few channels
/// that take no gradient (an image's first layer): there im2col would build a thin column
/// matrix (K = 9 for one channel and a 3×3 kernel) that a GEMM handles badly. The input
/// gradient, when one is needed, is the backend's `conv2dInputGradient` where it runs without a
/// column gradient (`convolvesInputGradientWithoutColumns`), else the column gradient dY · Wᵀ
/// folded back by col2im, in chunks as on the chunked path.
extension Tensor {
    /// Whether `conv2d` takes the direct path (nil: the backend's choice, see
    /// `prefersDirectConvolution`). Tests set it to run the primitives on every backend.
    @TaskLocal public static var directConvolution: Bool? = nil

    /// The most input channels the CPU convolves with its few-channel kernels by default.
    static let directConvolutionChannels = 4

    /// Whether `conv2d` of this input should use the direct primitives for `geometry`.
    func prefersDirectConvolution(_ geometry: ConvGeometry) -> Bool {
        if let forced = Self.directConvolution { return forced }
        if backend.convolvesWithoutColumns(geometry) { return true }
        return backend.info.kind == .cpu && geometry.channels <= Self.directConvolutionChannels
            && !(GradMode.isEnabled && requiresGrad)
    }

    /// `activation(conv2d + bias)` of this input with `filter` through the backend's `conv2d`
    /// primitive (the bias, contiguous float32 `[filters]` as `fusableBias` gives it, and the
    /// activation applied by it); the filter's gradient through `conv2dFilterGradient`, the
    /// input's through the column gradient (see `ConvolutionChunks.inputGradient`). The output
    /// is not empty (`conv2d` sends empty ones to the plain path).
    func directConv2d(_ filter: Tensor, geometry g: ConvGeometry, bias: Tensor? = nil, activation: FusedActivation? = nil) -> Tensor {
        requireFloat("conv2d")
        let x = contiguous(), w = filter.contiguous()
        let filters = w.shape[3]
        let out = Tensor(uninitializedShape: [g.batch, g.outHeight, g.outWidth, filters], backend: backend)
        if bias == nil && activation == nil {
            backend.conv2d(x.buffer, offset: x.offset, filter: w.buffer, filterOffset: w.offset, geometry: g,
                           filters: filters, out: out.buffer)
        } else {
            backend.conv2d(x.buffer, offset: x.offset, filter: w.buffer, filterOffset: w.offset, geometry: g,
                           filters: filters, out: out.buffer,
                           epilogue: GemmEpilogue(bias: bias.map { ($0.buffer, $0.offset) }, activation: activation?.op))
        }
        // Neither gradient reads the bare convolution, so it never needs to exist.
        return recordedDirectConvolution(out, x, w, geometry: g).recordedEpilogue(values: out, bias: bias, activation: activation)
    }

    private func recordedDirectConvolution(_ out: Tensor, _ x: Tensor, _ w: Tensor, geometry g: ConvGeometry) -> Tensor {
        out.recorded("conv2d", [x, w]) { gradient in Self.directConvolutionGradients(gradient, x, w, geometry: g) }
    }

    /// The gradients of input `x` and filter `w` (contiguous) of the direct convolution `g`, from
    /// the output's gradient: the backend's filter gradient, and its input gradient where it runs
    /// without a column gradient, else the chunked column gradient.
    static func directConvolutionGradients(_ gradient: Tensor, _ x: Tensor, _ w: Tensor, geometry g: ConvGeometry) -> [Tensor?] {
        let filters = w.shape[3]
        let dy = gradient.contiguous()
        var dw: Tensor?
        if w.requiresGrad {
            let sums = Tensor(uninitializedShape: w.shape, backend: dy.backend)
            dy.backend.conv2dFilterGradient(x.buffer, offset: x.offset, gradient: dy.buffer, gradientOffset: dy.offset,
                                            geometry: g, filters: filters, out: sums.buffer)
            dw = sums
        }
        guard x.requiresGrad else { return [nil, dw] }
        if dy.backend.convolvesInputGradientWithoutColumns(g) {
            let dx = Tensor(uninitializedShape: x.shape, backend: dy.backend)
            // A ReLU's output (the layer before's fused activation): its adjoint too, image by
            // image, handed to the ReLU with its bias's sums (see ReluHandoff).
            if let handoff = x.node?.reluHandoff, x.isContiguous, x.dtype == .float32, g.channels > 0 {
                let sums = handoff.wantsColumnSums ? Tensor(uninitializedShape: [g.channels], backend: dy.backend) : nil
                dy.backend.conv2dInputGradient(dy.buffer, gradientOffset: dy.offset, filter: w.buffer, filterOffset: w.offset,
                                               geometry: g, filters: filters, reluOutput: x.buffer, reluOutputOffset: x.offset,
                                               out: dx.buffer, sums: sums?.buffer)
                handoff.offer(dx, columnSums: sums)
                return [dx, dw]
            }
            dy.backend.conv2dInputGradient(dy.buffer, gradientOffset: dy.offset, filter: w.buffer, filterOffset: w.offset,
                                           geometry: g, filters: filters, out: dx.buffer)
            return [dx, dw]
        }
        let images = Self.imagesPerConvolutionChunk(g, backend: dy.backend) ?? g.batch
        let chunks = ConvolutionChunks(x: x, w: w, geometry: g, imagesPerChunk: images)
        return [chunks.inputGradient(dy), dw]
    }
}
