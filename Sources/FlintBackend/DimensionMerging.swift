/// Merges the dimensions of an iteration space that every operand walks contiguously, and
/// drops dimensions of size 1, so that a contiguous tensor becomes one long row and a broadcast
/// scalar one row of stride 0. FlintCore does this before it calls a backend, and the backends
/// again for what reaches them directly; all three use this one function.
///
/// Dimension `d` merges into the one outside it when, for every operand, the outer stride is
/// exactly the inner stride times the inner extent.
///
/// - Parameters:
///   - shape: The extents, outermost first.
///   - strides: Per operand, one stride (in elements) per dimension of `shape`.
/// - Returns: The merged extents, outermost first, never empty (`[1]` with stride 0 for a
///   single element), and each operand's strides for them.
public func mergeDimensions(shape: [Int], strides operands: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
    var outShape: [Int] = []
    outShape.reserveCapacity(shape.count)
    var outStrides: [[Int]] = Array(repeating: [], count: operands.count)
    for axis in shape.indices where shape[axis] != 1 {
        if let last = outShape.indices.last,
           operands.indices.allSatisfy({ outStrides[$0][last] == operands[$0][axis] &* shape[axis] }) {
            outShape[last] *= shape[axis]
            for k in operands.indices { outStrides[k][last] = operands[k][axis] }
        } else {
            outShape.append(shape[axis])
            for k in operands.indices { outStrides[k].append(operands[k][axis]) }
        }
    }
    if outShape.isEmpty {
        return ([1], Array(repeating: [0], count: operands.count))
    }
    return (outShape, outStrides)
}
