import Flint
import Foundation
import Testing

/// The three recurrent layers, as test arguments.
enum RecurrentKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case simpleRNN, lstm, gru
    var description: String { rawValue }

    var gates: Int { [.simpleRNN: 1, .lstm: 4, .gru: 3][self]! }
    var stateCount: Int { self == .lstm ? 2 : 1 }

    func make(_ units: Int, returnSequences: Bool = false, maskValue: Float? = nil) -> RecurrentLayer {
        switch self {
        case .simpleRNN: SimpleRNN(units, returnSequences: returnSequences, maskValue: maskValue)
        case .lstm: LSTM(units, returnSequences: returnSequences, maskValue: maskValue)
        case .gru: GRU(units, returnSequences: returnSequences, maskValue: maskValue)
        }
    }
}

/// A Float64 reference of each cell, written from Keras' equations, one scalar at a time.
struct RecurrentReference {
    let kind: RecurrentKind
    let batch: Int, time: Int, features: Int, units: Int
    var x: [Double]          // [batch, time, features]
    var kernel: [Double]     // [features, k·units]
    var recurrent: [Double]  // [units, k·units]
    var bias: [Double]       // [k·units] (GRU: [2, 3·units])
    var initial: [[Double]]  // stateCount × [batch, units]

    static func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }

    /// The layer output (`[batch, units]` or `[batch, time, units]`) and the final states.
    func run(returnSequences: Bool, lengths: [Int]? = nil) -> (output: [Double], states: [[Double]]) {
        let (u, k) = (units, kind.gates)
        var output: [Double] = []
        var finals = initial
        for b in 0..<batch {
            var h = Array(initial[0][(b * u)..<((b + 1) * u)])
            var c = kind == .lstm ? Array(initial[1][(b * u)..<((b + 1) * u)]) : []
            var sequence: [Double] = []
            for t in 0..<time {
                if t < (lengths?[b] ?? time) {
                    var xp = [Double](repeating: 0, count: k * u), hp = [Double](repeating: 0, count: k * u)
                    for j in 0..<(k * u) {
                        for f in 0..<features { xp[j] += x[(b * time + t) * features + f] * kernel[f * k * u + j] }
                        for i in 0..<u { hp[j] += h[i] * recurrent[i * k * u + j] }
                    }
                    switch kind {
                    case .simpleRNN:
                        h = (0..<u).map { Foundation.tanh(xp[$0] + hp[$0] + bias[$0]) }
                    case .lstm:
                        let z = (0..<(4 * u)).map { xp[$0] + hp[$0] + bias[$0] }
                        for j in 0..<u {
                            let (i, f) = (Self.sigmoid(z[j]), Self.sigmoid(z[u + j]))
                            let (g, o) = (Foundation.tanh(z[2 * u + j]), Self.sigmoid(z[3 * u + j]))
                            c[j] = f * c[j] + i * g
                            h[j] = o * Foundation.tanh(c[j])
                        }
                    case .gru:
                        let xb = (0..<(3 * u)).map { xp[$0] + bias[$0] }, hb = (0..<(3 * u)).map { hp[$0] + bias[3 * u + $0] }
                        h = (0..<u).map { j in
                            let z = Self.sigmoid(xb[j] + hb[j]), r = Self.sigmoid(xb[u + j] + hb[u + j])
                            let candidate = Foundation.tanh(xb[2 * u + j] + r * hb[2 * u + j])
                            return z * h[j] + (1 - z) * candidate
                        }
                    }
                }
                sequence += h
            }
            output += returnSequences ? sequence : h
            finals[0].replaceSubrange((b * u)..<((b + 1) * u), with: h)
            if kind == .lstm { finals[1].replaceSubrange((b * u)..<((b + 1) * u), with: c) }
        }
        return (output, finals)
    }
}

@Suite struct RecurrentTests {
    static let (batch, time, features, units) = (2, 3, 4, 5)

