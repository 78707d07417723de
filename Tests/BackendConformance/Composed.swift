import FlintBackend
import Testing

/// The defaults of `BackendDefaults`, run on each backend through its own required primitives
/// and compared with the same references. A backend that overrides a primitive is thereby also
/// checked against the composition it replaces.
extension BackendConformance {
    static let composed: [ConformanceCheck] = [
        ConformanceCheck("composed argmax and softmax match the references, NaN and ties included") { backend in
            var random = TestRandom(seed: 31)
            for layout in [AxisLayout(outer: 4, length: 9, inner: 1), AxisLayout(outer: 3, length: 6, inner: 5)] {
                var values = random.floats(layout.count).map { ($0 * 4).rounded() }  // many ties
                values[5] = .nan
                values[layout.count - 2] = -.infinity
                let x = backend.upload([0] + values)
                let lines = layout.outer * layout.inner
                let winners = backend.allocate(byteCount: lines * 4)
                backend.composedArgmax(x, offset: 1, layout: layout, out: winners)
                #expect(backend.ints(winners, count: lines) == referenceArgmax(values, layout), "argmax \(layout)")

                let finite = values.map { $0.isNaN ? 1 : $0 }
                let y = backend.upload(finite)
                let composed = backend.allocate(byteCount: layout.count * 4), own = backend.allocate(byteCount: layout.count * 4)
                for log in [false, true] {
                    backend.composedSoftmax(y, offset: 0, layout: layout, log: log, out: composed)
                    backend.softmax(y, offset: 0, layout: layout, log: log, out: own)
                    expectClose(backend.floats(composed, count: layout.count), backend.floats(own, count: layout.count),
                                tolerance: 2e-6, "softmax log \(log) \(layout)")
                }
            }
        },
        ConformanceCheck("composed im2col, col2im, maxPool2d and its adjoint match the references") { backend in
            for test in ConvCase.all.prefix(12) {
                var random = TestRandom(seed: 41 &+ UInt64(test.imageCount))
                let image = random.floats(test.imageCount)
                let columns = backend.allocate(byteCount: test.columnCount * 4)
                backend.composedIm2col(backend.upload([1] + image), offset: 1, geometry: test.geometry, padValue: -.infinity, out: columns)
                #expect(backend.floats(columns, count: test.columnCount) == test.referenceIm2col(image, padValue: -.infinity).map(Float.init),
                        "im2col \(test)")
                let y = random.floats(test.columnCount)
                let folded = backend.upload([Float](repeating: .nan, count: test.imageCount))
                backend.composedCol2im(backend.upload(y), offset: 0, geometry: test.geometry, out: folded)
                expectClose(backend.floats(folded, count: test.imageCount), test.referenceCol2im(y), tolerance: 1e-6, "col2im \(test)")

                let x = test.poolingInput(seed: 5 &+ UInt64(test.imageCount))
                let values = backend.allocate(byteCount: test.pooledCount * 4), taps = backend.allocate(byteCount: test.pooledCount * 4)
                backend.composedMaxPool2d(backend.upload(x), offset: 0, geometry: test.geometry, out: values, taps: taps)
                let expected = test.referenceMaxPool(x)
                #expect(backend.ints(taps, count: test.pooledCount) == expected.taps, "maxPool2d taps \(test)")
                #expect(sameValues(backend.floats(values, count: test.pooledCount), expected.values), "maxPool2d values \(test)")
                let gradient = random.floats(test.pooledCount)
                let back = backend.upload([Float](repeating: .nan, count: test.imageCount))
                backend.composedMaxPool2dBackward(backend.upload(gradient), offset: 0, taps: backend.upload(ints: expected.taps),
                                                  geometry: test.geometry, out: back)
                expectClose(backend.floats(back, count: test.imageCount), test.referenceMaxPoolBackward(gradient, taps: expected.taps),
                            tolerance: 1e-6, "maxPool2dBackward \(test)")
            }
        },
        ConformanceCheck("composed fill, random and Adam step match the backend's own") { backend in
            let buffer = backend.upload([Float](repeating: 3, count: 10))
            backend.composedFill(buffer, offset: 2, count: 5, bits: Float(-2).bitPattern)
            #expect(backend.floats(buffer, count: 10) == [3, 3, -2, -2, -2, -2, -2, 3, 3, 3])
            let distribution = RandomDistribution.normal(mean: 0, standardDeviation: 1)
            let composed = backend.allocate(byteCount: 1001 * 4)
            backend.composedRandom(composed, count: 1001, distribution: distribution, seed: 3, counterOffset: 9)
            #expect((0..<1001).map { Philox.value(at: $0, distribution: distribution, seed: 3, counterOffset: 9) }
                == backend.floats(composed, count: 1001))

            var random = TestRandom(seed: 51)
            let count = 257
            let inputs = (0..<4).map { index in backend.upload(random.floats(count, index == 3 ? 0 : -1, 1)) }
            let step = AdamStep(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, correction1: 0.271, correction2: 0.00399,
                                l2: 0.01, decoupledDecay: 0.05)
            let own = (0..<3).map { _ in backend.allocate(byteCount: count * 4) }
            let mine = (0..<3).map { _ in backend.allocate(byteCount: count * 4) }
            backend.adamStep(step, count: count, parameter: inputs[0], gradient: inputs[1], m: inputs[2], v: inputs[3],
                             outParameter: own[0], outM: own[1], outV: own[2])
            backend.composedAdamStep(step, count: count, parameter: inputs[0], gradient: inputs[1], m: inputs[2], v: inputs[3],
                                     outParameter: mine[0], outM: mine[1], outV: mine[2])
            for (a, b) in zip(own, mine) {
                expectClose(backend.floats(a, count: count), backend.floats(b, count: count), tolerance: 1e-6, "adamStep")
            }
        },
    ]
}
