import FlintCore

/// How a recurrent layer initialises its recurrent kernel `[units, k·units]`.
public enum RecurrentInitializer: Sendable, Hashable {
    /// Keras' default: a (semi-)orthogonal matrix, rows orthonormal, scaled by `gain`. It is made
    /// on the host by Gram–Schmidt from normal draws of the layer's generator, so every device
    /// gets the same weights.
    case orthogonal(gain: Float)
    /// Any of the ordinary initialisers, with fanIn = units and fanOut = k·units.
    case initializer(Initializer)

    /// `.orthogonal(gain: 1)`.
    public static var orthogonal: RecurrentInitializer { .orthogonal(gain: 1) }

    func make(units: Int, columns: Int, generator: RandomGenerator, on device: Device) -> Tensor {
        switch self {
        case .initializer(let initializer):
            return initializer.make([units, columns], fanIn: units, fanOut: columns, generator: generator, on: device)
        case .orthogonal(let gain):
            return Tensor(orthogonalRows(units, columns, gain: gain, generator: generator),
                          shape: [units, columns], on: device)
        }
    }

    /// A `rows × columns` matrix whose shorter side is orthonormal (Keras' `Orthogonal`: QR of a
    /// normal matrix with the signs of R's diagonal folded in, which Gram–Schmidt gives directly).
    private func orthogonalRows(_ rows: Int, _ columns: Int, gain: Float, generator: RandomGenerator) -> [Float] {
        // Orthonormalise the `short` vectors of length `long`, then lay them out as rows or columns.
        let (short, long) = (Swift.min(rows, columns), Swift.max(rows, columns))
        let draws = Tensor.normal([short, long], generator: generator, on: .cpu).toArray()
        var vectors = (0..<short).map { i in (0..<long).map { Double(draws[i * long + $0]) } }
        for i in 0..<short {
            // Modified Gram–Schmidt, twice for numerical orthogonality.
            for _ in 0..<2 {
                for j in 0..<i {
                    var dot = 0.0
                    for k in 0..<long { dot += vectors[i][k] * vectors[j][k] }
                    for k in 0..<long { vectors[i][k] -= dot * vectors[j][k] }
                }
            }
            let norm = vectors[i].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for k in 0..<long { vectors[i][k] /= Swift.max(norm, 1e-12) }
        }
        var out = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                out[r * columns + c] = gain * Float(rows <= columns ? vectors[r][c] : vectors[c][r])
            }
        }
        return out
    }
}

/// What `RecurrentLayer.run` returns.
public struct RecurrentOutput {
    /// The layer's output: the last state `[batch, units]`, or every state `[batch, time, units]`
    /// with `returnSequences`.
    public let output: Tensor
    /// The final state of each sequence, `[batch, units]` each: `[h]` for SimpleRNN and GRU,
    /// `[h, c]` for LSTM. With a mask or lengths it is the state after each sequence's own last step.
    public let states: [Tensor]
}

/// The machinery shared by `SimpleRNN`, `LSTM` and `GRU` (Keras semantics, batch-first inputs
/// `[batch, time, features]`).
///
/// The input projection `x · W + b` of every timestep is one matrix product over `batch·time`
/// rows; each step then costs one `h · U` product plus element-wise gate math on whole
/// `[batch, k·units]` slices. Timesteps are laid out time-major so each step's slice is contiguous.
///
/// Masking: a step whose mask is 0 leaves the state unchanged (`Tensor.where`), so with padded
/// sequences the final state is each sequence's state after its own last step. Masks come from
/// `lengths` (or an explicit `mask`) passed to `run`/`callAsFunction`, or — inside a `Sequential`
/// — from `maskValue`: timesteps whose features all equal it are skipped, like Keras' `Masking`
/// layer (pair `Embedding(…, maskZero: true)` with `maskValue: 0`). With `returnSequences` a
/// skipped step outputs the carried state (Keras' default `zero_output_for_mask=False`).
public class RecurrentLayer: Layer {
    /// The state size.
    public let units: Int
    /// Whether every step's output is returned (`[batch, time, units]`) or only the last.
    public let returnSequences: Bool
    /// Timesteps whose features all equal this value are skipped (nil: no masking).
    public let maskValue: Float?
    /// Whether biases are added.
    public let useBias: Bool
    /// How the input kernel starts.
    public let kernelInitializer: Initializer
    /// How the recurrent kernel starts.
    public let recurrentInitializer: RecurrentInitializer
    /// How the bias starts.
    public let biasInitializer: Initializer
    /// A penalty on the input kernel; nil for none.
    public let kernelRegularizer: Regularizer?
    /// A penalty on the recurrent kernel; nil for none.
    public let recurrentRegularizer: Regularizer?
    /// `[features, k·units]`, gates side by side along the columns (Keras' layout).
    public private(set) var kernel: Parameter!
    /// `[units, k·units]`.
    public private(set) var recurrentKernel: Parameter!
    /// `[k·units]` (GRU: `[2, 3·units]`, input and recurrent biases), or nil without `useBias`.
    public private(set) var bias: Parameter?
    /// Gates per unit: 1 (SimpleRNN), 4 (LSTM), 3 (GRU).
    let gateCount: Int
    private(set) var features = 0

