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
}
