import FlintBackend
import Foundation

/// Convolution in chunks of whole images, so the im2col columns stay in cache.
///
/// The plain path makes one `[patchCount, patchSize]` column matrix for the whole batch: for the
/// second layer of Keras' MNIST convnet at batch 128 that is 85 MB, written by im2col and read by
/// the forward product, read again for the weight gradient, and matched by an 85 MB input
/// gradient that col2im reads back: every pass goes to DRAM. Here the columns of a few images at
/// a time live in one small scratch buffer that is reused: forward, im2col then one GEMM into
/// the output rows of those images; backward, im2col again (cheaper than keeping 85 MB) for the
/// weight gradient, accumulated over chunks, and the input gradient's columns folded by col2im
/// chunk by chunk. Same primitives, so every backend runs it; only where it pays (the CPU) does a
/// large convolution take it by default.
extension Tensor {
    /// Bytes of im2col columns one chunk may hold (nil: the backend's default, 4 MiB on the CPU,
    /// unchunked elsewhere). Tests set it small to run the chunked path on small shapes.
    @TaskLocal public static var convolutionColumnBudget: Int? = nil

    /// `FLINT_CONV_COLUMN_BYTES` overrides the CPU default (for measuring; 0 turns chunking off).
    private static let columnBytesFromEnvironment: Int? =
        ProcessInfo.processInfo.environment["FLINT_CONV_COLUMN_BYTES"].flatMap(Int.init)

    /// Images per chunk for `geometry`, or nil when the whole batch fits one chunk (the plain path).
    static func imagesPerConvolutionChunk(_ geometry: ConvGeometry, backend: any Backend) -> Int? {
        let budget = convolutionColumnBudget
            ?? (backend.info.kind == .cpu ? (columnBytesFromEnvironment ?? 4 << 20) : 0)
        guard budget > 0 else { return nil }
        let bytesPerImage = geometry.outHeight * geometry.outWidth * geometry.patchSize * 4
        let images = Swift.max(1, budget / Swift.max(bytesPerImage, 1))
        return images < geometry.batch ? images : nil
    }

    /// `activation(conv2d + bias)` of this contiguous-or-not NHWC input with `filter`
    /// (`[kh, kw, in, out]`), `images` at a time, the bias and activation applied by each chunk's
    /// product (see `matmul(_:adding:then:)`; `bias` as `fusableBias` gives it). Gradients flow to
    /// every operand.
    func chunkedConv2d(_ filter: Tensor, geometry g: ConvGeometry, imagesPerChunk: Int,
                       bias: Tensor? = nil, activation: FusedActivation? = nil) -> Tensor {
        requireFloat("conv2d")
        let chunks = ConvolutionChunks(x: contiguous(), w: filter.contiguous(), geometry: g, imagesPerChunk: imagesPerChunk)
        let channelsOut = chunks.channelsOut
        let out = Tensor(uninitializedShape: [g.batch, g.outHeight, g.outWidth, channelsOut], backend: backend)
        let epilogue = GemmEpilogue(bias: bias.map { ($0.buffer, $0.offset) }, activation: activation?.op)
        for start in chunks.starts {
            let rows = chunks.unfold(start, on: backend).patchCount
            backend.gemm(m: rows, n: channelsOut, k: g.patchSize, batch: 1,
                         ConvolutionChunks.rowMajor(chunks.scratch, offset: 0, columns: g.patchSize),
                         ConvolutionChunks.rowMajor(chunks.w, offset: chunks.w.offset, columns: channelsOut),
                         ConvolutionChunks.rowMajor(out, offset: start * chunks.positions * channelsOut, columns: channelsOut),
                         epilogue: epilogue)
        }
        let product = out.recorded("conv2d", [chunks.x, chunks.w], backward: chunks.backward)
        // Neither backward reads the bare convolution, so it never needs to exist (as in matmul).
        return product.recordedEpilogue(values: out, bias: bias, activation: activation)
    }
}

