import FlintBackend

/// Convolution through the backend's `conv2d` primitive, for inputs with few channels (an
/// image's first layer) that take no gradient. There im2col would build a thin column matrix
/// (K = 9 for one channel and a 3×3 kernel) that a GEMM handles badly, and the input gradient,
/// the one part a direct kernel would make hard, is not needed.
extension Tensor {
    /// Whether `conv2d` takes the direct path where it may (nil: the backend's default, on for
    /// the CPU when the input has at most `directConvolutionChannels` channels). Tests set it
    /// to run the primitive on every backend.
    @TaskLocal public static var directConvolution: Bool? = nil

    /// The most input channels the CPU convolves directly by default.
    static let directConvolutionChannels = 4

    /// Whether `conv2d` of this input should use the direct primitive for `geometry`.
    func prefersDirectConvolution(_ geometry: ConvGeometry) -> Bool {
        guard !(GradMode.isEnabled && requiresGrad) else { return false }
        return Self.directConvolution
            ?? (backend.info.kind == .cpu && geometry.channels <= Self.directConvolutionChannels)
    }

    /// `activation(conv2d + bias)` of this input, which takes no gradient, with `filter` through
    /// the backend's `conv2d` primitive (the bias, contiguous float32 `[filters]` as `fusableBias`
    /// gives it, and the activation applied by it); the filter's gradient through `conv2dFilterGradient`.
    func directConv2d(_ filter: Tensor, geometry g: ConvGeometry, bias: Tensor? = nil, activation: FusedActivation? = nil) -> Tensor {
        requireFloat("conv2d")
        let x = contiguous(), w = filter.contiguous()
        let filters = w.shape[3]
        let out = Tensor(uninitializedShape: [g.batch, g.outHeight, g.outWidth, filters], backend: backend)
        guard out.count > 0 else { return out }
        if bias == nil && activation == nil {
            backend.conv2d(x.buffer, offset: x.offset, filter: w.buffer, filterOffset: w.offset, geometry: g,
                           filters: filters, out: out.buffer)
        } else {
            backend.conv2d(x.buffer, offset: x.offset, filter: w.buffer, filterOffset: w.offset, geometry: g,
                           filters: filters, out: out.buffer,
                           epilogue: GemmEpilogue(bias: bias.map { ($0.buffer, $0.offset) }, activation: activation?.op))
        }
        // The filter gradient never reads the bare convolution, so it never needs to exist.
        return recordedDirectConvolution(out, x, w, geometry: g).recordedEpilogue(values: out, bias: bias, activation: activation)
    }

    private func recordedDirectConvolution(_ out: Tensor, _ x: Tensor, _ w: Tensor, geometry g: ConvGeometry) -> Tensor {
        let filters = w.shape[3]
        return out.recorded("conv2d", [w]) { gradient in
            let dy = gradient.contiguous()
            let dw = Tensor(uninitializedShape: w.shape, backend: dy.backend)
            dy.backend.conv2dFilterGradient(x.buffer, offset: x.offset, gradient: dy.buffer, gradientOffset: dy.offset,
                                            geometry: g, filters: filters, out: dw.buffer)
            return [dw]
        }
    }
}
