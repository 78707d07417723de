extension Backend {
    /// `conv2d` from `im2col` and `gemm`: the whole column matrix, times the filter.
    public func composedConv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                               geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer) {
        guard g.patchCount > 0, filters > 0 else { return }
        let columns = scratch(g.patchCount * g.patchSize)
        im2col(input, offset: offset, geometry: g, padValue: 0, out: columns)
        gemm(m: g.patchCount, n: filters, k: g.patchSize, batch: 1, alpha: 1,
             MatrixOperand(buffer: columns, offset: 0, rowStride: g.patchSize, colStride: 1, batchStride: 0),
             MatrixOperand(buffer: filter, offset: filterOffset, rowStride: filters, colStride: 1, batchStride: 0),
             beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: filters, colStride: 1, batchStride: 0))
    }

    /// `conv2dFilterGradient` from `im2col` and `gemm`: the column matrix, read transposed,
    /// times the output gradient.
    public func composedConv2dFilterGradient(_ input: any DeviceBuffer, offset: Int, gradient: any DeviceBuffer,
                                             gradientOffset: Int, geometry g: ConvGeometry, filters: Int,
                                             out: any DeviceBuffer) {
        guard g.patchSize > 0, filters > 0 else { return }
        let columns = scratch(g.patchCount * g.patchSize)
        im2col(input, offset: offset, geometry: g, padValue: 0, out: columns)
        gemm(m: g.patchSize, n: filters, k: g.patchCount, batch: 1, alpha: 1,
             MatrixOperand(buffer: columns, offset: 0, rowStride: 1, colStride: g.patchSize, batchStride: 0),
             MatrixOperand(buffer: gradient, offset: gradientOffset, rowStride: filters, colStride: 1, batchStride: 0),
             beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: filters, colStride: 1, batchStride: 0))
    }

    /// `conv2dInputGradient` from `gemm` and `col2im`: the whole column gradient `gradient · filterᵀ`,
    /// folded back onto the images.
    /// `conv2dInputGradient` through a ReLU from `conv2dInputGradient` (into a scratch buffer)
    /// and `reluGradientWithSums`: the default, and the reference for fused versions.
    public func composedConv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer,
                                            filterOffset: Int, geometry g: ConvGeometry, filters: Int, reluOutput: any DeviceBuffer,
                                            reluOutputOffset: Int, out: any DeviceBuffer, sums: (any DeviceBuffer)?) {
        let count = g.batch * g.height * g.width * g.channels
        guard count > 0 else {
            if let sums, g.channels > 0 { fill(sums, offset: 0, count: g.channels, bits: 0) }
            return
        }
        let plain = scratch(count)
        conv2dInputGradient(gradient, gradientOffset: gradientOffset, filter: filter, filterOffset: filterOffset, geometry: g,
                            filters: filters, out: plain)
        reluGradientWithSums(plain, gradientOffset: 0, output: reluOutput, outputOffset: reluOutputOffset,
                             rows: count / g.channels, columns: g.channels, out: out, sums: sums ?? scratch(g.channels))
    }

    public func composedConv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer,
                                            filterOffset: Int, geometry g: ConvGeometry, filters: Int,
                                            out: any DeviceBuffer) {
        let columns = scratch(g.patchCount * g.patchSize)
        gemm(m: g.patchCount, n: g.patchSize, k: filters, batch: 1, alpha: 1,
             MatrixOperand(buffer: gradient, offset: gradientOffset, rowStride: filters, colStride: 1, batchStride: 0),
             MatrixOperand(buffer: filter, offset: filterOffset, rowStride: 1, colStride: filters, batchStride: 0),
             beta: 0, MatrixOperand(buffer: columns, offset: 0, rowStride: g.patchSize, colStride: 1, batchStride: 0))
        col2im(columns, offset: 0, geometry: g, out: out)
    }

    /// `conv2dMaxPool` as its two ops, the convolution's output in a scratch buffer.
    public func composedConv2dMaxPool(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                      geometry g: ConvGeometry, filters: Int, epilogue: GemmEpilogue?, pool: ConvGeometry,
                                      out: any DeviceBuffer, taps: any DeviceBuffer) {
        checkPooling(pool, over: g, filters: filters, "conv2dMaxPool")
        guard pool.patchCount > 0 && filters > 0 else { return }
        let convolved = scratch(g.patchCount * filters)
        if let epilogue {
            conv2d(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: g, filters: filters,
                   out: convolved, epilogue: epilogue)
        } else {
            conv2d(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: g, filters: filters, out: convolved)
        }
        maxPool2d(convolved, offset: 0, geometry: pool, out: out, taps: taps)
    }

    /// `conv2dMaxPoolBackward` as its ops: the output gradient scattered into a scratch buffer,
    /// then the filter's and the input's gradients from it.
    public func composedConv2dMaxPoolBackward(_ gradient: any DeviceBuffer, gradientOffset: Int, taps: any DeviceBuffer,
                                              pool: ConvGeometry, input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer,
                                              filterOffset: Int, geometry g: ConvGeometry, filters: Int,
                                              filterGradient: (any DeviceBuffer)?, inputGradient: (any DeviceBuffer)?,
                                              reluOutput: (any DeviceBuffer)?, reluOutputOffset: Int, sums: (any DeviceBuffer)?) {
        checkPooling(pool, over: g, filters: filters, "conv2dMaxPoolBackward")
        let dy = scratch(g.patchCount * filters)
        if g.patchCount * filters > 0 {
            maxPool2dBackward(gradient, offset: gradientOffset, taps: taps, geometry: pool, out: dy)
        }
        if let filterGradient {
            conv2dFilterGradient(input, offset: offset, gradient: dy, gradientOffset: 0, geometry: g, filters: filters,
                                 out: filterGradient)
        }
        guard let inputGradient else { return }
        if let reluOutput {
            conv2dInputGradient(dy, gradientOffset: 0, filter: filter, filterOffset: filterOffset, geometry: g, filters: filters,
                                reluOutput: reluOutput, reluOutputOffset: reluOutputOffset, out: inputGradient, sums: sums)
        } else {
            conv2dInputGradient(dy, gradientOffset: 0, filter: filter, filterOffset: filterOffset, geometry: g, filters: filters,
                                out: inputGradient)
        }
    }

    /// Stops with the op's name unless `pool` pools the output of convolution `g` with `filters`.
    public func checkPooling(_ pool: ConvGeometry, over g: ConvGeometry, filters: Int, _ op: String) {
        ensure(pool.batch == g.batch && pool.height == g.outHeight && pool.width == g.outWidth && pool.channels == filters,
               "\(op): pooling over \(pool.batch)×\(pool.height)×\(pool.width)×\(pool.channels), "
                   + "but the convolution gives \(g.batch)×\(g.outHeight)×\(g.outWidth)×\(filters)")
    }
}
