/// Sizes from file headers are unchecked input: a shape is accepted only when the product of its
/// non-zero dimensions (times the element's bytes) fits in an `Int`. Then no product of any of
/// its dimensions, taken in any order, can overflow later — a zero dimension makes the count 0,
/// but code that multiplies strides from the other end would still meet the huge ones.
enum ElementCount {
    /// The number of elements of `shape`, or nil when its dimensions (and `elementBytes`) overflow.
    static func of(_ shape: [Int], elementBytes: Int = 1) -> Int? {
        var bound = elementBytes
        for dimension in shape where dimension != 0 {
            let (product, overflow) = bound.multipliedReportingOverflow(by: dimension)
            if overflow || dimension < 0 { return nil }
            bound = product
        }
        return shape.contains(0) ? 0 : bound / elementBytes
    }
}
