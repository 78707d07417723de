import FlintBackend

extension OpenCLBackend {
    public func gather(
        _ x: any DeviceBuffer, offset: Int, layout: AxisLayout,
        indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int, out: any DeviceBuffer
    ) {
        let count = layout.outer * indexLength * layout.inner
        guard count > 0 else { return }
        let input = clBuffer(x, "gather")
        let index = clBuffer(indices, "gather")
        let output = clBuffer(out, "gather")
        checkRange(input, offset: offset, count: layout.count, "gather")
        checkRange(index, offset: indicesOffset, count: count, "gather")
        checkRange(output, offset: 0, count: count, "gather")
        launch1D(kernels.gather, items: count, [
            .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .int(layout.inner),
            .buffer(index), .int(indicesOffset), .int(indexLength), .buffer(output),
        ])
    }

    public func scatterAdd(
        _ src: any DeviceBuffer, srcOffset: Int,
        indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int,
        layout: AxisLayout, out: any DeviceBuffer
    ) {
        let count = layout.outer * indexLength * layout.inner
        guard count > 0 else { return }
        let source = clBuffer(src, "scatterAdd")
        let index = clBuffer(indices, "scatterAdd")
        let output = clBuffer(out, "scatterAdd")
        checkRange(source, offset: srcOffset, count: count, "scatterAdd")
        checkRange(index, offset: indicesOffset, count: count, "scatterAdd")
        checkRange(output, offset: 0, count: layout.count, "scatterAdd")
        launch1D(kernels.scatterAdd, items: count, [
            .buffer(source), .int(srcOffset), .buffer(index), .int(indicesOffset), .int(indexLength),
            .int(layout.outer), .int(layout.length), .int(layout.inner), .buffer(output),
        ])
    }
}
