import FlintBackend

/// Operands aligned to one shape after merging dimensions that every operand walks
/// contiguously and dropping dimensions of size 1. Dimensions are innermost first, the order
/// the `*_strided` kernels take them in.
struct MergedLayout {
    var shape: [Int]
    /// Per operand, one stride per dimension of `shape`.
    var strides: [[Int]]

    var rank: Int { shape.count }

    /// Merges `shape` (outermost first, as callers give it) over the operands' `strides`.
    init(shape: [Int], strides operandStrides: [[Int]]) {
        let merged = mergeDimensions(shape: shape, strides: operandStrides)
        self.shape = merged.shape.reversed()
        self.strides = merged.strides.map { $0.reversed() }
    }

    var shapeArgument: KernelArg { .int8(packInt8(shape, pad: 1)) }

    func stridesArgument(_ operand: Int) -> KernelArg { .int8(packInt8(strides[operand], pad: 0)) }
}

extension OpenCLBackend {
    /// Checks every element an operand can reach over `layout` lies inside its buffer.
    func checkOperand(
        _ buffer: OpenCLBuffer, offset: Int, layout: MergedLayout, operand: Int, _ op: StaticString
    ) {
        var low = offset
        var high = offset
        for (size, stride) in zip(layout.shape, layout.strides[operand]) {
            if stride > 0 { high += (size - 1) * stride } else { low += (size - 1) * stride }
        }
        ensure(
            low >= 0 && (high + 1) * 4 <= buffer.byteCount,
            "OpenCLBackend.\(op): strided operand reaches elements \(low)...\(high) of a buffer of \(buffer.byteCount) bytes")
    }

    /// Resolves, checks and merges the strided inputs of an element-wise op over `shape`.
    func prepare(
        _ operands: [StridedOperand], shape: [Int], _ op: StaticString
    ) -> (buffers: [OpenCLBuffer], layout: MergedLayout) {
        for operand in operands {
            ensure(
                operand.strides.count == shape.count,
                "OpenCLBackend.\(op): strides \(operand.strides) do not match shape \(shape)")
        }
        let buffers = operands.map { clBuffer($0.buffer, op) }
        let layout = MergedLayout(shape: shape, strides: operands.map(\.strides))
        ensure(layout.rank <= 8, "OpenCLBackend.\(op): at most 8 dimensions are supported, got shape \(shape)")
        for (index, operand) in operands.enumerated() {
            checkOperand(buffers[index], offset: operand.offset, layout: layout, operand: index, op)
        }
        return (buffers, layout)
    }

    /// Launches an element-wise kernel over `count` elements (`elementsPerItem` per work-item).
    func launchLinear(_ kernel: Kernel, count: Int, _ args: [KernelArg]) {
        let perItem = tuning.elementsPerItem
        launch1D(kernel, items: (count + perItem - 1) / perItem, args)
    }

    // MARK: Element-wise primitives

    public func unary(_ op: UnaryOp, _ x: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let (buffers, layout) = prepare([x], shape: shape, "unary")
        let output = clBuffer(out, "unary")
        checkRange(output, offset: 0, count: count, "unary")
        let (name, p0, p1) = op.kernel
        let kernels = kernels.unary[name]!
        if layout.rank == 1 {
            launchLinear(kernels.linear, count: count, [
                .buffer(output), .int(count),
                .buffer(buffers[0]), .int(x.offset), .int(layout.strides[0][0]),
                .float(p0), .float(p1),
            ])
        } else {
            launchLinear(kernels.strided, count: count, [
                .buffer(output), .int(count), .int(layout.rank), layout.shapeArgument,
                .buffer(buffers[0]), .int(x.offset), layout.stridesArgument(0),
                .float(p0), .float(p1),
            ])
        }
    }

