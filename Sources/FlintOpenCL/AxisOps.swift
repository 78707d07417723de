import FlintBackend

extension OpenCLBackend {
    /// How to split a reduction whose outputs are too few to occupy the device: `chunks` partials
    /// per output, each covering `per` rows. Nil when one work-item per output is enough.
    func reductionSplit(_ layout: AxisLayout) -> (chunks: Int, per: Int)? {
        let outputs = layout.outer * layout.inner
        guard outputs < tuning.reductionParallelism, layout.length >= 2 * tuning.minimumChunk else { return nil }
        let wanted = (tuning.reductionParallelism + outputs - 1) / outputs
        let chunks = min(wanted, layout.length / tuning.minimumChunk)
        guard chunks >= 2 else { return nil }
        let per = (layout.length + chunks - 1) / chunks
        return ((layout.length + per - 1) / per, per)
    }

    /// Checks an axis operation's layout and its input and output ranges.
    func checkAxis(
        _ x: OpenCLBuffer, offset: Int, layout: AxisLayout, out: OpenCLBuffer, outputs: Int, _ op: StaticString
    ) {
        ensure(
            layout.outer >= 1 && layout.length >= 1 && layout.inner >= 1,
            "OpenCLBackend.\(op): layout \(layout) must have outer, length and inner >= 1")
        checkRange(x, offset: offset, count: layout.count, op)
        checkRange(out, offset: 0, count: outputs, op)
    }

    public func reduce(_ op: ReduceOp, _ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        let input = clBuffer(x, "reduce")
        let output = clBuffer(out, "reduce")
        let outputs = layout.outer * layout.inner
        checkAxis(input, offset: offset, layout: layout, out: output, outputs: outputs, "reduce")
        if tuning.columnReduction && layout.inner >= tuning.reduceVectorWidth {
            reduceColumns(op, input, offset: offset, layout: layout, out: output)
            return
        }
        let rows = usesRowGroups(layout)
        let axisKernel = kernels.reduceAxis[op]!
        guard !rows || reductionSplit(layout) != nil else {
            reduceRows(op, input, offset: offset, outer: layout.outer, length: layout.length, out: output)
            return
        }
        guard let (chunks, per) = reductionSplit(layout) else {
            launch1D(axisKernel, items: outputs, [
                .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .int(layout.inner),
                .buffer(output),
            ])
            return
        }
        let partialCount = layout.outer * chunks * layout.inner
        let partials = scratch(elements: partialCount)
        launch1D(kernels.reducePartial[op]!, items: partialCount, [
            .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .int(layout.inner),
            .int(chunks), .int(per), .buffer(partials),
        ])
        if rows && chunks >= tuning.rowGroupMinimum {
            reduceRows(op, partials, offset: 0, outer: layout.outer, length: chunks, out: output)
            return
        }
        launch1D(axisKernel, items: outputs, [
            .buffer(partials), .int(0), .int(layout.outer), .int(chunks), .int(layout.inner), .buffer(output),
        ])
    }

    /// Whether an axis op over `layout` takes a work-group per row (`*_rows`, GPUs): the rows are
    /// contiguous and long enough to share.
    func usesRowGroups(_ layout: AxisLayout) -> Bool {
        tuning.rowGroups && layout.inner == 1 && layout.length >= tuning.rowGroupMinimum
    }

    /// `reduce_*_rows`: one work-group per row of `length` contiguous elements.
    func reduceRows(_ op: ReduceOp, _ input: OpenCLBuffer, offset: Int, outer: Int, length: Int, out: OpenCLBuffer) {
        launch(kernels.reduceRows[op]!, global: [outer * tuning.rowGroupSize], local: [tuning.rowGroupSize], [
            .buffer(input), .int(offset), .int(outer), .int(length), .buffer(out),
        ])
    }

    /// Reduces with `reduce_*_columns`: each work-item takes a vector of neighbouring columns,
    /// and long axes are split into partials that a second pass reduces.
    func reduceColumns(_ op: ReduceOp, _ input: OpenCLBuffer, offset: Int, layout: AxisLayout, out: OpenCLBuffer) {
        let width = tuning.reduceVectorWidth
        let groups = layout.inner / width
        let items = layout.outer * groups
        let target = max(1, tuning.reductionParallelism / width)
        var chunks = 1
        if items < target {
            chunks = max(1, min((target + items - 1) / items, layout.length / tuning.minimumChunk))
        }
        let per = (layout.length + chunks - 1) / chunks
        chunks = (layout.length + per - 1) / per
        let destination = chunks == 1 ? out : scratch(elements: layout.outer * chunks * layout.inner)
        launch(
            kernels.reduceColumns[op]!, global: [groups, layout.outer * chunks], local: [min(8, tuning.localSize), 1],
            [
                .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .int(layout.inner),
                .int(chunks), .int(per), .buffer(destination),
            ])
        if chunks > 1 {
            reduce(op, destination, offset: 0, layout: AxisLayout(outer: layout.outer, length: chunks, inner: layout.inner), out: out)
        }
    }

    public func argmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        let input = clBuffer(x, "argmax")
        let output = clBuffer(out, "argmax")
        let outputs = layout.outer * layout.inner
        checkAxis(input, offset: offset, layout: layout, out: output, outputs: outputs, "argmax")
        guard let (chunks, per) = reductionSplit(layout) else {
            launch1D(kernels.argmaxAxis, items: outputs, [
                .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .int(layout.inner),
                .buffer(output),
            ])
            return
        }
        let partialCount = layout.outer * chunks * layout.inner
        let values = scratch(elements: partialCount)
        let indices = scratch(elements: partialCount)
        launch1D(kernels.argmaxPartial, items: partialCount, [
            .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .int(layout.inner),
            .int(chunks), .int(per), .buffer(values), .buffer(indices),
        ])
        launch1D(kernels.argmaxCombine, items: outputs, [
            .buffer(values), .buffer(indices), .int(layout.outer), .int(chunks), .int(layout.inner), .buffer(output),
        ])
    }

    public func softmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, log: Bool, out: any DeviceBuffer) {
        let input = clBuffer(x, "softmax")
        let output = clBuffer(out, "softmax")
        checkAxis(input, offset: offset, layout: layout, out: output, outputs: layout.count, "softmax")
        if usesRowGroups(layout) {
            launch(log ? kernels.logSoftmaxRows : kernels.softmaxRows, global: [layout.outer * tuning.rowGroupSize],
                   local: [tuning.rowGroupSize], [
                       .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .buffer(output),
                   ])
            return
        }
        launch1D(log ? kernels.logSoftmax : kernels.softmax, items: layout.outer * layout.inner, [
            .buffer(input), .int(offset), .int(layout.outer), .int(layout.length), .int(layout.inner),
            .buffer(output),
        ])
    }
}