    init(units: Int, gateCount: Int, returnSequences: Bool, maskValue: Float?, useBias: Bool,
         kernelInitializer: Initializer, recurrentInitializer: RecurrentInitializer, biasInitializer: Initializer,
         kernelRegularizer: Regularizer?, recurrentRegularizer: Regularizer?) {
        ensure(units > 0, "\(Self.self): units must be positive, got \(units)")
        self.units = units
        self.gateCount = gateCount
        self.returnSequences = returnSequences
        self.maskValue = maskValue
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.recurrentInitializer = recurrentInitializer
        self.biasInitializer = biasInitializer
        self.kernelRegularizer = kernelRegularizer
        self.recurrentRegularizer = recurrentRegularizer
    }

    // MARK: Hooks for the cells

    /// Number of state tensors (LSTM: 2).
    var stateCount: Int { 1 }
    /// The bias tensor's shape.
    var biasShape: [Int] { [gateCount * units] }
    /// The bias made at build time (LSTM overrides for the forget-gate ones).
    func makeBias(context: BuildContext) -> Tensor {
        biasInitializer.make(biasShape, fanIn: features, fanOut: gateCount * units, generator: context.generator, on: context.device)
    }
    /// What is added to the input projection of every step, `[k·units]`.
    func projectionBias() -> Tensor? { bias?.value }
    /// One step: `input` is this step's `x·W + b` (`[batch, k·units]`); returns the new states.
    func step(_ input: Tensor, states: [Tensor]) -> [Tensor] { fatalError("\(Self.self) must override step") }
    /// Every step at once, for sequences without a mask: `input` is time-major
    /// (`[time, batch, features]`, time > 0) and the op makes its own projection; returns each
    /// step's states side by side (`[time, batch, stateCount·units]`), or nil to run `step` by
    /// step (the default).
    func sequence(input: Tensor, states: [Tensor]) -> Tensor? { nil }

