import FlintBackend
import Foundation
import Testing

extension BackendConformance {
    static let random: [ConformanceCheck] = [
        ConformanceCheck("random: uniform fills equal Philox.value bit for bit (odd counts, high counters, scaled ranges)") { backend in
            let streams: [(count: Int, low: Float, high: Float, seed: UInt64, counter: UInt64)] = [
                (100_003, 0, 1, 0x1234_5678_9ABC_DEF0, 77), (1003, -0.5, 2, 0, 0), (1003, -0.5, 2, 0x1234_5678_9ABC_DEF0, 0xFFFF_FFFD),
                (1003, -0.5, 2, 42, 7), (7, -3, 5, 42, 3),
            ]
            for stream in streams {
                let distribution = RandomDistribution.uniform(low: stream.low, high: stream.high)
                let out = backend.allocate(byteCount: stream.count * 4)
                backend.random(out, count: stream.count, distribution: distribution, seed: stream.seed, counterOffset: stream.counter)
                let values = backend.floats(out, count: stream.count)
                let wrong = (0..<stream.count).filter {
                    values[$0].bitPattern
                        != Philox.value(at: $0, distribution: distribution, seed: stream.seed, counterOffset: stream.counter).bitPattern
                }
                #expect(wrong.isEmpty, "\(stream): \(wrong.count) differ, first at \(wrong.first ?? 0)")
                #expect(values.allSatisfy { $0 >= stream.low && $0 < stream.high })
                if stream.count > 100_000 {
                    #expect(abs(values.reduce(0.0) { $0 + Double($1) } / Double(stream.count) - 0.5) < 0.005)
                }
            }
        },
        ConformanceCheck("random: normal fills within 1e-5 of Philox.value, with unit moments; mean and scale apply") { backend in
            for (count, seed, counter) in [(200_001, UInt64(9), UInt64(0)), (4098, 7, 0xFFFF_FFFF)] {
                let distribution = RandomDistribution.normal(mean: 0, standardDeviation: 1)
                let out = backend.allocate(byteCount: count * 4)
                backend.random(out, count: count, distribution: distribution, seed: seed, counterOffset: counter)
                let values = backend.floats(out, count: count)
                let wrong = (0..<count).filter { i in
                    let expected = Philox.value(at: i, distribution: distribution, seed: seed, counterOffset: counter)
                    return !(abs(values[i] - expected) <= 1e-5 * max(1, abs(expected)))
                }
                #expect(wrong.isEmpty, "\(wrong.count) of \(count) differ, first at \(wrong.first ?? 0)")
                if count > 100_000 {
                    let mean = values.reduce(0.0) { $0 + Double($1) } / Double(count)
                    let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count)
                    #expect(abs(mean) < 0.01 && abs(variance.squareRoot() - 1) < 0.01)
                }
                let shifted = backend.allocate(byteCount: 4098 * 4)
                backend.random(shifted, count: 4098, distribution: .normal(mean: 1, standardDeviation: 0.5), seed: seed, counterOffset: counter)
                let moved = backend.floats(shifted, count: 4098)
                #expect(zip(moved, values).allSatisfy { abs($0 - (1 + 0.5 * $1)) <= 1e-5 })
                #expect(abs(moved.reduce(0, +) / 4098 - 1) < 0.05)
            }
        },
        ConformanceCheck("random: a counter offset continues the stream (four values per block)") { backend in
            let distribution = RandomDistribution.uniform(low: 0, high: 1)
            let whole = backend.allocate(byteCount: 64 * 4)
            backend.random(whole, count: 64, distribution: distribution, seed: 5, counterOffset: 0)
            // Blocks are four elements, so elements 40... come from counter offset 10.
            let tail = backend.allocate(byteCount: 24 * 4)
            backend.random(tail, count: 24, distribution: distribution, seed: 5, counterOffset: 10)
            #expect(backend.floats(tail, count: 24) == Array(backend.floats(whole, count: 64)[40...]))
        },
        ConformanceCheck("dropout (own and composed) keeps x · 1/(1 − rate) where the uniform stream's draw is ≥ rate, bit for bit") { backend in
            // (count, rate, seed, counter): tails of 1–3 elements past whole blocks of four, a count
            // split across cores, rate 0 (keeps all) and a high counter; x at an offset, with a
            // NaN and infinities (times 0 they give NaN, as in any product).
            let cases: [(Int, Float, UInt64, UInt64)] = [(1, 0.5, 3, 0), (7, 0.25, 42, 9), (4, 0.5, 1, 0xFFFF_FFFE),
                                                         (8_197, 0.9, 0x1234_5678_9ABC_DEF0, 77), (100_003, 0.25, 5, 1_000),
                                                         (1003, 0, 11, 0), (0, 0.5, 1, 0)]
            for (count, rate, seed, counter) in cases {
                var random = TestRandom(seed: UInt64(count) &+ seed)
                var x = random.floats(count, -3, 3)
                if count > 10 { (x[2], x[5], x[9]) = (.nan, .infinity, -.infinity) }
                let source = backend.upload([.nan, .nan] + x)
                let scale = 1 / (1 - rate)
                let expected = (0..<count).map { i in
                    x[i] * (Philox.value(at: i, distribution: .uniform(low: 0, high: 1), seed: seed, counterOffset: counter) >= rate
                        ? scale : 0)
                }
                for composed in [false, true] {
                    let out = backend.allocate(byteCount: max(1, count) * 4)
                    if composed {
                        backend.composedDropout(source, offset: 2, count: count, rate: rate, seed: seed, counterOffset: counter, out: out)
                    } else {
                        backend.dropout(source, offset: 2, count: count, rate: rate, seed: seed, counterOffset: counter, out: out)
                    }
                    let values = backend.floats(out, count: count)
                    let wrong = (0..<count).filter {
                        values[$0].isNaN ? !expected[$0].isNaN : values[$0].bitPattern != expected[$0].bitPattern
                    }
                    let what = "\(composed ? "composed" : "own") dropout of \(count) at rate \(rate), seed \(seed), counter \(counter)"
                    #expect(wrong.isEmpty, "\(what): \(wrong.count) differ, first at \(wrong.first ?? 0)")
                }
            }
        },
    ]
}
