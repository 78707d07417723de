/// A compute backend: owns memory on one device and runs a small set of primitives.
/// Everything else (views, broadcasting, composite ops, autograd) is built from these in
/// FlintCore, so a new backend implements this list and inherits the rest.
///
/// Required: `info`, the memory primitives (`allocate`, `write`, `read`, `copy`, `cast`),
/// `unary`, `binary`, `select`, `reduce`, `gather`, `scatterAdd`, `gemm`, `synchronize` and
/// `memoryStatistics`. Every other primitive has a default composed from those (see
/// ``BackendDefaults``), which a backend overrides only to be faster; the conformance suite
/// checks both.
///
/// Conventions for every primitive:
/// - Element offsets and strides are in elements (4 bytes each), never bytes.
/// - Outputs are contiguous and written at element offset 0 of `out` unless an operand says
///   otherwise; `out` never aliases an input unless the primitive says it may.
/// - Callers have already checked shapes, so backends may `precondition` rather than throw.
///   Counts are > 0 (callers skip empty work) and fit in `Int32`.
/// - Work is enqueued in order; `read` returns after everything before it has finished.
public protocol Backend: AnyObject, Sendable {
    var info: DeviceInfo { get }

    // MARK: Memory

    /// A buffer of at least `byteCount` bytes with undefined contents.
    func allocate(byteCount: Int) -> any DeviceBuffer
    func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, byteOffset: Int)
    func read(_ buffer: any DeviceBuffer, byteOffset: Int, into bytes: UnsafeMutableRawBufferPointer)
    /// `dst[shape] = src[shape]`, both strided (4-byte elements of any dtype). Materialises
    /// views, broadcasts and concatenation. `dst` must not overlap `src`.
    func copy(_ src: StridedOperand, to dst: StridedOperand, shape: [Int])
    /// Sets `count` elements starting at element `offset` to the 32-bit pattern `bits`.
    func fill(_ buffer: any DeviceBuffer, offset: Int, count: Int, bits: UInt32)
    /// Converts `count` contiguous elements between float32 and int32 (float → int truncates toward zero).
    func cast(_ src: any DeviceBuffer, offset: Int, count: Int, from: DType, to: DType, out: any DeviceBuffer)
    /// Writes host elements stored as `type` (`bytes.count / type.byteCount` of them) to `out` as
    /// float32 `x · scale + shift`, the product and the sum each rounded to float32 (never fused),
    /// so every backend gives the same values. Batches of byte images travel as bytes and are
    /// cast, scaled and shifted in one pass on the device. The default converts on the host and
    /// writes floats (`composedUpload`).
    func upload(converting bytes: UnsafeRawBufferPointer, as type: HostScalar, scale: Float, shift: Float, to out: any DeviceBuffer)

    // MARK: Element-wise (float32)

    /// `out[i] = op(x[i])` over `shape`, `x` strided, `out` contiguous. `out` may be `x`'s buffer
    /// when `x` is contiguous at offset 0 (in-place update).
    func unary(_ op: UnaryOp, _ x: StridedOperand, shape: [Int], out: any DeviceBuffer)
    /// `out[i] = op(a[i], b[i])` with broadcasting expressed as zero strides. `out` may alias an
    /// input that is contiguous at offset 0.
    func binary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer)
    /// `out[i] = activation(op(a[i], b[i]))`: a bias add and its activation in one pass where
    /// the backend fuses them (the default runs `binary` then `unary` in place).
    func binary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], then activation: UnaryOp, out: any DeviceBuffer)
    /// `out[i] = condition[i] != 0 ? a[i] : b[i]`.
    func select(_ condition: StridedOperand, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer)

    // MARK: Along one axis of a contiguous region

    /// Reduces the middle axis: `out[o, i] = op over r of x[o, r, i]`; `layout.length >= 1`.
    /// `max` and `min` propagate NaN: a NaN anywhere along the axis gives NaN.
    func reduce(_ op: ReduceOp, _ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer)
    /// ReLU's adjoint and its sums down the columns in one pass (a ReLU layer's gradient before
    /// its product and the gradient of its bias): for `gradient` and `output` (`[rows, columns]`,
    /// contiguous from their offsets), `out[r, c] = gradient[r, c] · (output[r, c] > 0 ? 1 : 0)`,
    /// with the bits of `binary(.reluGradient, …)`, and `sums[c] = Σ_r out[r, c]`, as accurate as
    /// `reduce(.sum, …)` though not necessarily added in its order; both contiguous from element 0.
    /// The default runs those two primitives.
    func reluGradientWithSums(_ gradient: any DeviceBuffer, gradientOffset: Int, output: any DeviceBuffer, outputOffset: Int,
                              rows: Int, columns: Int, out: any DeviceBuffer, sums: any DeviceBuffer)
    /// `out[o, i]` (int32) = the first `r` where `x[o, r, i]` is largest, a NaN counting as
    /// larger than any number (so the first NaN wins); `layout.length >= 1`.
    func argmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer)
    /// Softmax (or log-softmax) over the middle axis, numerically stable (max subtracted); `out`
    /// is contiguous with `layout`.
    func softmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, log: Bool, out: any DeviceBuffer)
    /// `out[o, j, i] = x[o, indices[o, j, i], i]` for `j < indexLength`; `x` has `layout`,
    /// `indices` (int32) and `out` are contiguous `[outer, indexLength, inner]`.
    /// An index outside `0..<layout.length` reads as 0.
    func gather(
        _ x: any DeviceBuffer, offset: Int, layout: AxisLayout,
        indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int, out: any DeviceBuffer)
    /// `out[o, indices[o, j, i], i] += src[o, j, i]`; `out` (contiguous, with `layout`) keeps its
    /// contents and accumulates. Indices outside `0..<layout.length` are skipped. Order of
    /// accumulation for repeated indices is unspecified.
    func scatterAdd(
        _ src: any DeviceBuffer, srcOffset: Int,
        indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int,
        layout: AxisLayout, out: any DeviceBuffer)

    // MARK: Matrix products

    /// `C[b] = alpha * A[b] · B[b] + beta * C[b]` for `b < batch`; `A` is `m×k`, `B` is `k×n`,
    /// `C` is `m×n` with `colStride == 1`. With `beta == 0`, `C`'s old contents are ignored.
    func gemm(
        m: Int, n: Int, k: Int, batch: Int, alpha: Float,
        _ a: MatrixOperand, _ b: MatrixOperand, beta: Float, _ c: MatrixOperand)
    /// `C[b] = activation(A[b] · B[b] + bias)` (see ``GemmEpilogue``): a layer's product with its
    /// bias and activation applied as each element is stored, instead of in passes over C after
    /// it. C's old contents are ignored. Each sum is rounded to float32, then the bias added and
    /// that rounded, then the activation applied, so the result has the bits of `gemm` (alpha 1,
    /// beta 0) followed by `binary(.add, …, then:)` on the same backend. The default runs just
    /// that (`composedGemm`).
    func gemm(m: Int, n: Int, k: Int, batch: Int, _ a: MatrixOperand, _ b: MatrixOperand, _ c: MatrixOperand,
              epilogue: GemmEpilogue)

    // MARK: Convolution support

    /// Unfolds NHWC `input` into the column matrix `out` of shape `[patchCount, patchSize]`:
    /// `out[(n·outHeight + oh)·outWidth + ow][(kh·kernelWidth + kw)·channels + c]` is the input
    /// element that output `(n, oh, ow)` sees through tap `(kh, kw)` in channel `c`, or `padValue`
    /// where that falls outside the image (0 for convolution, -∞ for max pooling).
    func im2col(_ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, padValue: Float, out: any DeviceBuffer)
    /// The adjoint of `im2col`: `out` (NHWC, overwritten) gets, for every input element, the sum
    /// of the column entries that `im2col` copied from it. Padding entries are dropped.
    func col2im(_ columns: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer)
    /// Convolution of NHWC `input` with `filter` (`[patchSize, filters]` row-major at
    /// `filterOffset`, i.e. Keras' `[kh, kw, in, out]`): `out[p, f]` (`[patchCount, filters]`,
    /// overwritten) is `Σ_j columns[p, j] · filter[j, f]` over the zero-padded column matrix that
    /// `im2col` would make. For inputs with few channels, where that matrix makes a thin product.
    func conv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int, geometry: ConvGeometry,
                filters: Int, out: any DeviceBuffer)
    /// `conv2d` with a layer's bias (one per filter) and activation applied to each output (see
    /// ``GemmEpilogue``), with the bits of `conv2d` followed by `binary(.add, …, then:)`.
    func conv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int, geometry: ConvGeometry,
                filters: Int, out: any DeviceBuffer, epilogue: GemmEpilogue)
    /// The filter gradient of `conv2d`: `out[j, f]` (`[patchSize, filters]`, overwritten) is
    /// `Σ_p columns[p, j] · gradient[p, f]`, with `gradient` `[patchCount, filters]` at `gradientOffset`.
    func conv2dFilterGradient(_ input: any DeviceBuffer, offset: Int, gradient: any DeviceBuffer, gradientOffset: Int,
                              geometry: ConvGeometry, filters: Int, out: any DeviceBuffer)
    /// Whether `conv2d` and `conv2dFilterGradient` convolve `geometry` without a column matrix
    /// (for any number of channels), so layers call them on the whole batch, gradients included,
    /// rather than im2col and `gemm` in chunks. The default is false.
    func convolvesWithoutColumns(_ geometry: ConvGeometry) -> Bool
    /// The input gradient of `conv2d`: `out` (NHWC, overwritten) is `col2im` of `gradient · filterᵀ`,
    /// with `gradient` `[patchCount, filters]` at `gradientOffset` and `filter` `[patchSize, filters]`
    /// at `filterOffset`: every input element gets the sum, over the outputs and taps that read it,
    /// of the gradient times the weight.
    func conv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer, filterOffset: Int,
                             geometry: ConvGeometry, filters: Int, out: any DeviceBuffer)
    /// `conv2dInputGradient` through the ReLU whose output the convolution read: `reluOutput`
    /// (the convolution's NHWC input, contiguous from `reluOutputOffset`) gives ReLU's adjoint as
    /// `reluGradientWithSums` computes it, so `out` is the input gradient times
    /// `(reluOutput > 0 ? 1 : 0)`, and `sums` (`geometry.channels` floats, or nil) its sums over
    /// every axis but the last (the ReLU's bias's gradient). The default runs the two ops.
    func conv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer, filterOffset: Int,
                             geometry: ConvGeometry, filters: Int, reluOutput: any DeviceBuffer, reluOutputOffset: Int,
                             out: any DeviceBuffer, sums: (any DeviceBuffer)?)
    /// Whether `conv2dInputGradient` runs `geometry` without a column gradient, so layers call it
    /// on the whole batch rather than `gemm` and `col2im` in chunks. The default is false.
    func convolvesInputGradientWithoutColumns(_ geometry: ConvGeometry) -> Bool
    /// Max pooling over NHWC `input`: `out[n, oh, ow, c]` (float32) is the largest element of
    /// output `(oh, ow)`'s window in channel `c`, and `taps[n, oh, ow, c]` (int32) its tap
    /// `kh·kernelWidth + kw`. NaN wins, the first of equal values wins, padding never wins; a
    /// window wholly in padding gives -∞ and tap -1.
    func maxPool2d(_ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer, taps: any DeviceBuffer)
    /// The adjoint of `maxPool2d`: `out` (NHWC, overwritten) gets, for every input element, the
    /// sum of the output gradients whose winning tap read it, added in ascending `(kh, kw)`.
    func maxPool2dBackward(_ gradient: any DeviceBuffer, offset: Int, taps: any DeviceBuffer, geometry: ConvGeometry,
                           out: any DeviceBuffer)
    /// `conv2d` of `geometry` (with `epilogue` when given), then `maxPool2d` of its output
    /// (`[batch, outHeight, outWidth, filters]`) by `pool`: `out` and `taps` are what `maxPool2d`
    /// gives, with the same bits; the convolution's output is not kept. A backend that pools each
    /// few rows as they are computed never writes it. The default runs the two ops.
    func conv2dMaxPool(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                       geometry: ConvGeometry, filters: Int, epilogue: GemmEpilogue?, pool: ConvGeometry,
                       out: any DeviceBuffer, taps: any DeviceBuffer)
    /// The gradients of `conv2dMaxPool` from its output's gradient `gradient` (the pooled shape,
    /// at `gradientOffset`, already the adjoint of the convolution's ReLU where it has one):
    /// scattered to the winning `taps` as `maxPool2dBackward` does by `pool`, that is the
    /// convolution's output gradient, of which `filterGradient` gets `conv2dFilterGradient` of
    /// `input` and `inputGradient` `conv2dInputGradient` (each only when given), through
    /// `reluOutput` with `sums` as that form of `conv2dInputGradient` does when `reluOutput` is
    /// given. The default runs those ops; an override may add the filter gradient's terms in
    /// another order (the CPU's sums it image by image).
    func conv2dMaxPoolBackward(_ gradient: any DeviceBuffer, gradientOffset: Int, taps: any DeviceBuffer, pool: ConvGeometry,
                               input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                               geometry: ConvGeometry, filters: Int, filterGradient: (any DeviceBuffer)?,
                               inputGradient: (any DeviceBuffer)?, reluOutput: (any DeviceBuffer)?, reluOutputOffset: Int,
                               sums: (any DeviceBuffer)?)

    // MARK: Fused optimizer steps

    /// One Adam update over `count` contiguous elements: reads `parameter`, `gradient`, `m`, `v`
    /// (each at element 0 of its buffer) and writes the new values to `outParameter`, `outM`,
    /// `outV`, which do not alias the inputs. The default composes element-wise primitives;
    /// backends override it to make one pass.
    func adamStep(_ step: AdamStep, count: Int, parameter: any DeviceBuffer, gradient: any DeviceBuffer,
                  m: any DeviceBuffer, v: any DeviceBuffer,
                  outParameter: any DeviceBuffer, outM: any DeviceBuffer, outV: any DeviceBuffer)

    // MARK: Recurrent cells

    /// One LSTM step over `batch` rows of `units`, gates in Keras' and PyTorch's order i, f, g, o
    /// along the columns, with the standard activations: for `z = input + recurrent` (each
    /// `[batch, 4·units]`: the step's input projection and `h·U`), `c' = σ(z_f)·c + σ(z_i)·tanh(z_g)`
    /// and `h' = σ(z_o)·tanh(c')`, with `c` = `cell` (`[batch, units]`). Writes `out` = `[h' | c']`
    /// (`[batch, 2·units]`) and `gates` = `[σ(z_i) | σ(z_f) | tanh(z_g) | σ(z_o)]` (`[batch, 4·units]`),
    /// both contiguous from element 0; `lstmCellBackward` reads them. The operands are
    /// two-dimensional (row and column strides).
    func lstmCell(batch: Int, units: Int, input: StridedOperand, recurrent: StridedOperand, cell: StridedOperand,
                  out: any DeviceBuffer, gates: any DeviceBuffer)
    /// The adjoint of `lstmCell`: from its `gates`, `cell` and `out` and the gradients of `h'`
    /// and `c'` (`hGradient`, `cGradient`, each `[batch, units]`, two-dimensional, from separate
    /// buffers or halves of one; a missing one is a zero with strides `[0, 0]`), writes the gradient
    /// of `z` to `outGates` (`[batch, 4·units]`) and of `cell` to `outCell` (`[batch, units]`),
    /// contiguous from element 0.
    func lstmCellBackward(batch: Int, units: Int, gates: any DeviceBuffer, cell: StridedOperand, out: any DeviceBuffer,
                          hGradient: StridedOperand, cGradient: StridedOperand,
                          outGates: any DeviceBuffer, outCell: any DeviceBuffer)
    /// An LSTM's recurrence over `steps` time steps, the recurrent product inside: for each t,
    /// `lstmCell` of `projection[t]` and `h_{t−1} · kernel` with the cell state `c_{t−1}`, where
    /// `h_{−1}` and `c_{−1}` are `hidden` and `cell` (`[batch, units]`, two-dimensional).
    /// `projection` (`[steps, batch, 4·units]`, the input projection with its bias, time-major)
    /// and `kernel` (`[units, 4·units]`) are contiguous from their offsets. Writes `states`, step
    /// t's `[h_t | c_t]` (`[steps, batch, 2·units]`), and `gates`, step t's gates as `lstmCell`
    /// writes them (`[steps, batch, 4·units]`), contiguous from element 0. The default
    /// (`composedLSTMSequence`) runs `gemm` and `lstmCell` step by step.
    func lstmSequence(steps: Int, batch: Int, units: Int, projection: any DeviceBuffer, projectionOffset: Int,
                      kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                      states: any DeviceBuffer, gates: any DeviceBuffer)
    /// `lstmSequence` with its input projection inside: step t's projection is
    /// `input[t] · inputKernel + bias`, from `input` (`[steps, batch, features]`, time-major),
    /// `inputKernel` (`[features, 4·units]`) and `bias` (`4·units` floats, nil for none), each
    /// contiguous from its offset; the projection need not be stored. Writes `states` and `gates`
    /// as `lstmSequence` does, and `lstmSequenceBackward` is its adjoint (the projection's
    /// gradient then gives those of the input, the input kernel and the bias). The default
    /// (`composedLSTMSequence(…, features:, input:, …)`) makes the projection with `gemm` and
    /// runs `lstmSequence` on it.
    func lstmSequence(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer, inputOffset: Int,
                      inputKernel: any DeviceBuffer, inputKernelOffset: Int, bias: (buffer: any DeviceBuffer, offset: Int)?,
                      kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                      states: any DeviceBuffer, gates: any DeviceBuffer)
    /// The adjoint of `lstmSequence`: from its `kernel`, `hidden`, `cell`, `states` and `gates`
    /// and the gradient of `states` (`gradient`, contiguous from `gradientOffset`, holding steps
    /// `gradientStart..<steps`: the earlier steps' gradient is zero, as for an LSTM whose last
    /// state alone is used, and is not stored), writes the
    /// gradients of the projection (`outProjection`, `[steps, batch, 4·units]`), the kernel
    /// (`outKernel`, `[units, 4·units]`), `hidden` and `cell` (`[batch, units]` each), contiguous
    /// from element 0. The default (`composedLSTMSequenceBackward`) runs `lstmCellBackward` and
    /// `gemm` step by step back through time, then the kernel's gradient as two products.
    func lstmSequenceBackward(steps: Int, batch: Int, units: Int, kernel: any DeviceBuffer, kernelOffset: Int,
                              hidden: StridedOperand, cell: StridedOperand, states: any DeviceBuffer, gates: any DeviceBuffer,
                              gradient: any DeviceBuffer, gradientOffset: Int, gradientStart: Int, outProjection: any DeviceBuffer,
                              outKernel: any DeviceBuffer, outHidden: any DeviceBuffer, outCell: any DeviceBuffer)
    /// The adjoint of `lstmSequence(…, features:, input:, …)`, its input projection's weights
    /// included: writes `lstmSequenceBackward`'s gradients — the projection's only where
    /// `outProjection` is given (the input's gradient is it times `inputKernel`ᵀ; a model's first
    /// layer has no use for it) — and those of the input kernel (`outInputKernel`,
    /// `[features, 4·units]`, the sum over steps of `input[t]ᵀ · dz_t`) and of the bias (`outBias`,
    /// `4·units`, the projection gradient's column sums; nil for none). `input` is the forward's,
    /// contiguous from `inputOffset`. The default (`composedLSTMSequenceBackward(…, features:, …)`)
    /// runs `lstmSequenceBackward`, then one product and one reduction over the whole sequence.
    func lstmSequenceBackward(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer, inputOffset: Int,
                              kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                              states: any DeviceBuffer, gates: any DeviceBuffer, gradient: any DeviceBuffer, gradientOffset: Int,
                              gradientStart: Int, outProjection: (any DeviceBuffer)?, outInputKernel: any DeviceBuffer,
                              outBias: (any DeviceBuffer)?, outKernel: any DeviceBuffer, outHidden: any DeviceBuffer,
                              outCell: any DeviceBuffer)

    // MARK: Random numbers

    /// Fills `count` float32 elements from the Philox4x32-10 stream `(seed, counterOffset)` as
    /// `Philox` defines it, so every backend produces the same numbers for the same seed.
    func random(_ out: any DeviceBuffer, count: Int, distribution: RandomDistribution, seed: UInt64, counterOffset: UInt64)
    /// Inverted dropout of `count` elements of `x` (contiguous from `offset`): `out[i]` (from 0) is
    /// `x[i] · (1 / (1 − rate))` where element i of the uniform Philox stream `(seed, counterOffset)`
    /// (as `random` draws it over [0, 1)) is at least `rate`, else `x[i] · 0`. The same call on the
    /// output's gradient is its adjoint. The default (`composedDropout`) draws the stream with
    /// `random` and applies it with two `binary` ops.
    func dropout(_ x: any DeviceBuffer, offset: Int, count: Int, rate: Float, seed: UInt64, counterOffset: UInt64,
                 out: any DeviceBuffer)

    // MARK: Control

    /// Waits until all enqueued work has finished.
    func synchronize()
    /// Counters of the backend's memory pool.
    var memoryStatistics: MemoryStatistics { get }
    /// The largest `byteCount` one `allocate` can serve (OpenCL's `CL_DEVICE_MAX_MEM_ALLOC_SIZE`).
    /// Allocating more is a programming error; callers check first to throw instead.
    var maxAllocationBytes: Int { get }
    /// Build times, failed programs and other facts about how the backend came up.
    var diagnostics: BackendDiagnostics { get }
}


/// How a backend's allocator has behaved so far.
public struct MemoryStatistics: Sendable, Hashable {
    /// Fresh device allocations (pool misses).
    public var allocations: Int
    /// Requests served from the pool.
    public var reuses: Int
    /// Bytes currently allocated from the device, in use or pooled.
    public var bytesReserved: Int
    /// Reads from the device to the host so far (each one waits for the queue to drain); 0 for
    /// backends whose memory is the host's.
    public var reads: Int

    public init(allocations: Int = 0, reuses: Int = 0, bytesReserved: Int = 0, reads: Int = 0) {
        self.allocations = allocations
        self.reuses = reuses
        self.bytesReserved = bytesReserved
        self.reads = reads
    }
}

