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

    /// `conv2d` of this contiguous-or-not NHWC input with `filter` (`[kh, kw, in, out]`), `images`
    /// at a time. Gradients flow to both operands.
    func chunkedConv2d(_ filter: Tensor, geometry g: ConvGeometry, imagesPerChunk: Int) -> Tensor {
        requireFloat("conv2d")
        let x = contiguous(), w = filter.contiguous()
        let (patch, channelsOut) = (g.patchSize, w.shape[3])
        let positions = g.outHeight * g.outWidth
        let imageSize = g.height * g.width * g.channels
        let starts = Array(stride(from: 0, to: g.batch, by: imagesPerChunk))
        let out = Tensor(uninitializedShape: [g.batch, g.outHeight, g.outWidth, channelsOut], backend: backend)
        let scratch = Tensor(uninitializedShape: [imagesPerChunk * positions, patch], backend: backend)

        /// The columns of images `start..<start + count` into `scratch`; returns their geometry.
        func unfold(_ start: Int, on backend: any Backend) -> ConvGeometry {
            var chunk = g
            chunk.batch = Swift.min(imagesPerChunk, g.batch - start)
            backend.im2col(x.buffer, offset: x.offset + start * imageSize, geometry: chunk, padValue: 0, out: scratch.buffer)
            return chunk
        }
        func rowMajor(_ t: Tensor, offset: Int, columns: Int) -> MatrixOperand {
            MatrixOperand(buffer: t.buffer, offset: offset, rowStride: columns, colStride: 1, batchStride: 0)
        }

        for start in starts {
            let rows = unfold(start, on: backend).patchCount
            backend.gemm(m: rows, n: channelsOut, k: patch, batch: 1, alpha: 1,
                         rowMajor(scratch, offset: 0, columns: patch), rowMajor(w, offset: w.offset, columns: channelsOut),
                         beta: 0, rowMajor(out, offset: start * positions * channelsOut, columns: channelsOut))
        }

        let (needInput, needFilter) = (x.requiresGrad, w.requiresGrad)
        return out.recorded("conv2d", [x, w]) { gradient in
            let dy = gradient.contiguous(), backend = dy.backend
            let dw = needFilter ? Tensor(uninitializedShape: w.shape, backend: backend) : nil
            let dx = needInput ? Tensor(uninitializedShape: x.shape, backend: backend) : nil
            let folded = needInput ? Tensor(uninitializedShape: [imagesPerChunk, g.height, g.width, g.channels], backend: backend) : nil
            for (index, start) in starts.enumerated() {
                let dyChunk = rowMajor(dy, offset: dy.offset + start * positions * channelsOut, columns: channelsOut)
                if let dw {
                    // dW (+)= columnsᵀ · dY, the columns read transposed in place.
                    let rows = unfold(start, on: backend).patchCount
                    backend.gemm(m: patch, n: channelsOut, k: rows, batch: 1, alpha: 1,
                                 MatrixOperand(buffer: scratch.buffer, offset: 0, rowStride: 1, colStride: patch, batchStride: 0),
                                 dyChunk, beta: index == 0 ? 0 : 1, rowMajor(dw, offset: 0, columns: channelsOut))
                }
                if let dx, let folded {
                    // The chunk's column gradient dY · Wᵀ, folded back onto its images.
                    var chunk = g
                    chunk.batch = Swift.min(imagesPerChunk, g.batch - start)
                    backend.gemm(m: chunk.patchCount, n: patch, k: channelsOut, batch: 1, alpha: 1, dyChunk,
                                 MatrixOperand(buffer: w.buffer, offset: w.offset, rowStride: 1, colStride: channelsOut, batchStride: 0),
                                 beta: 0, rowMajor(scratch, offset: 0, columns: patch))
                    backend.col2im(scratch.buffer, offset: 0, geometry: chunk, out: folded.buffer)
                    backend.copy(StridedOperand(buffer: folded.buffer, offset: 0, strides: [1]),
                                 to: StridedOperand(buffer: dx.buffer, offset: start * imageSize, strides: [1]),
                                 shape: [chunk.batch * imageSize])
                }
            }
            return [dx, dw]
        }
    }
}
