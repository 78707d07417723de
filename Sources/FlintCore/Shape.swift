/// Shape arithmetic shared by every op: row-major strides, broadcasting and the
/// dimension-merging that keeps backend kernels at low rank.
enum Shape {
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The element count, or nil when it overflows `Int` (dimensions sized from user input).
    static func checkedCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in shape.indices.reversed() {
            strides[axis] = running
            running *= Swift.max(shape[axis], 1)
        }
        return strides
    }

    /// NumPy broadcasting of two shapes, or nil when they are incompatible.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = Swift.max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard da == db || da == 1 || db == 1 else { return nil }
            result[i] = da == 1 ? db : da
        }
        return result
    }

    /// Strides that read a tensor of `shape`/`strides` as if it had `target` shape
    /// (right-aligned; broadcast dimensions get stride 0). Assumes compatibility was checked.
    static func broadcastStrides(shape: [Int], strides: [Int], to target: [Int]) -> [Int] {
        let lead = target.count - shape.count
        return target.indices.map { i in
            guard i >= lead else { return 0 }
            return shape[i - lead] == target[i] ? strides[i - lead] : 0
        }
    }

    /// Normalises a possibly negative axis, or stops with a message naming the op.
    static func axis(_ axis: Int, rank: Int, op: String) -> Int {
        let normal = axis < 0 ? axis + rank : axis
        ensure(normal >= 0 && normal < Swift.max(rank, 1), "\(op): axis \(axis) is out of range for rank \(rank)")
        return normal
    }

    /// Drops size-1 dimensions and merges neighbours that every operand walks contiguously,
    /// so `[64, 128]` + `[128]` becomes a 1-D launch when possible. Never returns rank 0.
    static func coalesce(shape: [Int], strides operands: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        mergeDimensions(shape: shape, strides: operands)
    }
}
