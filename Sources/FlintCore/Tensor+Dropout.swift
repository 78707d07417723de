import FlintBackend

extension Tensor {
    /// An inverted-dropout mask: `1 / (1 - rate)` where a uniform draw from `generator` is at
    /// least `rate`, else 0. The comparison and the scaling are one pass over the draws (on
    /// backends that fuse a binary op with an affine map), not two.
    ///
    /// - Parameters:
    ///   - shape: The mask's shape.
    ///   - rate: The probability of a zero, in [0, 1).
    ///   - generator: The random stream; it advances, so the next mask differs.
    ///   - device: Where the mask lives.
    public static func dropoutMask(_ shape: [Int], rate: Float, generator: RandomGenerator, on device: Device = .current) -> Tensor {
        ensure(rate >= 0 && rate < 1, "dropoutMask: rate must be in [0, 1), got \(rate)")
        let draws = uniform(shape, generator: generator, on: device)
        return draws.zipped(draws.scalar(rate), .greaterEqual, then: .affine(scale: 1 / (1 - rate), shift: 0))
    }
}
