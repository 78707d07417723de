import CVectorMath
import FlintBackend
import Foundation

extension CPUBackend {
    /// Philox4x32-10 fill, bit for bit as `Philox.value` defines it: element `i` takes word
    /// `i % 4` of block `counterOffset + i / 4`. Each block is computed once (with
    /// `Philox.block` itself) for its four elements; blocks are shared out across cores.
    public func random(
        _ out: any DeviceBuffer, count: Int, distribution: RandomDistribution, seed: UInt64, counterOffset: UInt64
    ) {
        let output = cpuBuffer(out, "random")
        ensure(count >= 0, "CPUBackend.random: negative count \(count)")
        checkRange(output, offset: 0, count: count, "random", "output")
        guard count > 0 else { return }
        let dst = output.floats
        let blocks = (count + 3) / 4
        // Generating numbers costs far more than storing them, so split smaller amounts of work.
        Parallel.forEachRange(count: blocks, minimumChunk: 2048) { range in
            switch distribution {
            case .uniform(let low, let high) where range.upperBound * 4 <= count:
                // Whole blocks in C, eight at a time on AVX2 (dropout's masks: 2% of the convnet).
                flint_philox_uniform(dst + range.lowerBound * 4, range.lowerBound, range.count, seed, counterOffset, low, high - low)
            case .uniform(let low, let high):
                let scale = high - low
                Self.fillBlocks(dst, count: count, blocks: range, seed: seed, counterOffset: counterOffset) { w in
                    (
                        low + scale * Philox.unitFloat(w.0), low + scale * Philox.unitFloat(w.1),
                        low + scale * Philox.unitFloat(w.2), low + scale * Philox.unitFloat(w.3)
                    )
                }
            case .normal(let mean, let standardDeviation):
                Self.fillBlocks(dst, count: count, blocks: range, seed: seed, counterOffset: counterOffset) { w in
                    let (z0, z1) = Self.boxMuller(w.0, w.1)
                    let (z2, z3) = Self.boxMuller(w.2, w.3)
                    return (
                        mean + standardDeviation * z0, mean + standardDeviation * z1,
                        mean + standardDeviation * z2, mean + standardDeviation * z3
                    )
                }
            }
        }
    }

    /// Writes the four elements of each block in `blocks` (fewer for the last block when
    /// `count` is not a multiple of 4), computed by `transform` from the block's words.
    @inline(__always)
    static func fillBlocks(
        _ dst: UnsafeMutablePointer<Float>, count: Int, blocks: Range<Int>, seed: UInt64, counterOffset: UInt64,
        _ transform: ((UInt32, UInt32, UInt32, UInt32)) -> (Float, Float, Float, Float)
    ) {
        for block in blocks {
            let values = transform(Philox.block(counterOffset &+ UInt64(block), seed: seed))
            let first = block * 4
            let q = dst + first
            if first + 4 <= count {
                q[0] = values.0
                q[1] = values.1
                q[2] = values.2
                q[3] = values.3
            } else {
                let remaining = count - first
                q[0] = values.0
                if remaining > 1 { q[1] = values.1 }
                if remaining > 2 { q[2] = values.2 }
            }
        }
    }

    /// The pair of standard normals from one word pair, computed as `Philox.value` does.
    @inline(__always)
    static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
        let u1 = Float((a >> 8) + 1) * 0x1p-24
        let u2 = Philox.unitFloat(b)
        let r = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Float.pi * u2
        return (r * Foundation.cos(angle), r * Foundation.sin(angle))
    }
}

extension CPUBackend {
    /// Dropout in one pass: each block's four draws are made and applied in registers, never
    /// stored (the composed default writes the draws and a mask and reads both back: four
    /// passes over the tensor, forward and again backward). Same draws, same bits.
    public func dropout(_ x: any DeviceBuffer, offset: Int, count: Int, rate: Float, seed: UInt64, counterOffset: UInt64,
                        out: any DeviceBuffer) {
        let input = cpuBuffer(x, "dropout"), output = cpuBuffer(out, "dropout")
        ensure(count >= 0, "CPUBackend.dropout: negative count \(count)")
        checkRange(input, offset: offset, count: count, "dropout", "input")
        checkOutput(output, count: count, "dropout")
        guard count > 0 else { return }
        let scale = 1 / (1 - rate)
        let source = UnsafePointer(input.floats + offset), target = output.floats
        let whole = count / 4
        Parallel.forEachRange(count: whole, minimumChunk: 2048) { range in
            flint_philox_dropout(source + range.lowerBound * 4, target + range.lowerBound * 4, range.lowerBound, range.count,
                                 seed, counterOffset, rate, scale)
        }
        // The last block's first count mod 4 elements.
        guard whole * 4 < count else { return }
        let words = Philox.block(counterOffset &+ UInt64(whole), seed: seed)
        for (i, word) in [words.0, words.1, words.2].enumerated() where whole * 4 + i < count {
            target[whole * 4 + i] = source[whole * 4 + i] * (Philox.unitFloat(word) >= rate ? scale : 0)
        }
    }
}
