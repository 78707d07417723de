import Foundation

/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011):
/// a counter-based generator, so element `i` of a fill can be computed independently on
/// any device. This is the definition every backend reproduces bit for bit:
///
/// - key = (low 32 bits of seed, high 32 bits of seed)
/// - element `i` of a fill with `counterOffset` uses block `b = counterOffset + i / 4`, whose
///   counter is `(low32(b), high32(b), 0, 0)`, and takes word `i % 4` of the 10-round output.
/// - uniform: `u = Float(word >> 8) * 2^-24` in [0, 1), value `low + (high - low) * u`.
/// - normal (Box–Muller on the block's word pairs (0,1) and (2,3)):
///   `u1 = Float((w[2p] >> 8) + 1) * 2^-24` in (0, 1], `u2 = Float(w[2p+1] >> 8) * 2^-24`,
///   `r = sqrt(-2 log u1)`; even elements take `r cos(2π u2)`, odd ones `r sin(2π u2)`.
///   Values are `mean + standardDeviation * z`.
public enum Philox {
    public static let multiplier0: UInt32 = 0xD251_1F53
    public static let multiplier1: UInt32 = 0xCD9E_8D57
    public static let weyl0: UInt32 = 0x9E37_79B9
    public static let weyl1: UInt32 = 0xBB67_AE85

    /// The four output words of one block.
    @inlinable
    public static func block(_ index: UInt64, seed: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: index)
        var c1 = UInt32(truncatingIfNeeded: index >> 32)
        var c2: UInt32 = 0
        var c3: UInt32 = 0
        var k0 = UInt32(truncatingIfNeeded: seed)
        var k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for round in 0..<10 {
            if round > 0 {
                k0 &+= weyl0
                k1 &+= weyl1
            }
            let p0 = UInt64(multiplier0) * UInt64(c0)
            let p1 = UInt64(multiplier1) * UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        }
        return (c0, c1, c2, c3)
    }

    @inlinable
    public static func unitFloat(_ word: UInt32) -> Float {
        Float(word >> 8) * 0x1p-24
    }

    /// Element `i` of a fill, exactly as backends must compute it (normals in Float32 math).
    @inlinable
    public static func value(at i: Int, distribution: RandomDistribution, seed: UInt64, counterOffset: UInt64) -> Float {
        let w = block(counterOffset &+ UInt64(i / 4), seed: seed)
        let lane = i % 4
        switch distribution {
        case .uniform(let low, let high):
            let word = lane == 0 ? w.0 : lane == 1 ? w.1 : lane == 2 ? w.2 : w.3
            return low + (high - low) * unitFloat(word)
        case .normal(let mean, let std):
            let (a, b) = lane < 2 ? (w.0, w.1) : (w.2, w.3)
            let u1 = Float((a >> 8) + 1) * 0x1p-24
            let u2 = unitFloat(b)
            let r = (-2 * Foundation.log(u1)).squareRoot()
            let angle = 2 * Float.pi * u2
            let z = lane % 2 == 0 ? r * Foundation.cos(angle) : r * Foundation.sin(angle)
            return mean + std * z
        }
    }
}
