import FlintBackend

extension OpenCLBackend {
    public func im2col(
        _ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, padValue: Float, out: any DeviceBuffer
    ) {
        let source = clBuffer(input, "im2col")
        let output = clBuffer(out, "im2col")
        checkGeometry(geometry, "im2col")
        let count = geometry.patchCount * geometry.patchSize
        checkRange(source, offset: offset, count: geometry.imageCount, "im2col")
        checkRange(output, offset: 0, count: count, "im2col")
        // With runs, a work-item writes one kernel row (kernel_w * channels entries) of a patch.
        let items = tuning.convolutionRuns ? geometry.patchCount * geometry.kernelHeight : count
        launch1D(kernels.im2col, items: items,
                 [.buffer(source), .int(offset)] + geometry.kernelArgs + [.float(padValue), .buffer(output)])
    }

    public func col2im(_ columns: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer) {
        let source = clBuffer(columns, "col2im")
        let output = clBuffer(out, "col2im")
        checkGeometry(geometry, "col2im")
        checkRange(source, offset: offset, count: geometry.patchCount * geometry.patchSize, "col2im")
        checkRange(output, offset: 0, count: geometry.imageCount, "col2im")
        // With runs, a work-item sums all channels of one pixel.
        let items = tuning.convolutionRuns ? geometry.imageCount / geometry.channels : geometry.imageCount
        launch1D(kernels.col2im, items: items,
                 [.buffer(source), .int(offset)] + geometry.kernelArgs + [.buffer(output)])
    }

    public func maxPool2d(
        _ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer, taps: any DeviceBuffer
    ) {
        let source = clBuffer(input, "maxPool2d")
        let values = clBuffer(out, "maxPool2d")
        let winners = clBuffer(taps, "maxPool2d")
        checkGeometry(geometry, "maxPool2d")
        let count = geometry.patchCount * geometry.channels
        checkRange(source, offset: offset, count: geometry.imageCount, "maxPool2d")
        checkRange(values, offset: 0, count: count, "maxPool2d")
        checkRange(winners, offset: 0, count: count, "maxPool2d")
        launch1D(kernels.maxPool, items: tuning.convolutionRuns ? geometry.patchCount : count,
                 [.buffer(source), .int(offset)] + geometry.kernelArgs + [.buffer(values), .buffer(winners)])
    }

    public func maxPool2dBackward(
        _ gradient: any DeviceBuffer, offset: Int, taps: any DeviceBuffer, geometry: ConvGeometry, out: any DeviceBuffer
    ) {
        let source = clBuffer(gradient, "maxPool2dBackward")
        let winners = clBuffer(taps, "maxPool2dBackward")
        let output = clBuffer(out, "maxPool2dBackward")
        checkGeometry(geometry, "maxPool2dBackward")
        let count = geometry.patchCount * geometry.channels
        checkRange(source, offset: offset, count: count, "maxPool2dBackward")
        checkRange(winners, offset: 0, count: count, "maxPool2dBackward")
        checkRange(output, offset: 0, count: geometry.imageCount, "maxPool2dBackward")
        let items = tuning.convolutionRuns ? geometry.imageCount / geometry.channels : geometry.imageCount
        launch1D(kernels.maxPoolBackward, items: items,
                 [.buffer(source), .int(offset), .buffer(winners)] + geometry.kernelArgs + [.buffer(output)])
    }

    func checkGeometry(_ g: ConvGeometry, _ op: StaticString) {
        ensure(
            min(g.batch, g.height, g.width, g.channels, g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth,
                g.dilationHeight, g.dilationWidth, g.outHeight, g.outWidth) >= 1 && min(g.padTop, g.padLeft) >= 0,
            "OpenCLBackend.\(op): invalid geometry \(g)")
    }
}

extension ConvGeometry {
    /// The geometry as the kernels' `CONV_GEOMETRY` int arguments.
    var kernelArgs: [KernelArg] {
        [batch, height, width, channels, kernelHeight, kernelWidth, strideHeight, strideWidth,
         dilationHeight, dilationWidth, padTop, padLeft, outHeight, outWidth].map { .int($0) }
    }
}
