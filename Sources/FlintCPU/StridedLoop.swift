import FlintBackend

/// An iteration space over a shape for up to four strided operands (operand 0 is the output),
/// simplified for fast loops: extents of 1 are dropped and neighbouring dimensions that are
/// contiguous in every operand are merged, so a contiguous tensor is one long row and a
/// broadcast scalar is one row with stride 0.
///
/// Work is handed out as rows along the innermost dimension: `forEachRow` calls its body
/// with each operand's element offset of the row's first element and the row's length.
struct StridedLoop {
    static let operandLimit = 4

    /// Extents after simplification; rank >= 1.
    private(set) var shape: [Int]
    /// `strides[d * 4 + k]`: operand `k`'s stride along dimension `d`.
    private(set) var strides: [Int]
    let offsets: (Int, Int, Int, Int)
    let count: Int

    /// `operands[k]` = operand `k`'s element offset and strides aligned to `shape`.
    init(shape original: [Int], operands: [(offset: Int, strides: [Int])]) {
        ensure(operands.count <= Self.operandLimit, "StridedLoop: at most \(Self.operandLimit) operands, got \(operands.count)")
        let merged = mergeDimensions(shape: original, strides: operands.map(\.strides))
        // Interleaved, four per dimension (absent operands step 0), for the row loops.
        var steps = [Int](repeating: 0, count: merged.shape.count * 4)
        for (k, operandStrides) in merged.strides.enumerated() {
            for (d, stride) in operandStrides.enumerated() { steps[d * 4 + k] = stride }
        }
        shape = merged.shape
        strides = steps
        count = original.reduce(1, *)
        offsets = (
            operands.count > 0 ? operands[0].offset : 0, operands.count > 1 ? operands[1].offset : 0,
            operands.count > 2 ? operands[2].offset : 0, operands.count > 3 ? operands[3].offset : 0
        )
    }

    var rank: Int { shape.count }

    /// Operand `k`'s stride along the innermost dimension.
    @inline(__always)
    func innerStride(_ k: Int) -> Int { strides[(shape.count - 1) * 4 + k] }

    /// Calls `body(offset0, offset1, offset2, offset3, length)` for each row (or part of a
    /// row) covering the flat row-major positions `range` of the shape.
    @inline(__always)
    func forEachRow(in range: Range<Int>, _ body: (Int, Int, Int, Int, Int) -> Void) {
        guard !range.isEmpty else { return }
        let rank = shape.count
        if rank == 1 {
            let s = range.lowerBound
            body(
                offsets.0 &+ s &* strides[0], offsets.1 &+ s &* strides[1],
                offsets.2 &+ s &* strides[2], offsets.3 &+ s &* strides[3], range.count)
            return
        }
        shape.withUnsafeBufferPointer { extent in
            strides.withUnsafeBufferPointer { stride in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { index in
                    var p0 = offsets.0, p1 = offsets.1, p2 = offsets.2, p3 = offsets.3
                    var remainder = range.lowerBound
                    for d in (0..<rank).reversed() {
                        let i = remainder % extent[d]
                        remainder /= extent[d]
                        index[d] = i
                        p0 &+= i &* stride[d &* 4]
                        p1 &+= i &* stride[d &* 4 &+ 1]
                        p2 &+= i &* stride[d &* 4 &+ 2]
                        p3 &+= i &* stride[d &* 4 &+ 3]
                    }
                    let inner = extent[rank - 1]
                    let last = (rank - 1) * 4
                    let s0 = stride[last], s1 = stride[last + 1], s2 = stride[last + 2], s3 = stride[last + 3]
                    var j = index[rank - 1]
                    var position = range.lowerBound
                    let end = range.upperBound
                    while true {
                        let n = min(inner - j, end - position)
                        body(p0, p1, p2, p3, n)
                        position &+= n
                        if position >= end { break }
                        // Back to the row's start, then one step along the outer dimensions.
                        p0 &-= j &* s0
                        p1 &-= j &* s1
                        p2 &-= j &* s2
                        p3 &-= j &* s3
                        j = 0
                        var d = rank - 2
                        while true {
                            index[d] &+= 1
                            p0 &+= stride[d &* 4]
                            p1 &+= stride[d &* 4 &+ 1]
                            p2 &+= stride[d &* 4 &+ 2]
                            p3 &+= stride[d &* 4 &+ 3]
                            if index[d] < extent[d] || d == 0 { break }
                            let back = extent[d]
                            p0 &-= back &* stride[d &* 4]
                            p1 &-= back &* stride[d &* 4 &+ 1]
                            p2 &-= back &* stride[d &* 4 &+ 2]
                            p3 &-= back &* stride[d &* 4 &+ 3]
                            index[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }
}

extension CPUBackend {
    /// Checks that a strided operand matches `shape`'s rank and stays inside its buffer.
    func checkStrided(
        _ operand: StridedOperand, _ buffer: CPUBuffer, shape: [Int],
        _ primitive: StaticString, _ name: StaticString
    ) {
        ensure(
            operand.strides.count == shape.count,
            "CPUBackend.\(primitive): \(name) has \(operand.strides.count) strides for shape \(shape)")
        var low = operand.offset, high = operand.offset
        for (extent, stride) in zip(shape, operand.strides) {
            ensure(extent >= 0, "CPUBackend.\(primitive): negative extent in shape \(shape)")
            guard extent > 1 else { continue }
            let span = (extent - 1) * stride
            if span < 0 { low += span } else { high += span }
        }
        ensure(
            low >= 0 && high < buffer.elementCount,
            "CPUBackend.\(primitive): \(name) (offset \(operand.offset), strides \(operand.strides), shape \(shape)) reaches elements \(low)...\(high) of a buffer of \(buffer.elementCount)")
    }

    /// Checks a contiguous output of `count` elements at offset 0.
    func checkOutput(_ buffer: CPUBuffer, count: Int, _ primitive: StaticString) {
        checkRange(buffer, offset: 0, count: count, primitive, "output")
    }

    /// The row-major strides of `shape`.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for d in shape.indices.reversed() {
            strides[d] = running
            running *= shape[d]
        }
        return strides
    }
}