/// The chunks of one chunked convolution: its operands, the scratch columns of one chunk, and
/// the adjoint that runs over the same chunks.
struct ConvolutionChunks {
    let x: Tensor, w: Tensor
    let g: ConvGeometry
    let imagesPerChunk: Int
    let scratch: Tensor
    var starts: StrideTo<Int> { stride(from: 0, to: g.batch, by: imagesPerChunk) }
    var channelsOut: Int { w.shape[3] }
    var positions: Int { g.outHeight * g.outWidth }
    var imageSize: Int { g.height * g.width * g.channels }

    init(x: Tensor, w: Tensor, geometry: ConvGeometry, imagesPerChunk: Int) {
        (self.x, self.w, g, self.imagesPerChunk) = (x, w, geometry, imagesPerChunk)
        scratch = Tensor(uninitializedShape: [imagesPerChunk * geometry.outHeight * geometry.outWidth, geometry.patchSize],
                         backend: x.backend)
    }

    static func rowMajor(_ t: Tensor, offset: Int, columns: Int) -> MatrixOperand {
        MatrixOperand(buffer: t.buffer, offset: offset, rowStride: columns, colStride: 1, batchStride: 0)
    }

    /// The geometry of the images of the chunk at `start`.
    func chunk(_ start: Int) -> ConvGeometry {
        var chunk = g
        chunk.batch = Swift.min(imagesPerChunk, g.batch - start)
        return chunk
    }

    /// The columns of the chunk at `start` into `scratch`; returns its geometry.
    func unfold(_ start: Int, on backend: any Backend) -> ConvGeometry {
        let geometry = chunk(start)
        backend.im2col(x.buffer, offset: x.offset + start * imageSize, geometry: geometry, padValue: 0, out: scratch.buffer)
        return geometry
    }

    /// The gradients of x and w from the output's.
    func backward(_ gradient: Tensor) -> [Tensor?] {
        let dy = gradient.contiguous(), backend = dy.backend
        let patch = g.patchSize
        var dw: Tensor?
        if w.requiresGrad {
            let sums = Tensor(uninitializedShape: w.shape, backend: backend)
            dw = sums
            for (index, start) in starts.enumerated() {
                // dW (+)= columnsᵀ · dY, the columns read transposed in place.
                let rows = unfold(start, on: backend).patchCount
                backend.gemm(m: patch, n: channelsOut, k: rows, batch: 1, alpha: 1,
                             MatrixOperand(buffer: scratch.buffer, offset: 0, rowStride: 1, colStride: patch, batchStride: 0),
                             Self.rowMajor(dy, offset: dy.offset + start * positions * channelsOut, columns: channelsOut),
                             beta: index == 0 ? 0 : 1, Self.rowMajor(sums, offset: 0, columns: channelsOut))
            }
        }
        return [x.requiresGrad ? inputGradient(dy) : nil, dw]
    }

    /// x's gradient from the contiguous output gradient `dy`: each chunk's column gradient
    /// dY · Wᵀ, folded back onto its images by col2im (straight into x's gradient when one
    /// chunk holds the batch; col2im writes from element 0).
    func inputGradient(_ dy: Tensor) -> Tensor {
        let backend = dy.backend, patch = g.patchSize
        let dx = Tensor(uninitializedShape: x.shape, backend: backend)
        let whole = imagesPerChunk >= g.batch
        let folded = whole ? dx : Tensor(uninitializedShape: [imagesPerChunk, g.height, g.width, g.channels], backend: backend)
        for start in starts {
            let geometry = chunk(start)
            backend.gemm(m: geometry.patchCount, n: patch, k: channelsOut, batch: 1, alpha: 1,
                         Self.rowMajor(dy, offset: dy.offset + start * positions * channelsOut, columns: channelsOut),
                         MatrixOperand(buffer: w.buffer, offset: w.offset, rowStride: 1, colStride: channelsOut, batchStride: 0),
                         beta: 0, Self.rowMajor(scratch, offset: 0, columns: patch))
            backend.col2im(scratch.buffer, offset: 0, geometry: geometry, out: folded.buffer)
            if !whole {
                backend.copy(StridedOperand(buffer: folded.buffer, offset: 0, strides: [1]),
                             to: StridedOperand(buffer: dx.buffer, offset: start * imageSize, strides: [1]),
                             shape: [geometry.batch * imageSize])
            }
        }
        return dx
    }
}
