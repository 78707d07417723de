/// The primitives every backend gets for free: each default calls the composition of the same
/// name (`composedSoftmax`, …), built only from the required primitives. A backend overrides a
/// primitive to be faster, and may still call the composition for cases it does not handle.
///
/// The compositions allocate scratch buffers through `allocate`, so they also show what a
/// primitive costs when a backend leaves it out.
public enum BackendDefaults {
    /// The primitives a backend must implement itself; the rest of ``Primitive`` have defaults.
    public static let required: Set<Primitive> = [.unary, .binary, .select, .copy, .cast, .reduce, .gather, .scatterAdd, .gemm]
}

extension Backend {
    public var maxAllocationBytes: Int { Int.max }
    public var diagnostics: BackendDiagnostics { BackendDiagnostics() }

    public func fill(_ buffer: any DeviceBuffer, offset: Int, count: Int, bits: UInt32) {
        composedFill(buffer, offset: offset, count: count, bits: bits)
    }

    public func binary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], then activation: UnaryOp,
                       out: any DeviceBuffer) {
        composedBinary(op, a, b, shape: shape, then: activation, out: out)
    }

    public func gemm(m: Int, n: Int, k: Int, batch: Int, _ a: MatrixOperand, _ b: MatrixOperand, _ c: MatrixOperand,
                     epilogue: GemmEpilogue) {
        composedGemm(m: m, n: n, k: k, batch: batch, a, b, c, epilogue: epilogue)
    }

    public func reluGradientWithSums(_ gradient: any DeviceBuffer, gradientOffset: Int, output: any DeviceBuffer,
                                     outputOffset: Int, rows: Int, columns: Int, out: any DeviceBuffer, sums: any DeviceBuffer) {
        binary(.reluGradient, StridedOperand(buffer: gradient, offset: gradientOffset, strides: [1]),
               StridedOperand(buffer: output, offset: outputOffset, strides: [1]), shape: [rows * columns], out: out)
        reduce(.sum, out, offset: 0, layout: AxisLayout(outer: 1, length: rows, inner: columns), out: sums)
    }

    public func argmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        composedArgmax(x, offset: offset, layout: layout, out: out)
    }

    public func softmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, log: Bool, out: any DeviceBuffer) {
        composedSoftmax(x, offset: offset, layout: layout, log: log, out: out)
    }

    public func im2col(_ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, padValue: Float, out: any DeviceBuffer) {
        composedIm2col(input, offset: offset, geometry: geometry, padValue: padValue, out: out)
    }

    public func col2im(_ columns: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer) {
        composedCol2im(columns, offset: offset, geometry: geometry, out: out)
    }

    public func conv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                       geometry: ConvGeometry, filters: Int, out: any DeviceBuffer) {
        composedConv2d(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: geometry,
                       filters: filters, out: out)
    }

    public func conv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                       geometry: ConvGeometry, filters: Int, out: any DeviceBuffer, epilogue: GemmEpilogue) {
        conv2d(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: geometry, filters: filters, out: out)
        applyEpilogue(m: geometry.patchCount, n: filters, batch: 1,
                      MatrixOperand(buffer: out, offset: 0, rowStride: filters, colStride: 1, batchStride: 0),
                      bias: epilogue.bias, activation: epilogue.activation)
    }

    public func conv2dFilterGradient(_ input: any DeviceBuffer, offset: Int, gradient: any DeviceBuffer, gradientOffset: Int,
                                     geometry: ConvGeometry, filters: Int, out: any DeviceBuffer) {
        composedConv2dFilterGradient(input, offset: offset, gradient: gradient, gradientOffset: gradientOffset,
                                     geometry: geometry, filters: filters, out: out)
    }

    public func convolvesWithoutColumns(_ geometry: ConvGeometry) -> Bool { false }

    public func conv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                    geometry: ConvGeometry, filters: Int, out: any DeviceBuffer) {
        composedConv2dInputGradient(gradient, gradientOffset: gradientOffset, filter: filter, filterOffset: filterOffset,
                                    geometry: geometry, filters: filters, out: out)
    }

    public func conv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                    geometry: ConvGeometry, filters: Int, reluOutput: any DeviceBuffer, reluOutputOffset: Int,
                                    out: any DeviceBuffer, sums: (any DeviceBuffer)?) {
        composedConv2dInputGradient(gradient, gradientOffset: gradientOffset, filter: filter, filterOffset: filterOffset,
                                    geometry: geometry, filters: filters, reluOutput: reluOutput, reluOutputOffset: reluOutputOffset,
                                    out: out, sums: sums)
    }

    public func convolvesInputGradientWithoutColumns(_ geometry: ConvGeometry) -> Bool { false }

    public func maxPool2d(_ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer,
                          taps: any DeviceBuffer) {
        composedMaxPool2d(input, offset: offset, geometry: geometry, out: out, taps: taps)
    }

    public func maxPool2dBackward(_ gradient: any DeviceBuffer, offset: Int, taps: any DeviceBuffer, geometry: ConvGeometry,
                                  out: any DeviceBuffer) {
        composedMaxPool2dBackward(gradient, offset: offset, taps: taps, geometry: geometry, out: out)
    }

    public func conv2dMaxPool(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                              geometry: ConvGeometry, filters: Int, epilogue: GemmEpilogue?, pool: ConvGeometry,
                              out: any DeviceBuffer, taps: any DeviceBuffer) {
        composedConv2dMaxPool(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: geometry,
                              filters: filters, epilogue: epilogue, pool: pool, out: out, taps: taps)
    }

    public func conv2dMaxPoolBackward(_ gradient: any DeviceBuffer, gradientOffset: Int, taps: any DeviceBuffer, pool: ConvGeometry,
                                      input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                      geometry: ConvGeometry, filters: Int, filterGradient: (any DeviceBuffer)?,
                                      inputGradient: (any DeviceBuffer)?, reluOutput: (any DeviceBuffer)?, reluOutputOffset: Int,
                                      sums: (any DeviceBuffer)?) {
        composedConv2dMaxPoolBackward(gradient, gradientOffset: gradientOffset, taps: taps, pool: pool, input: input,
                                      offset: offset, filter: filter, filterOffset: filterOffset, geometry: geometry,
                                      filters: filters, filterGradient: filterGradient, inputGradient: inputGradient,
                                      reluOutput: reluOutput, reluOutputOffset: reluOutputOffset, sums: sums)
    }

    public func adamStep(_ step: AdamStep, count: Int, parameter: any DeviceBuffer, gradient: any DeviceBuffer,
                         m: any DeviceBuffer, v: any DeviceBuffer,
                         outParameter: any DeviceBuffer, outM: any DeviceBuffer, outV: any DeviceBuffer) {
        composedAdamStep(step, count: count, parameter: parameter, gradient: gradient, m: m, v: v,
                         outParameter: outParameter, outM: outM, outV: outV)
    }

    public func lstmCell(batch: Int, units: Int, input: StridedOperand, recurrent: StridedOperand, cell: StridedOperand,
                         out: any DeviceBuffer, gates: any DeviceBuffer) {
        composedLSTMCell(batch: batch, units: units, input: input, recurrent: recurrent, cell: cell, out: out, gates: gates)
    }

    public func lstmCellBackward(batch: Int, units: Int, gates: any DeviceBuffer, cell: StridedOperand, out: any DeviceBuffer,
                                 hGradient: StridedOperand, cGradient: StridedOperand,
                                 outGates: any DeviceBuffer, outCell: any DeviceBuffer) {
        composedLSTMCellBackward(batch: batch, units: units, gates: gates, cell: cell, out: out, hGradient: hGradient,
                                 cGradient: cGradient, outGates: outGates, outCell: outCell)
    }

    public func lstmSequence(steps: Int, batch: Int, units: Int, projection: any DeviceBuffer, projectionOffset: Int,
                             kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                             states: any DeviceBuffer, gates: any DeviceBuffer) {
        composedLSTMSequence(steps: steps, batch: batch, units: units, projection: projection, projectionOffset: projectionOffset,
                             kernel: kernel, kernelOffset: kernelOffset, hidden: hidden, cell: cell, states: states, gates: gates)
    }

    public func lstmSequence(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer, inputOffset: Int,
                             inputKernel: any DeviceBuffer, inputKernelOffset: Int, bias: (buffer: any DeviceBuffer, offset: Int)?,
                             kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                             states: any DeviceBuffer, gates: any DeviceBuffer) {
        composedLSTMSequence(steps: steps, batch: batch, units: units, features: features, input: input, inputOffset: inputOffset,
                             inputKernel: inputKernel, inputKernelOffset: inputKernelOffset, bias: bias, kernel: kernel,
                             kernelOffset: kernelOffset, hidden: hidden, cell: cell, states: states, gates: gates)
    }

    public func lstmSequenceBackward(steps: Int, batch: Int, units: Int, kernel: any DeviceBuffer, kernelOffset: Int,
                                     hidden: StridedOperand, cell: StridedOperand, states: any DeviceBuffer,
                                     gates: any DeviceBuffer, gradient: any DeviceBuffer, gradientOffset: Int, gradientStart: Int,
                                     outProjection: any DeviceBuffer, outKernel: any DeviceBuffer,
                                     outHidden: any DeviceBuffer, outCell: any DeviceBuffer) {
        composedLSTMSequenceBackward(steps: steps, batch: batch, units: units, kernel: kernel, kernelOffset: kernelOffset,
                                     hidden: hidden, cell: cell, states: states, gates: gates, gradient: gradient,
                                     gradientOffset: gradientOffset, gradientStart: gradientStart,
                                     outProjection: outProjection, outKernel: outKernel,
                                     outHidden: outHidden, outCell: outCell)
    }

    public func lstmSequenceBackward(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer, inputOffset: Int,
                                     kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                                     states: any DeviceBuffer, gates: any DeviceBuffer, gradient: any DeviceBuffer,
                                     gradientOffset: Int, gradientStart: Int, outProjection: (any DeviceBuffer)?,
                                     outInputKernel: any DeviceBuffer, outBias: (any DeviceBuffer)?, outKernel: any DeviceBuffer,
                                     outHidden: any DeviceBuffer, outCell: any DeviceBuffer) {
        composedLSTMSequenceBackward(steps: steps, batch: batch, units: units, features: features, input: input,
                                     inputOffset: inputOffset, kernel: kernel, kernelOffset: kernelOffset, hidden: hidden,
                                     cell: cell, states: states, gates: gates, gradient: gradient, gradientOffset: gradientOffset,
                                     gradientStart: gradientStart, outProjection: outProjection, outInputKernel: outInputKernel,
                                     outBias: outBias, outKernel: outKernel, outHidden: outHidden, outCell: outCell)
    }

    public func dropout(_ x: any DeviceBuffer, offset: Int, count: Int, rate: Float, seed: UInt64, counterOffset: UInt64,
                        out: any DeviceBuffer) {
        composedDropout(x, offset: offset, count: count, rate: rate, seed: seed, counterOffset: counterOffset, out: out)
    }

    public func random(_ out: any DeviceBuffer, count: Int, distribution: RandomDistribution, seed: UInt64,
                       counterOffset: UInt64) {
        composedRandom(out, count: count, distribution: distribution, seed: seed, counterOffset: counterOffset)
    }
}

// MARK: Helpers for compositions

extension Backend {
    /// A scratch buffer of `count` four-byte elements (at least one).
    func scratch(_ count: Int) -> any DeviceBuffer {
        allocate(byteCount: Swift.max(count, 1) * 4)
    }

    /// A new buffer holding `values` (four-byte elements).
    func uploaded<T>(_ values: [T]) -> any DeviceBuffer {
        ensure(MemoryLayout<T>.stride == 4, "uploaded: elements must be four bytes")
        let buffer = scratch(values.count)
        values.withUnsafeBytes { write($0, to: buffer, byteOffset: 0) }
        return buffer
    }

    /// A one-element buffer holding `value`, to broadcast with all-zero strides.
    func constant(_ value: Float) -> any DeviceBuffer {
        uploaded([value])
    }
}

/// Row-major strides of `shape`.
func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    for axis in shape.indices.dropLast().reversed() { strides[axis] = strides[axis + 1] * shape[axis + 1] }
    return strides
}

extension StridedOperand {
    /// `buffer` from element `offset` with `strides`.
    init(_ buffer: any DeviceBuffer, _ offset: Int = 0, _ strides: [Int]) {
        self.init(buffer: buffer, offset: offset, strides: strides)
    }
}