    /// A built layer of `kind` on `device` with a random non-zero bias, and its reference.
    static func fixture(_ kind: RecurrentKind, on device: Device, returnSequences: Bool, seed: UInt64 = 1)
        throws -> (RecurrentLayer, RecurrentReference, x: Tensor, initial: [Tensor]) {
        let layer = kind.make(units, returnSequences: returnSequences)
        let shape = try layer.build(inputShape: [time, features], context: BuildContext(device: device, generator: RandomGenerator(seed: seed)))
        #expect(shape == (returnSequences ? [time, units] : [units]))
        var rng = DataRNG(seed: seed &+ 100)
        let bias = layer.bias!
        bias.assign(Tensor((0..<bias.count).map { _ in rng.uniform(-0.5, 0.5) }, shape: bias.value.shape, on: device))
        let xValues = (0..<(batch * time * features)).map { _ in rng.uniform() }
        let initialValues = (0..<kind.stateCount).map { _ in (0..<(batch * units)).map { _ in rng.uniform(-0.8, 0.8) } }
        let reference = RecurrentReference(
            kind: kind, batch: batch, time: time, features: features, units: units, x: xValues.map(Double.init),
            kernel: layer.kernel.value.toArray().map(Double.init), recurrent: layer.recurrentKernel.value.toArray().map(Double.init),
            bias: bias.value.toArray().map(Double.init), initial: initialValues.map { $0.map(Double.init) })
        return (layer, reference, Tensor(xValues, shape: [batch, time, features], on: device),
                initialValues.map { Tensor($0, shape: [batch, units], on: device) })
    }