    public func binary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let (buffers, layout) = prepare([a, b], shape: shape, "binary")
        let output = clBuffer(out, "binary")
        checkRange(output, offset: 0, count: count, "binary")
        let kernels = kernels.binary[op]!
        if layout.rank == 1 {
            launchLinear(kernels.linear, count: count, [
                .buffer(output), .int(count),
                .buffer(buffers[0]), .int(a.offset), .int(layout.strides[0][0]),
                .buffer(buffers[1]), .int(b.offset), .int(layout.strides[1][0]),
            ])
        } else {
            launchLinear(kernels.strided, count: count, [
                .buffer(output), .int(count), .int(layout.rank), layout.shapeArgument,
                .buffer(buffers[0]), .int(a.offset), layout.stridesArgument(0),
                .buffer(buffers[1]), .int(b.offset), layout.stridesArgument(1),
            ])
        }
    }

    public func binary(
        _ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], then activation: UnaryOp, out: any DeviceBuffer
    ) {
        let fused: (name: String, slope: Float)?
        switch activation {
        case .relu: fused = ("relu", 0)
        case .sigmoid: fused = ("sigmoid", 0)
        case .tanh: fused = ("tanh", 0)
        case .leakyRelu(let slope): fused = ("leaky_relu", slope)
        default: fused = nil
        }
        guard op == .add, let fused, let kernels = kernels.addThen[fused.name] else {
            return composedBinary(op, a, b, shape: shape, then: activation, out: out)
        }
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let (buffers, layout) = prepare([a, b], shape: shape, "binary")
        let output = clBuffer(out, "binary")
        checkRange(output, offset: 0, count: count, "binary")
        if layout.rank == 1 {
            launchLinear(kernels.linear, count: count, [
                .buffer(output), .int(count),
                .buffer(buffers[0]), .int(a.offset), .int(layout.strides[0][0]),
                .buffer(buffers[1]), .int(b.offset), .int(layout.strides[1][0]), .float(fused.slope),
            ])
        } else {
            launchLinear(kernels.strided, count: count, [
                .buffer(output), .int(count), .int(layout.rank), layout.shapeArgument,
                .buffer(buffers[0]), .int(a.offset), layout.stridesArgument(0),
                .buffer(buffers[1]), .int(b.offset), layout.stridesArgument(1), .float(fused.slope),
            ])
        }
    }

    public func select(
        _ condition: StridedOperand, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer
    ) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let (buffers, layout) = prepare([condition, a, b], shape: shape, "select")
        let output = clBuffer(out, "select")
        checkRange(output, offset: 0, count: count, "select")
        if layout.rank == 1 {
            launchLinear(kernels.select.linear, count: count, [
                .buffer(output), .int(count),
                .buffer(buffers[0]), .int(condition.offset), .int(layout.strides[0][0]),
                .buffer(buffers[1]), .int(a.offset), .int(layout.strides[1][0]),
                .buffer(buffers[2]), .int(b.offset), .int(layout.strides[2][0]),
            ])
        } else {
            launchLinear(kernels.select.strided, count: count, [
                .buffer(output), .int(count), .int(layout.rank), layout.shapeArgument,
                .buffer(buffers[0]), .int(condition.offset), layout.stridesArgument(0),
                .buffer(buffers[1]), .int(a.offset), layout.stridesArgument(1),
                .buffer(buffers[2]), .int(b.offset), layout.stridesArgument(2),
            ])
        }
    }

    // MARK: Memory primitives

    public func copy(_ src: StridedOperand, to dst: StridedOperand, shape: [Int]) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let (buffers, layout) = prepare([src, dst], shape: shape, "copy")
        if layout.rank == 1 {
            launchLinear(kernels.copy.linear, count: count, [
                .buffer(buffers[1]), .int(dst.offset), .int(layout.strides[1][0]),
                .buffer(buffers[0]), .int(src.offset), .int(layout.strides[0][0]),
                .int(count),
            ])
        } else if tuning.tiledCopy && layout.shape[0] >= 4 && layout.shape[1] >= 4
            && (abs(layout.strides[0][0]) > 1 || abs(layout.strides[1][0]) > 1)
        {
            // An operand steps through memory along the innermost dimension (a transpose): copy
            // tile by tile so that each cache line is used up while it is loaded.
            let tile = tuning.copyTile
            launch(
                kernels.copyTiled,
                global: [(layout.shape[0] + tile - 1) / tile, (layout.shape[1] + tile - 1) / tile,
                    layout.shape[2...].reduce(1, *)],
                local: [tuning.local2D.0, tuning.local2D.1, 1],
                [
                    .buffer(buffers[1]), .int(dst.offset), layout.stridesArgument(1),
                    .buffer(buffers[0]), .int(src.offset), layout.stridesArgument(0),
                    .int(layout.rank), layout.shapeArgument,
                ])
        } else {
            launchLinear(kernels.copy.strided, count: count, [
                .buffer(buffers[1]), .int(dst.offset), layout.stridesArgument(1),
                .buffer(buffers[0]), .int(src.offset), layout.stridesArgument(0),
                .int(count), .int(layout.rank), layout.shapeArgument,
            ])
        }
    }

    public func fill(_ buffer: any DeviceBuffer, offset: Int, count: Int, bits: UInt32) {
        guard count > 0 else { return }
        let target = clBuffer(buffer, "fill")
        checkRange(target, offset: offset, count: count, "fill")
        launchLinear(kernels.fill, count: count, [.buffer(target), .int(offset), .int(count), .uint(bits)])
    }

    public func cast(
        _ src: any DeviceBuffer, offset: Int, count: Int, from: DType, to: DType, out: any DeviceBuffer
    ) {
        guard count > 0 else { return }
        let source = clBuffer(src, "cast")
        let output = clBuffer(out, "cast")
        checkRange(source, offset: offset, count: count, "cast")
        checkRange(output, offset: 0, count: count, "cast")
        switch (from, to) {
        case (.float32, .int32):
            launchLinear(kernels.castToInt, count: count, [.buffer(source), .int(offset), .int(count), .buffer(output)])
        case (.int32, .float32):
            launchLinear(kernels.castToFloat, count: count, [.buffer(source), .int(offset), .int(count), .buffer(output)])
        default:
            launchLinear(kernels.copy.linear, count: count, [
                .buffer(output), .int(0), .int(1), .buffer(source), .int(offset), .int(1), .int(count),
            ])
        }
    }
}
