import FlintBackend
import Foundation
import Testing

/// An LSTM's whole recurrence (`lstmSequence` and its adjoint), the backend's own and the
/// composed default, against a Float64 forward pass and backpropagation through time.
extension BackendConformance {
    /// Float64 LSTM over a sequence and its gradients, from the time-major projection `x`
    /// (`[steps, batch, 4·units]`), the kernel `u` (`[units, 4·units]`), the initial states and
    /// the gradient `dy` of every step's `[h | c]`.
    struct LSTMSequenceReference {
        var states: [Double] = [], gates: [Double] = []
        var projectionGradient: [Double] = [], kernelGradient: [Double] = []
        var hiddenGradient: [Double] = [], cellGradient: [Double] = []

        init(steps: Int, batch: Int, units: Int, x: [Double], u: [Double], h0: [Double], c0: [Double], dy: [Double]) {
            let wide = 4 * units
            func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
            var h = h0, c = c0
            var hs: [[Double]] = [h0], cs: [[Double]] = [c0]
            states = []
            gates = []
            for t in 0..<steps {
                var nextH = [Double](repeating: 0, count: batch * units), nextC = nextH
                for b in 0..<batch {
                    var z = (0..<wide).map { x[(t * batch + b) * wide + $0] }
                    for j in 0..<units { for k in 0..<wide { z[k] += h[b * units + j] * u[j * wide + k] } }
                    var rowGates = [Double](repeating: 0, count: wide)
                    for j in 0..<units {
                        let (i, f, g, o) = (sigmoid(z[j]), sigmoid(z[units + j]), Foundation.tanh(z[2 * units + j]), sigmoid(z[3 * units + j]))
                        nextC[b * units + j] = f * c[b * units + j] + i * g
                        nextH[b * units + j] = o * Foundation.tanh(nextC[b * units + j])
                        for (k, v) in [i, f, g, o].enumerated() { rowGates[k * units + j] = v }
                    }
                    states += (0..<units).map { nextH[b * units + $0] } + (0..<units).map { nextC[b * units + $0] }
                    gates += rowGates
                }
                (h, c) = (nextH, nextC)
                hs.append(h)
                cs.append(c)
            }
            // Back through time: dh and dc carried from step t + 1 into step t.
            var dh = [Double](repeating: 0, count: batch * units), dc = dh
            projectionGradient = [Double](repeating: 0, count: steps * batch * wide)
            kernelGradient = [Double](repeating: 0, count: units * wide)
            for t in (0..<steps).reversed() {
                var carriedH = [Double](repeating: 0, count: batch * units), carriedC = carriedH
                for b in 0..<batch {
                    let row = t * batch + b
                    var dz = [Double](repeating: 0, count: wide)
                    for j in 0..<units {
                        let (i, f, g, o) = (gates[row * wide + j], gates[row * wide + units + j],
                                            gates[row * wide + 2 * units + j], gates[row * wide + 3 * units + j])
                        let squashed = Foundation.tanh(cs[t + 1][b * units + j])
                        let gh = dy[row * 2 * units + j] + dh[b * units + j]
                        let gc = dy[row * 2 * units + units + j] + dc[b * units + j]
                        let total = gc + gh * o * (1 - squashed * squashed)
                        dz[j] = total * g * i * (1 - i)
                        dz[units + j] = total * cs[t][b * units + j] * f * (1 - f)
                        dz[2 * units + j] = total * i * (1 - g * g)
                        dz[3 * units + j] = gh * squashed * o * (1 - o)
                        carriedC[b * units + j] = total * f
                    }
                    for k in 0..<wide { projectionGradient[row * wide + k] = dz[k] }
                    for j in 0..<units {
                        let hPrevious = hs[t][b * units + j]
                        var back = 0.0
                        for k in 0..<wide {
                            kernelGradient[j * wide + k] += hPrevious * dz[k]
                            back += dz[k] * u[j * wide + k]
                        }
                        carriedH[b * units + j] = back
                    }
                }
                (dh, dc) = (carriedH, carriedC)
            }
            (hiddenGradient, cellGradient) = (dh, dc)
        }
    }