    // MARK: Layer

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 2, inputShape[0] > 0, inputShape[1] > 0 else {
            throw ModelError.incompatibleShape(layer: "\(typeName)(\(units))", inputShape: inputShape,
                                               reason: "needs samples of shape [time, features]")
        }
        features = inputShape[1]
        let columns = gateCount * units
        kernel = Parameter(kernelInitializer.make([features, columns], fanIn: features, fanOut: columns,
                                                  generator: context.generator, on: context.device),
                           name: "kernel", regularizer: kernelRegularizer)
        recurrentKernel = Parameter(recurrentInitializer.make(units: units, columns: columns, generator: context.generator,
                                                              on: context.device),
                                    name: "recurrent_kernel", regularizer: recurrentRegularizer)
        bias = useBias ? Parameter(makeBias(context: context), name: "bias") : nil
        return returnSequences ? [inputShape[0], units] : [units]
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        run(input).output
    }


    // MARK: Direct use

    /// Runs `input` (`[batch, time, features]`) from `initialState` (zeros when nil; `[h]`, or
    /// `[h, c]` for LSTM, each `[batch, units]`). Sequence `b` takes `lengths[b]` steps (the rest is
    /// padding); `mask` (`[batch, time]`, 1 = real step, 0 = skip) skips arbitrary steps. Both
    /// combine with `maskValue`.
    public func run(_ input: Tensor, initialState: [Tensor]? = nil, lengths: [Int]? = nil, mask: Tensor? = nil) -> RecurrentOutput {
        guard buildIfNeeded(for: [input]) else { return RecurrentOutput(output: input, states: []) }
        ensure(input.rank == 3 && input.shape[2] == features,
                     "\(typeName): input must be [batch, time, \(features)], got \(input.shape)")
        let (batch, time) = (input.shape[0], input.shape[1])
        let device = input.device

        // Which steps need a mask, decided on the host when only lengths are known.
        var stepMask: Tensor?  // [time, batch, 1]
        var maskedSteps = Array(repeating: false, count: time)
        if let lengths {
            ensure(lengths.count == batch && lengths.allSatisfy { $0 >= 0 && $0 <= time },
                         "\(typeName): lengths must hold \(batch) values in 0...\(time), got \(lengths)")
            var values = [Float](repeating: 0, count: time * batch)
            for t in 0..<time {
                for b in 0..<batch where t < lengths[b] { values[t * batch + b] = 1 }
                maskedSteps[t] = lengths.contains { t >= $0 }
            }
            stepMask = Tensor(values, shape: [time, batch, 1], on: device)
        }
        var masks: [Tensor] = []  // each [batch, time]
        if let mask {
            ensure(mask.shape == [batch, time], "\(typeName): mask must be [\(batch), \(time)], got \(mask.shape)")
            masks.append(mask.to(device).detached())
        }
        if let maskValue { masks.append((input.detached() .!= maskValue).max(axis: 2)) }
        if !masks.isEmpty {
            let combined = masks.dropFirst().reduce(masks[0]) { $0 * $1 }.transposed().contiguous().unsqueezed(axis: 2)
            stepMask = stepMask.map { $0 * combined } ?? combined
            maskedSteps = Array(repeating: true, count: time)
        }

        var states = initialState ?? Array(repeating: Tensor.zeros([batch, units], on: device), count: stateCount)
        ensure(states.count == stateCount && states.allSatisfy { $0.shape == [batch, units] },
                     "\(typeName): initial state must be \(stateCount) tensor(s) of shape [\(batch), \(units)], got \(states.map(\.shape))")
        states = states.map { $0.to(device) }
        let timeMajorInput = input.permuted([1, 0, 2])
        if stepMask == nil, time > 0, let all = sequence(input: timeMajorInput, states: states) {
            // Every step's states side by side, [time, batch, stateCount·units], from one op.
            let last = all.select(index: time - 1, axis: 0)
            let finalStates = (0..<stateCount).map { last.slice(axis: 1, ($0 * units)..<(($0 + 1) * units)) }
            let output = returnSequences ? all.slice(axis: 2, 0..<units).permuted([1, 0, 2]) : finalStates[0]
            return RecurrentOutput(output: output, states: finalStates)
        }

        // The input projection of every step in one product, time-major: [time, batch, k·units].
        let columns = gateCount * units
        // The bias joins the product as it is stored (one pass over the projection fewer).
        let projected = timeMajorInput.reshaped(to: [time * batch, features]).matmul(kernel.value, adding: projectionBias())
        // Each step's slice is a view; backward gathers their gradients in one pass.
        let timeMajor = projected.reshaped(to: [time, batch, columns])
        let stepInputs = (0..<time).map { timeMajor.select(index: $0, axis: 0) }
        var outputs: [Tensor] = []
        for t in 0..<time {
            var next = step(stepInputs[t], states: states)
            if maskedSteps[t], let stepMask {
                let m = stepMask.select(index: t, axis: 0)
                next = zip(next, states).map { Tensor.where(m, $0, $1) }
            }
            states = next
            if returnSequences { outputs.append(states[0].unsqueezed(axis: 1)) }
        }
        let output = returnSequences
            ? (outputs.isEmpty ? Tensor.zeros([batch, 0, units], on: device) : Tensor.concatenate(outputs, axis: 1))
            : states[0]
        return RecurrentOutput(output: output, states: states)
    }

    /// The layer's output for `input` from `initialState`, optionally with per-sequence `lengths`.
    public func callAsFunction(_ input: Tensor, initialState: [Tensor]?, lengths: [Int]? = nil) -> Tensor {
        run(input, initialState: initialState, lengths: lengths).output
    }

    /// The layer's output for padded `input` where sequence `b` has `lengths[b]` real steps.
    public func callAsFunction(_ input: Tensor, lengths: [Int]) -> Tensor {
        run(input, lengths: lengths).output
    }

    /// `activation(a + b)`, fused when the activation allows.
    static func activate(_ activation: Activation, _ a: Tensor, plus b: Tensor) -> Tensor {
        Activation.apply(activation, to: a, bias: b)
    }
}
