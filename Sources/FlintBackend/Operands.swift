/// Memory owned by a backend. Opaque to everything above the backend: shape, strides and
/// offset live on the tensor. Releasing the last reference returns the memory to the backend.
public protocol DeviceBuffer: AnyObject, Sendable {
    /// Usable size in bytes (a pool may hold a larger block behind it).
    var byteCount: Int { get }
}

/// A buffer whose memory the host can address directly (a CPU backend's). FlintCore lends its
/// bytes to readers that would otherwise copy them, without knowing which backend owns it.
public protocol HostMemoryBuffer: DeviceBuffer {
    /// The start of the buffer's memory; valid while the buffer lives.
    var hostAddress: UnsafeMutableRawPointer { get }
}

/// A strided view of a buffer, aligned to an output shape: element `(i0, i1, …)` lives at
/// `offset + Σ ik * strides[k]` (in elements, not bytes). A stride of 0 broadcasts.
public struct StridedOperand: @unchecked Sendable {
    public var buffer: any DeviceBuffer
    public var offset: Int
    public var strides: [Int]

    public init(buffer: any DeviceBuffer, offset: Int, strides: [Int]) {
        self.buffer = buffer
        self.offset = offset
        self.strides = strides
    }
}

/// One matrix (or a batch of them) for `gemm`. Element `[b][r][c]` lives at
/// `offset + b * batchStride + r * rowStride + c * colStride`.
///
/// Callers guarantee a BLAS-legal layout: `colStride == 1` (row-major, leading dimension
/// `rowStride >= columns`) or `rowStride == 1` (column-major, leading dimension
/// `colStride >= rows`). A transpose is a stride swap, never a copy.
public struct MatrixOperand: @unchecked Sendable {
    public var buffer: any DeviceBuffer
    public var offset: Int
    public var rowStride: Int
    public var colStride: Int
    public var batchStride: Int

    public init(buffer: any DeviceBuffer, offset: Int, rowStride: Int, colStride: Int, batchStride: Int) {
        self.buffer = buffer
        self.offset = offset
        self.rowStride = rowStride
        self.colStride = colStride
        self.batchStride = batchStride
    }
}

/// A contiguous region viewed as `[outer, length, inner]`: element `(o, r, i)` lives at
/// `offset + (o * length + r) * inner + i`. Reductions, softmax, gather and scatter work
/// along the middle axis, so any single axis of a contiguous tensor maps onto this shape.
public struct AxisLayout: Sendable, Hashable {
    public var outer: Int
    public var length: Int
    public var inner: Int

    public init(outer: Int, length: Int, inner: Int) {
        self.outer = outer
        self.length = length
        self.inner = inner
    }

    public var count: Int { outer * length * inner }
}

/// The sliding-window geometry of a 2-D convolution or pooling over NHWC images
/// (`[batch, height, width, channels]`, channels fastest: Keras' layout).
///
/// Output position `(oh, ow)` with kernel tap `(kh, kw)` reads input row
/// `oh * strideHeight - padTop + kh * dilationHeight` and column
/// `ow * strideWidth - padLeft + kw * dilationWidth`; positions outside the image are padding.
public struct ConvGeometry: Sendable, Hashable {
    public var batch: Int
    public var height: Int
    public var width: Int
    public var channels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var dilationHeight: Int
    public var dilationWidth: Int
    public var padTop: Int
    public var padLeft: Int
    public var outHeight: Int
    public var outWidth: Int

    public init(batch: Int, height: Int, width: Int, channels: Int, kernelHeight: Int, kernelWidth: Int,
                strideHeight: Int, strideWidth: Int, dilationHeight: Int, dilationWidth: Int,
                padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        self.channels = channels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
        self.padTop = padTop
        self.padLeft = padLeft
        self.outHeight = outHeight
        self.outWidth = outWidth
    }

    /// Rows of the column matrix: one per output position, `batch * outHeight * outWidth`.
    public var patchCount: Int { batch * outHeight * outWidth }
    /// Columns of the column matrix: one per kernel tap and channel, `kernelHeight * kernelWidth * channels`.
    public var patchSize: Int { kernelHeight * kernelWidth * channels }
    /// Elements of the NHWC input image, `batch * height * width * channels`.
    public var imageCount: Int { batch * height * width * channels }
}