    static let lstmSequence: [ConformanceCheck] = [
        ConformanceCheck("lstmSequence and its adjoint (own and composed) match Float64 backpropagation through time") { backend in
            // (steps, batch, units, how the initial states are stored): batches of 8 and more take
            // the CPU's bands of rows (one or several, uneven: 37 rows in 2 or 4 bands, 17 in 2),
            // smaller ones and states without unit stride its step-by-step default; 129 units make
            // products wider than 512 columns, whose A is packed rather than read in place.
            let cases: [(Int, Int, Int, String)] = [(1, 9, 5, "rows"), (5, 16, 7, "half"), (4, 3, 6, "rows"),
                                                    (3, 37, 33, "transposed"), (3, 37, 33, "rows"), (2, 17, 129, "rows"),
                                                    (2, 12, 100, "zero"), (6, 8, 4, "half")]
            for (steps, batch, units, stored) in cases {
                var random = TestRandom(seed: 91 &+ UInt64(units * 31 + batch))
                let wide = 4 * units, narrow = batch * units
                let scale = Float(1 / Double(units).squareRoot())
                let x = random.floats(steps * batch * wide, -2, 2), u = random.floats(units * wide, -scale, scale)
                var h0 = random.floats(narrow), c0 = random.floats(narrow)
                if stored == "zero" { (h0, c0) = ([Float](repeating: 0, count: narrow), [Float](repeating: 0, count: narrow)) }
                let dy = random.floats(steps * batch * 2 * units)
                // The initial states: rows of their own, the halves of one [batch, 2·units] state,
                // transposed, or a broadcast zero.
                func operand(_ values: [Float], half: Int) -> StridedOperand {
                    switch stored {
                    case "half":
                        var both = [Float](repeating: .nan, count: 2 * narrow)
                        for b in 0..<batch { for j in 0..<units { both[b * 2 * units + half * units + j] = values[b * units + j] } }
                        return StridedOperand(buffer: backend.upload(both), offset: half * units, strides: [2 * units, 1])
                    case "transposed":
                        var columns = [Float](repeating: .nan, count: narrow)
                        for b in 0..<batch { for j in 0..<units { columns[j * batch + b] = values[b * units + j] } }
                        return StridedOperand(buffer: backend.upload(columns), offset: 0, strides: [1, batch])
                    case "zero": return StridedOperand(buffer: backend.upload([0]), offset: 0, strides: [0, 0])
                    default: return StridedOperand(buffer: backend.upload([.nan, .nan, .nan] + values), offset: 3, strides: [units, 1])
                    }
                }
                let hidden = operand(h0, half: 0), cell = operand(c0, half: 1)
                // Every step's gradient given, and the trailing steps' alone (the earlier ones zero).
                for start in Set([0, batch % steps]).sorted() {
                    let stepCount = batch * 2 * units
                    let zeroed = [Float](repeating: 0, count: start * stepCount) + dy[(start * stepCount)...]
                    let reference = LSTMSequenceReference(steps: steps, batch: batch, units: units, x: x.map(Double.init),
                                                          u: u.map(Double.init), h0: h0.map(Double.init), c0: c0.map(Double.init),
                                                          dy: zeroed.map(Double.init))
                    // Projection, kernel and gradient at offsets inside larger buffers.
                    let projection = backend.upload([.nan, .nan] + x), kernel = backend.upload([Float](repeating: .nan, count: 5) + u)
                    let gradient = backend.upload([.nan] + dy[(start * stepCount)...])
                    for composed in [false, true] {
                        let states = backend.allocate(byteCount: steps * batch * 2 * units * 4)
                        let gates = backend.allocate(byteCount: steps * batch * wide * 4)
                        let dx = backend.allocate(byteCount: steps * batch * wide * 4), du = backend.allocate(byteCount: units * wide * 4)
                        let dh = backend.allocate(byteCount: narrow * 4), dc = backend.allocate(byteCount: narrow * 4)
                        if composed {
                            backend.composedLSTMSequence(steps: steps, batch: batch, units: units, projection: projection, projectionOffset: 2,
                                                         kernel: kernel, kernelOffset: 5, hidden: hidden, cell: cell, states: states, gates: gates)
                            backend.composedLSTMSequenceBackward(steps: steps, batch: batch, units: units, kernel: kernel, kernelOffset: 5,
                                                                 hidden: hidden, cell: cell, states: states, gates: gates, gradient: gradient,
                                                                 gradientOffset: 1, gradientStart: start, outProjection: dx, outKernel: du,
                                                                 outHidden: dh, outCell: dc)
                        } else {
                            backend.lstmSequence(steps: steps, batch: batch, units: units, projection: projection, projectionOffset: 2,
                                                 kernel: kernel, kernelOffset: 5, hidden: hidden, cell: cell, states: states, gates: gates)
                            backend.lstmSequenceBackward(steps: steps, batch: batch, units: units, kernel: kernel, kernelOffset: 5,
                                                         hidden: hidden, cell: cell, states: states, gates: gates, gradient: gradient,
                                                         gradientOffset: 1, gradientStart: start, outProjection: dx, outKernel: du,
                                                         outHidden: dh, outCell: dc)
                        }
                        let what = "\(composed ? "composed" : "own") lstmSequence \(steps) steps, batch \(batch), units \(units), states \(stored), "
                            + "gradient from step \(start)"
                        expectClose(backend.floats(states, count: steps * batch * 2 * units), reference.states, tolerance: 1e-5, "\(what): states")
                        expectClose(backend.floats(gates, count: steps * batch * wide), reference.gates, tolerance: 1e-5, "\(what): gates")
                        expectClose(backend.floats(dx, count: steps * batch * wide), reference.projectionGradient, tolerance: 2e-5,
                                    "\(what): projection gradient")
                        expectClose(backend.floats(du, count: units * wide), reference.kernelGradient, tolerance: 2e-5, "\(what): kernel gradient")
                        expectClose(backend.floats(dh, count: narrow), reference.hiddenGradient, tolerance: 2e-5, "\(what): hidden gradient")
                        expectClose(backend.floats(dc, count: narrow), reference.cellGradient, tolerance: 2e-5, "\(what): cell gradient")
                    }
                }
            }
        },
        ConformanceCheck("lstmSequence with its input projection inside (own and composed) matches Float64") { backend in
            // (steps, batch, units, features, bias): bands of rows from batch 8 (uneven in 2 or 4
            // bands at 37), the step-by-step default below; one feature; 129 units (wider than 512
            // columns); no bias.
            let cases: [(Int, Int, Int, Int, Bool)] = [(3, 9, 5, 7, true), (4, 3, 6, 4, true), (3, 37, 33, 28, true),
                                                       (2, 17, 129, 1, true), (5, 16, 7, 3, false)]
            for (steps, batch, units, features, withBias) in cases {
                var random = TestRandom(seed: 57 &+ UInt64(units * 13 + batch * 7 + features))
                let wide = 4 * units, narrow = batch * units
                let x = random.floats(steps * batch * features, -1, 1)
                let w = random.floats(features * wide, -1, 1).map { $0 / Float(features).squareRoot() }
                let b = withBias ? random.floats(wide, -0.5, 0.5) : [Float](repeating: 0, count: wide)
                let scale = Float(1 / Double(units).squareRoot())
                let u = random.floats(units * wide, -scale, scale)
                let h0 = random.floats(narrow), c0 = random.floats(narrow)
                // The projection in Float64, then the recurrence as lstmSequence's reference runs it.
                var projection = [Double](repeating: 0, count: steps * batch * wide)
                for row in 0..<(steps * batch) {
                    for k in 0..<wide {
                        var sum = Double(b[k])
                        for f in 0..<features { sum += Double(x[row * features + f]) * Double(w[f * wide + k]) }
                        projection[row * wide + k] = sum
                    }
                }
                let reference = LSTMSequenceReference(steps: steps, batch: batch, units: units, x: projection,
                                                      u: u.map(Double.init), h0: h0.map(Double.init), c0: c0.map(Double.init),
                                                      dy: [Double](repeating: 0, count: steps * batch * 2 * units))
                let input = backend.upload([.nan] + x), inputKernel = backend.upload([.nan, .nan] + w)
                let bias = withBias ? (buffer: backend.upload([.nan, .nan, .nan] + b), offset: 3) : nil
                let kernel = backend.upload(u)
                let hidden = StridedOperand(buffer: backend.upload(h0), offset: 0, strides: [units, 1])
                let cell = StridedOperand(buffer: backend.upload(c0), offset: 0, strides: [units, 1])
                for composed in [false, true] {
                    let states = backend.allocate(byteCount: steps * batch * 2 * units * 4)
                    let gates = backend.allocate(byteCount: steps * batch * wide * 4)
                    if composed {
                        backend.composedLSTMSequence(steps: steps, batch: batch, units: units, features: features, input: input,
                                                     inputOffset: 1, inputKernel: inputKernel, inputKernelOffset: 2, bias: bias,
                                                     kernel: kernel, kernelOffset: 0, hidden: hidden, cell: cell, states: states,
                                                     gates: gates)
                    } else {
                        backend.lstmSequence(steps: steps, batch: batch, units: units, features: features, input: input,
                                             inputOffset: 1, inputKernel: inputKernel, inputKernelOffset: 2, bias: bias, kernel: kernel,
                                             kernelOffset: 0, hidden: hidden, cell: cell, states: states, gates: gates)
                    }
                    let what = "\(composed ? "composed" : "own") lstmSequence from inputs, \(steps) steps, batch \(batch), "
                        + "units \(units), features \(features), bias \(withBias)"
                    expectClose(backend.floats(states, count: steps * batch * 2 * units), reference.states, tolerance: 1e-5,
                                "\(what): states")
                    expectClose(backend.floats(gates, count: steps * batch * wide), reference.gates, tolerance: 1e-5, "\(what): gates")
                }
            }
        },
        ConformanceCheck("lstmSequenceBackward with the input projection's weights (own and composed) matches Float64") { backend in
            // (steps, batch, units, features, bias, projection gradient wanted): on the CPU, bands of
            // 16 rows and more sum the weights' gradients step by step (37 rows in two bands, 64 in up
            // to four, 129 units: products wider than 512 columns), smaller bands (17 rows) and
            // batches below 8 take the products after the steps; one feature; no bias; the
            // projection's gradient given or not (a two-step ring inside).
            let cases: [(Int, Int, Int, Int, Bool, Bool)] = [(3, 37, 33, 28, true, false), (3, 37, 33, 28, false, true),
                                                             (4, 64, 20, 5, true, true), (2, 40, 129, 1, true, false),
                                                             (3, 17, 9, 4, true, false), (4, 3, 6, 4, true, true),
                                                             (1, 33, 7, 3, true, false)]
            for (steps, batch, units, features, withBias, wantsProjection) in cases {
                var random = TestRandom(seed: 23 &+ UInt64(units * 17 + batch * 5 + features))
                let wide = 4 * units, narrow = batch * units, rows = steps * batch
                let x = random.floats(rows * features, -1, 1)
                let w = random.floats(features * wide, -1, 1).map { $0 / Float(features).squareRoot() }
                let b = withBias ? random.floats(wide, -0.5, 0.5) : [Float](repeating: 0, count: wide)
                let scale = Float(1 / Double(units).squareRoot())
                let u = random.floats(units * wide, -scale, scale)
                let h0 = random.floats(narrow), c0 = random.floats(narrow)
                let dy = random.floats(rows * 2 * units)
                var projection = [Double](repeating: 0, count: rows * wide)
                for row in 0..<rows {
                    for k in 0..<wide {
                        var sum = Double(b[k])
                        for f in 0..<features { sum += Double(x[row * features + f]) * Double(w[f * wide + k]) }
                        projection[row * wide + k] = sum
                    }
                }
                let input = backend.upload([.nan] + x), inputKernel = backend.upload([.nan, .nan] + w)
                let bias = withBias ? (buffer: backend.upload([.nan, .nan, .nan] + b), offset: 3) : nil
                let kernel = backend.upload([.nan] + u)
                let hidden = StridedOperand(buffer: backend.upload(h0), offset: 0, strides: [units, 1])
                let cell = StridedOperand(buffer: backend.upload(c0), offset: 0, strides: [units, 1])
                let states = backend.allocate(byteCount: rows * 2 * units * 4), gates = backend.allocate(byteCount: rows * wide * 4)
                backend.composedLSTMSequence(steps: steps, batch: batch, units: units, features: features, input: input,
                                             inputOffset: 1, inputKernel: inputKernel, inputKernelOffset: 2, bias: bias,
                                             kernel: kernel, kernelOffset: 1, hidden: hidden, cell: cell, states: states, gates: gates)
                // Every step's gradient given, and the trailing steps' alone (the earlier ones zero).
                for start in Set([0, steps - 1]).sorted() {
                    let stepCount = batch * 2 * units
                    let zeroed = [Float](repeating: 0, count: start * stepCount) + dy[(start * stepCount)...]
                    let reference = LSTMSequenceReference(steps: steps, batch: batch, units: units, x: projection,
                                                          u: u.map(Double.init), h0: h0.map(Double.init), c0: c0.map(Double.init),
                                                          dy: zeroed.map(Double.init))
                    var inputKernelGradient = [Double](repeating: 0, count: features * wide)
                    var biasGradient = [Double](repeating: 0, count: wide)
                    for row in 0..<rows {
                        for k in 0..<wide {
                            let dz = reference.projectionGradient[row * wide + k]
                            biasGradient[k] += dz
                            for f in 0..<features { inputKernelGradient[f * wide + k] += Double(x[row * features + f]) * dz }
                        }
                    }
                    let gradient = backend.upload([.nan, .nan] + dy[(start * stepCount)...])
                    for composed in [false, true] {
                        let dx = wantsProjection ? backend.allocate(byteCount: rows * wide * 4) : nil
                        let dw = backend.allocate(byteCount: features * wide * 4)
                        let db = withBias ? backend.allocate(byteCount: wide * 4) : nil
                        let du = backend.allocate(byteCount: units * wide * 4)
                        let dh = backend.allocate(byteCount: narrow * 4), dc = backend.allocate(byteCount: narrow * 4)
                        if composed {
                            backend.composedLSTMSequenceBackward(steps: steps, batch: batch, units: units, features: features, input: input,
                                                                 inputOffset: 1, kernel: kernel, kernelOffset: 1, hidden: hidden, cell: cell,
                                                                 states: states, gates: gates, gradient: gradient, gradientOffset: 2,
                                                                 gradientStart: start, outProjection: dx, outInputKernel: dw, outBias: db,
                                                                 outKernel: du, outHidden: dh, outCell: dc)
                        } else {
                            backend.lstmSequenceBackward(steps: steps, batch: batch, units: units, features: features, input: input,
                                                         inputOffset: 1, kernel: kernel, kernelOffset: 1, hidden: hidden, cell: cell,
                                                         states: states, gates: gates, gradient: gradient, gradientOffset: 2,
                                                         gradientStart: start, outProjection: dx, outInputKernel: dw, outBias: db,
                                                         outKernel: du, outHidden: dh, outCell: dc)
                        }
                        let what = "\(composed ? "composed" : "own") lstmSequenceBackward with weights, \(steps) steps, batch \(batch), "
                            + "units \(units), features \(features), bias \(withBias), projection \(wantsProjection), gradient from step \(start)"
                        if let dx {
                            expectClose(backend.floats(dx, count: rows * wide), reference.projectionGradient, tolerance: 2e-5,
                                        "\(what): projection gradient")
                        }
                        expectClose(backend.floats(dw, count: features * wide), inputKernelGradient, tolerance: 2e-5,
                                    "\(what): input kernel gradient")
                        if let db { expectClose(backend.floats(db, count: wide), biasGradient, tolerance: 2e-5, "\(what): bias gradient") }
                        expectClose(backend.floats(du, count: units * wide), reference.kernelGradient, tolerance: 2e-5, "\(what): kernel gradient")
                        expectClose(backend.floats(dh, count: narrow), reference.hiddenGradient, tolerance: 2e-5, "\(what): hidden gradient")
                        expectClose(backend.floats(dc, count: narrow), reference.cellGradient, tolerance: 2e-5, "\(what): cell gradient")
                    }
                }
            }
        },
        ConformanceCheck("lstmSequenceBackward over an empty batch gives the kernel a zero gradient") { backend in
            let (steps, units) = (3, 5)
            let empty = StridedOperand(buffer: backend.upload([0]), offset: 0, strides: [units, 1])
            for composed in [false, true] {
                let kernel = backend.upload([Float](repeating: 0.5, count: units * 4 * units))
                let du = backend.upload([Float](repeating: .nan, count: units * 4 * units))
                let nothing = backend.allocate(byteCount: 4)
                if composed {
                    backend.composedLSTMSequenceBackward(steps: steps, batch: 0, units: units, kernel: kernel, kernelOffset: 0,
                                                         hidden: empty, cell: empty, states: nothing, gates: nothing, gradient: nothing,
                                                         gradientOffset: 0, gradientStart: 0, outProjection: nothing, outKernel: du, outHidden: nothing,
                                                         outCell: nothing)
                } else {
                    backend.lstmSequenceBackward(steps: steps, batch: 0, units: units, kernel: kernel, kernelOffset: 0,
                                                 hidden: empty, cell: empty, states: nothing, gates: nothing, gradient: nothing,
                                                 gradientOffset: 0, gradientStart: 0, outProjection: nothing, outKernel: du, outHidden: nothing, outCell: nothing)
                }
                #expect(backend.floats(du, count: units * 4 * units) == [Float](repeating: 0, count: units * 4 * units),
                        "\(composed ? "composed" : "own") lstmSequenceBackward, batch 0")
                // With the input projection's weights: theirs are sums of nothing too.
                let features = 2
                let (dw, db) = (backend.upload([Float](repeating: .nan, count: features * 4 * units)),
                                backend.upload([Float](repeating: .nan, count: 4 * units)))
                let du2 = backend.upload([Float](repeating: .nan, count: units * 4 * units))
                if composed {
                    backend.composedLSTMSequenceBackward(steps: steps, batch: 0, units: units, features: features, input: nothing,
                                                         inputOffset: 0, kernel: kernel, kernelOffset: 0, hidden: empty, cell: empty,
                                                         states: nothing, gates: nothing, gradient: nothing, gradientOffset: 0,
                                                         gradientStart: 0, outProjection: nil, outInputKernel: dw, outBias: db,
                                                         outKernel: du2, outHidden: nothing, outCell: nothing)
                } else {
                    backend.lstmSequenceBackward(steps: steps, batch: 0, units: units, features: features, input: nothing,
                                                 inputOffset: 0, kernel: kernel, kernelOffset: 0, hidden: empty, cell: empty,
                                                 states: nothing, gates: nothing, gradient: nothing, gradientOffset: 0,
                                                 gradientStart: 0, outProjection: nil, outInputKernel: dw, outBias: db,
                                                 outKernel: du2, outHidden: nothing, outCell: nothing)
                }
                let sums = backend.floats(du2, count: units * 4 * units) + backend.floats(dw, count: features * 4 * units)
                    + backend.floats(db, count: 4 * units)
                #expect(sums == [Float](repeating: 0, count: sums.count),
                        "\(composed ? "composed" : "own") lstmSequenceBackward with weights, batch 0")
            }
        },
    ]
}
