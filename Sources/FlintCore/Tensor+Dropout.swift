import FlintBackend

extension Tensor {
    /// Inverted dropout: each element times `1 / (1 - rate)` where a uniform draw from
    /// `generator` is at least `rate`, else times 0 — `self * dropoutMask(shape, rate:,
    /// generator:)`, the same draws and the same values, as one op: the mask is never made, and
    /// the gradient passes through the same draws again (`Backend.dropout`).
    ///
    /// - Parameters:
    ///   - rate: The probability of a zero, in [0, 1).
    ///   - generator: The random stream; it advances, so the next call differs.
    public func dropout(rate: Float, generator: RandomGenerator) -> Tensor {
        requireFloat("dropout")
        guard checkArgument(rate >= 0 && rate < 1, "dropout: rate must be in [0, 1), got \(rate)") else {
            return .placeholder(shape, on: device)
        }
        let x = contiguous()
        let result = Tensor(uninitializedShape: shape, backend: backend)
        guard count > 0 else { return result }
        let (seed, counter) = (generator.seed, generator.reserve(blocks: (count + 3) / 4))
        backend.dropout(x.buffer, offset: x.offset, count: count, rate: rate, seed: seed, counterOffset: counter, out: result.buffer)
        return result.recorded("dropout", [self]) { g in
            let dy = g.contiguous()
            let dx = Tensor(uninitializedShape: dy.shape, backend: dy.backend)
            dy.backend.dropout(dy.buffer, offset: dy.offset, count: dy.count, rate: rate, seed: seed, counterOffset: counter,
                               out: dx.buffer)
            return [dx]
        }
    }

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
        guard checkArgument(rate >= 0 && rate < 1, "dropoutMask: rate must be in [0, 1), got \(rate)") else {
            return .placeholder(shape, on: device)
        }
        let draws = uniform(shape, generator: generator, on: device)
        return draws.zipped(draws.scalar(rate), .greaterEqual, then: .affine(scale: 1 / (1 - rate), shift: 0))
    }
}