    static func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        let worst = zip(actual, expected).map { Swift.abs(Double($0) - $1) / (1 + Swift.abs($1)) }.max() ?? 0
        #expect(worst <= tolerance, "\(what): worst relative error \(worst)\n got \(actual)\n want \(expected)", sourceLocation: sourceLocation)
    }

    // MARK: Forward

    @Test(arguments: NNDevices.all, RecurrentKind.allCases)
    func forwardMatchesReference(device: Device, kind: RecurrentKind) throws {
        for returnSequences in [false, true] {
            let (layer, reference, x, initial) = try Self.fixture(kind, on: device, returnSequences: returnSequences)
            // From zeros (the layer's default) …
            var zeroReference = reference
            zeroReference.initial = zeroReference.initial.map { $0.map { _ in 0 } }
            Self.expectClose(layer(x).toArray(), zeroReference.run(returnSequences: returnSequences).output, tolerance: 1e-5,
                             "\(kind) returnSequences=\(returnSequences) from zeros on \(device)")
            // … and from a given initial state, with every final state.
            let result = layer.run(x, initialState: initial)
            let expected = reference.run(returnSequences: returnSequences)
            #expect(result.output.shape == (returnSequences ? [Self.batch, Self.time, Self.units] : [Self.batch, Self.units]))
            Self.expectClose(result.output.toArray(), expected.output, tolerance: 1e-5,
                             "\(kind) returnSequences=\(returnSequences) from an initial state on \(device)")
            #expect(result.states.count == kind.stateCount)
            for (state, want) in zip(result.states, expected.states) {
                Self.expectClose(state.toArray(), want, tolerance: 1e-5, "\(kind) final state on \(device)")
            }
            Self.expectClose(layer(x, initialState: initial).toArray(), expected.output, tolerance: 1e-5, "\(kind) callAsFunction")
        }
    }

    @Test func weightsFollowKerasLayoutAndInitialisation() throws {
        let context = BuildContext(device: .cpu, generator: RandomGenerator(seed: 3))
        let lstm = LSTM(5), gru = GRU(6), simple = SimpleRNN(7)
        _ = try lstm.build(inputShape: [3, 4], context: context)
        _ = try gru.build(inputShape: [3, 4], context: context)
        _ = try simple.build(inputShape: [3, 4], context: context)
        #expect(lstm.kernel.value.shape == [4, 20] && lstm.recurrentKernel.value.shape == [5, 20] && lstm.bias!.value.shape == [20])
        #expect(gru.kernel.value.shape == [4, 18] && gru.recurrentKernel.value.shape == [6, 18] && gru.bias!.value.shape == [2, 18])
        #expect(simple.kernel.value.shape == [4, 7] && simple.recurrentKernel.value.shape == [7, 7] && simple.bias!.value.shape == [7])
        // unit_forget_bias: the forget gate (second block) starts at 1, the others at 0.
        #expect(lstm.bias!.value.toArray() == [Float](repeating: 0, count: 5) + [Float](repeating: 1, count: 5)
                + [Float](repeating: 0, count: 10))
        #expect(gru.bias!.value.toArray().allSatisfy { $0 == 0 })
        // Glorot-uniform kernels stay within their limit.
        let limit = Float((6.0 / Double(4 + 20)).squareRoot())
        #expect(lstm.kernel.value.toArray().allSatisfy { Swift.abs($0) <= limit })
        // Orthogonal recurrent kernels: orthonormal rows (U·Uᵀ = I), for square and wide shapes.
        for kernel in [lstm.recurrentKernel.value, gru.recurrentKernel.value, simple.recurrentKernel.value] {
            let product = kernel.matmul(kernel, transposeOther: true).toArray()
            let n = kernel.shape[0]
            for i in 0..<n {
                for j in 0..<n { #expect(Swift.abs(product[i * n + j] - (i == j ? 1 : 0)) < 1e-5, "U·Uᵀ[\(i), \(j)] of \(kernel.shape)") }
            }
        }
        // Keras' parameter counts (GRU with reset_after: 3·(F·u + u² + 2u)).
        let model = try Sequential([GRU(128), Dense(10)], inputShape: [28, 28], device: .cpu)
        #expect(model.parameterCount == 3 * (28 * 128 + 128 * 128 + 2 * 128) + 1290)
        #expect(model.layerShapes == [[128], [10]])
        let stacked = try Sequential([LSTM(8, returnSequences: true), SimpleRNN(4)], inputShape: [5, 3], device: .cpu)
        #expect(stacked.layerShapes == [[5, 8], [4]])
        #expect(stacked.parameterCount == 4 * (3 * 8 + 8 * 8 + 8) + (8 * 4 + 4 * 4 + 4))
    }

    @Test func layersCheckShapesWhenBuilt() throws {
        #expect(throws: ModelError.self) { try Sequential([GRU(4)], inputShape: [28], device: .cpu) }
        #expect(throws: ModelError.self) { try Sequential([LSTM(4)], inputShape: [28, 28, 1], device: .cpu) }
        #expect(throws: ModelError.self) { try Sequential([SimpleRNN(4)], inputShape: [0, 3], device: .cpu) }
        #expect(throws: ModelError.self) { try Sequential([GRU(4), GRU(4)], inputShape: [5, 3], device: .cpu) }
        #expect(throws: ModelError.self) { try Sequential([Embedding(10, 4)], inputShape: [0], device: .cpu) }
        let model = try Sequential([Embedding(10, 4), GRU(3, returnSequences: true), Dense(2)], inputShape: [6], device: .cpu)
        #expect(model.layerShapes == [[6, 4], [6, 3], [6, 2]])
    }

    // MARK: Gradients

    /// Autograd's gradients of `Σ output ⊙ w` (float32, on `device`) with respect to the input, the
    /// initial state and every weight, against central differences of the Float64 reference.
    @Test(arguments: NNDevices.all, RecurrentKind.allCases)
    func gradientsMatchFiniteDifferences(device: Device, kind: RecurrentKind) throws {
        for (returnSequences, lengths) in [(true, nil), (false, [3, 2])] as [(Bool, [Int]?)] {
            let (layer, reference, x, initial) = try Self.fixture(kind, on: device, returnSequences: returnSequences, seed: 7)
            let xLeaf = x.requiringGrad(), initialLeaves = initial.map { $0.requiringGrad() }
            let output = layer.run(xLeaf, initialState: initialLeaves, lengths: lengths).output
            var rng = DataRNG(seed: 99)
            let weights = (0..<output.count).map { _ in rng.uniform() }
            (output * Tensor(weights, shape: output.shape, on: device)).sum().backward()

            func loss(_ r: RecurrentReference) -> Double {
                zip(r.run(returnSequences: returnSequences, lengths: lengths).output, weights).reduce(0) { $0 + $1.0 * Double($1.1) }
            }
            func numeric(_ path: WritableKeyPath<RecurrentReference, [Double]>) -> [Double] {
                let step = 1e-6
                return reference[keyPath: path].indices.map { j in
                    var plus = reference, minus = reference
                    plus[keyPath: path][j] += step
                    minus[keyPath: path][j] -= step
                    return (loss(plus) - loss(minus)) / (2 * step)
                }
            }
            let what = "\(kind) (returnSequences \(returnSequences), lengths \(lengths.map { "\($0)" } ?? "none")) on \(device)"
            let checks: [(String, Tensor?, WritableKeyPath<RecurrentReference, [Double]>)] = [
                ("input", xLeaf.grad, \.x), ("kernel", layer.kernel.grad, \.kernel),
                ("recurrent kernel", layer.recurrentKernel.grad, \.recurrent), ("bias", layer.bias!.grad, \.bias),
            ] + initialLeaves.indices.map { i in ("initial state \(i)", initialLeaves[i].grad, \.initial[i]) }
            for (name, grad, path) in checks {
                guard let grad else { Issue.record("\(what): no gradient reached the \(name)"); continue }
                Self.expectClose(grad.toArray(), numeric(path), tolerance: 2e-3, "gradient w.r.t. the \(name) of \(what)")
            }
        }
    }

    @Test(arguments: NNDevices.all)
    func embeddingLooksUpRowsAndAccumulatesGradients(device: Device) throws {
        let layer = Embedding(6, 3)
        let shape = try layer.build(inputShape: [3], context: BuildContext(device: device, generator: RandomGenerator(seed: 2)))
        #expect(shape == [3, 3])
        let table = layer.embeddings.value.toArray()
        #expect(table.allSatisfy { Swift.abs($0) <= 0.05 } && Set(table).count == 18)
        let indices: [Int32] = [1, 4, 1, 0, 1, 5]
        let output = layer(Tensor(int32: indices, shape: [2, 3], on: device))
        #expect(output.shape == [2, 3, 3])
        #expect(output.toArray() == indices.flatMap { i in table[(Int(i) * 3)..<(Int(i) * 3 + 3)] })
        var rng = DataRNG(seed: 5)
        let weights = (0..<18).map { _ in rng.uniform() }
        (output * Tensor(weights, shape: [2, 3, 3], on: device)).sum().backward()
        var expected = [Double](repeating: 0, count: 18)
        for (position, index) in indices.enumerated() {
            for d in 0..<3 { expected[Int(index) * 3 + d] += Double(weights[position * 3 + d]) }
        }
        Self.expectClose(try #require(layer.embeddings.grad).toArray(), expected, tolerance: 1e-6, "embedding gradient on \(device)")

        // maskZero: index 0 is padding, its vectors are zeros and row 0 gets no gradient.
        let masked = Embedding(6, 3, maskZero: true)
        _ = try masked.build(inputShape: [3], context: BuildContext(device: device, generator: RandomGenerator(seed: 2)))
        let maskedOutput = masked(Tensor(int32: indices, shape: [2, 3], on: device))
        #expect(Array(maskedOutput.toArray()[9..<12]) == [0, 0, 0])
        maskedOutput.sum().backward()
        let grad = try #require(masked.embeddings.grad).toArray()
        #expect(Array(grad[0..<3]) == [0, 0, 0] && Array(grad[3..<6]) == [3, 3, 3])
    }

    /// An LSTM without a mask runs its sequence as one op (`Tensor.lstmSequence`; on the CPU in
    /// bands of rows from a batch of 8); a mask of ones sends it step by step through the same
    /// cells. Both must give the same outputs, states and gradients, at batches that take one
    /// band (8), two uneven bands (17, on two cores or more), several (40), or the step-by-step
    /// default (5).
    @Test(arguments: NNDevices.all)
    func lstmSequenceMatchesStepByStep(device: Device) throws {
        for (batch, units, returnSequences) in [(17, 20, true), (8, 3, false), (5, 6, true), (40, 33, false)] {
            let (time, features) = (6, 4)
            let layer = LSTM(units, returnSequences: returnSequences)
            _ = try layer.build(inputShape: [time, features], context: BuildContext(device: device, generator: RandomGenerator(seed: 12)))
            var rng = DataRNG(seed: 13)
            let x = Tensor((0..<(batch * time * features)).map { _ in rng.uniform(-1, 1) }, shape: [batch, time, features], on: device)
            let initial = (0..<2).map { _ in Tensor((0..<(batch * units)).map { _ in rng.uniform(-0.5, 0.5) }, shape: [batch, units], on: device) }
            let ones = Tensor.ones([batch, time], on: device)
            func run(stepByStep: Bool) -> (values: [[Float]], gradients: [[Float]]) {
                layer.zeroGrad()
                let xLeaf = x.requiringGrad(), initialLeaves = initial.map { $0.requiringGrad() }
                let result = layer.run(xLeaf, initialState: initialLeaves, mask: stepByStep ? ones : nil)
                var weights = DataRNG(seed: 14)
                let loss = (result.output * Tensor((0..<result.output.count).map { _ in weights.uniform(-1, 1) }, shape: result.output.shape, on: device)).sum()
                    + (result.states[1] * 0.5).sum()
                loss.backward()
                let gradients = [xLeaf.grad, layer.kernel.grad, layer.recurrentKernel.grad, layer.bias!.grad] + initialLeaves.map(\.grad)
                return ([result.output.toArray()] + result.states.map { $0.toArray() }, gradients.map { $0?.toArray() ?? [] })
            }
            let (fused, stepped) = (run(stepByStep: false), run(stepByStep: true))
            let what = "LSTM(\(units)) batch \(batch), returnSequences \(returnSequences) on \(device)"
            for (i, name) in ["output", "h", "c"].enumerated() {
                Self.expectClose(fused.values[i], stepped.values[i].map(Double.init), tolerance: 2e-6, "\(what): \(name)")
            }
            for (i, name) in ["input", "kernel", "recurrent kernel", "bias", "initial h", "initial c"].enumerated() {
                let (a, b) = (fused.gradients[i], stepped.gradients[i])
                #expect(!a.isEmpty && a.count == b.count, "\(what): no gradient of the \(name)")
                Self.expectClose(a, b.map(Double.init), tolerance: 2e-5, "\(what): gradient of the \(name)")
            }
        }
    }

    /// An empty batch runs the sequence op (input projection inside) to an empty output, and its
    /// weights get zero gradients, not garbage.
    @Test(arguments: NNDevices.all)
    func lstmOverAnEmptyBatchGivesZeroWeightGradients(device: Device) throws {
        let layer = LSTM(3)
        _ = try layer.build(inputShape: [4, 2], context: BuildContext(device: device, generator: RandomGenerator(seed: 3)))
        let output = layer(Tensor.zeros([0, 4, 2], on: device))
        #expect(output.shape == [0, 3])
        #expect(output.requiresGrad, "on \(device)")
        guard output.requiresGrad else { return }
        output.backward(Tensor.zeros([0, 3], on: device))
        for (name, parameter) in [("kernel", layer.kernel!), ("recurrent kernel", layer.recurrentKernel!), ("bias", layer.bias!)] {
            let grad = parameter.grad?.toArray() ?? []
            #expect(grad.count == parameter.value.count && grad.allSatisfy { $0 == 0 }, "\(name) on \(device): \(grad)")
        }
    }

    /// The sequence op with its projection inside skips the gradients nothing needs (constant
    /// weights): the input's and the initial state's gradients stay those of the all-trainable run.
    @Test(arguments: NNDevices.all)
    func lstmSequenceFromInputsSkipsUnneededGradients(device: Device) throws {
        var rng = DataRNG(seed: 21)
        func values(_ shape: [Int]) -> Tensor {
            Tensor((0..<shape.reduce(1, *)).map { _ in rng.uniform(-0.8, 0.8) }, shape: shape, on: device)
        }
        let (x, w, b, u, h, c) = (values([5, 9, 3]), values([3, 16]), values([16]), values([4, 16]), values([9, 4]), values([9, 4]))
        func gradients(weightsTrain: Bool) -> [[Float]] {
            let (xLeaf, hLeaf) = (x.requiringGrad(), h.requiringGrad())
            let weights = [w, b, u].map { weightsTrain ? $0.requiringGrad() : $0 }
            let all = Tensor.lstmSequence(input: xLeaf, inputKernel: weights[0], bias: weights[1], recurrentKernel: weights[2],
                                          hidden: hLeaf, cell: c)
            (all * all).sum().backward()
            return [xLeaf.grad, hLeaf.grad].map { $0?.toArray() ?? [] } + weights.map { $0.grad?.toArray() ?? [] }
        }
        let (trained, constant) = (gradients(weightsTrain: true), gradients(weightsTrain: false))
        for (i, name) in ["input", "initial h"].enumerated() {
            #expect(!trained[i].isEmpty && trained[i] == constant[i], "\(name) gradient on \(device)")
        }
        #expect(trained[2...].allSatisfy { !$0.isEmpty } && constant[2...].allSatisfy(\.isEmpty), "weight gradients on \(device)")
    }

    // MARK: Masking

    /// Padded sequences with garbage after their ends give each sequence's own last state.
    @Test(arguments: NNDevices.all, RecurrentKind.allCases)
    func paddedBatchMatchesUnpaddedSequences(device: Device, kind: RecurrentKind) throws {
        let (time, features) = (5, 3)
        let lengths = [5, 2, 0, 3]
        let layer = kind.make(4)
        _ = try layer.build(inputShape: [time, features], context: BuildContext(device: device, generator: RandomGenerator(seed: 4)))
        var rng = DataRNG(seed: 8)
        let values = (0..<(lengths.count * time * features)).map { _ in rng.uniform() }
        let x = Tensor(values, shape: [lengths.count, time, features], on: device)
        let padded = layer.run(x, lengths: lengths)
        for (b, length) in lengths.enumerated() {
            let alone = layer.run(x.slice(axis: 0, b..<(b + 1)).slice(axis: 1, 0..<length))
            for (state, single) in zip(padded.states, alone.states) {
                Self.expectClose(state.select(index: b).toArray(), single.toArray().map(Double.init), tolerance: 1e-5,
                                 "\(kind) sequence \(b) (length \(length)) on \(device)")
            }
        }
        Self.expectClose(layer(x, lengths: lengths).toArray(), padded.states[0].toArray().map(Double.init), tolerance: 0, "output is h")

        // Inside a Sequential: zero padding with maskValue 0 skips the same steps.
        var zeroPadded = values
        for (b, length) in lengths.enumerated() {
            for t in length..<time { for f in 0..<features { zeroPadded[(b * time + t) * features + f] = 0 } }
        }
        let model = try Sequential([kind.make(4, maskValue: 0)], inputShape: [time, features], device: device, seed: 4)
        let viaMask = try model.predict(Tensor(zeroPadded, shape: [lengths.count, time, features], on: .cpu))
        Self.expectClose(viaMask.toArray(), padded.output.toArray().map(Double.init), tolerance: 1e-5, "\(kind) maskValue on \(device)")
    }

    /// `Embedding(maskZero:)` feeding `GRU(maskValue: 0)` handles padded token sequences end to end.
    @Test(arguments: NNDevices.all)
    func embeddingMaskFeedsRecurrentMask(device: Device) throws {
        let tokens: [Int32] = [3, 1, 4, 1, 5, 0, 0, 0, 9, 2, 6, 0]
        let model = try Sequential([Embedding(10, 4, maskZero: true), GRU(3, maskValue: 0)], inputShape: [6], device: device, seed: 6)
        let batched = try model.predict(Tensor(int32: tokens, shape: [2, 6], on: .cpu)).toArray()
        let first = try model.predict(Tensor(int32: [3, 1, 4, 1, 5, 0], shape: [1, 6], on: .cpu)).toArray()
        let embedding = try #require(model.layers[0] as? Embedding), gru = try #require(model.layers[1] as? GRU)
        let direct = gru.run(embedding(Tensor(int32: [9, 2, 6], shape: [1, 3], on: device))).output.toArray()
        Self.expectClose(Array(batched[0..<3]), first.map(Double.init), tolerance: 1e-6, "first sequence on \(device)")
        // Leading padding is skipped too (arbitrary masks, not only trailing ones).
        Self.expectClose(Array(batched[3..<6]), direct.map(Double.init), tolerance: 1e-5, "second sequence on \(device)")
    }

    // MARK: Learning

    /// The sign of a sequence's sum: the state must integrate every step.
    @Test(arguments: NNDevices.all, RecurrentKind.allCases)
    func learnsTheSignOfASum(device: Device, kind: RecurrentKind) throws {
        func data(_ count: Int, seed: UInt64) -> (Tensor, Tensor) {
            var rng = DataRNG(seed: seed)
            var values: [Float] = [], labels: [Int32] = []
            while labels.count < count {
                let sequence = (0..<6).map { _ in rng.uniform() }
                let sum = sequence.reduce(0, +)
                guard Swift.abs(sum) > 0.1 else { continue }
                values += sequence
                labels.append(sum > 0 ? 1 : 0)
            }
            return (Tensor(values, shape: [count, 6, 1], on: .cpu), Tensor(int32: labels, shape: [count], on: .cpu))
        }
        let (x, y) = data(256, seed: 1), (testX, testY) = data(200, seed: 2)
        let model = try Sequential([kind.make(8), Dense(2)], inputShape: [6, 1], device: device, seed: 3)
        try model.compile(optimizer: Adam(learningRate: 0.03), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        try model.fit(x, y, epochs: 12, batchSize: 32, verbosity: .silent)
        let result = try model.evaluate(testX, testY)
        #expect(result["accuracy"]! >= 0.9, "\(kind) sum sign on \(device): \(result)")
    }
}
