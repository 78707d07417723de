import FlintCore

/// A fully connected recurrent layer, Keras' `SimpleRNN`: `h' = activation(x·W + h·U + b)`.
///
///     SimpleRNN(32)                          // [batch, time, features] → [batch, 32]
///     SimpleRNN(32, returnSequences: true)   // → [batch, time, 32]
public final class SimpleRNN: RecurrentLayer {
    /// Applied to the new state.
    public let activation: Activation

    /// A simple recurrent layer; see `RecurrentLayer` for the shared arguments.
    ///
    /// - Parameters:
    ///   - units: The state size.
    ///   - activation: Applied to the new state (tanh by default).
    ///   - returnSequences: Whether every step's output is returned.
    ///   - maskValue: Steps whose features all equal it are skipped; nil for none.
    ///   - useBias: Whether to add a bias.
    ///   - kernelInitializer: How the input kernel starts.
    ///   - recurrentInitializer: How the recurrent kernel starts.
    ///   - biasInitializer: How the bias starts.
    ///   - kernelRegularizer: A penalty on the input kernel.
    ///   - recurrentRegularizer: A penalty on the recurrent kernel.
    public init(
        _ units: Int, activation: Activation = .tanh, returnSequences: Bool = false, maskValue: Float? = nil,
        useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
        recurrentInitializer: RecurrentInitializer = .orthogonal, biasInitializer: Initializer = .zeros,
        kernelRegularizer: Regularizer? = nil, recurrentRegularizer: Regularizer? = nil
    ) {
        self.activation = activation
        super.init(units: units, gateCount: 1, returnSequences: returnSequences, maskValue: maskValue, useBias: useBias,
                   kernelInitializer: kernelInitializer, recurrentInitializer: recurrentInitializer,
                   biasInitializer: biasInitializer, kernelRegularizer: kernelRegularizer,
                   recurrentRegularizer: recurrentRegularizer)
    }

    override func step(_ input: Tensor, states: [Tensor]) -> [Tensor] {
        [Self.activate(activation, states[0].matmul(recurrentKernel.value), plus: input)]
    }
}

/// Long short-term memory, Keras' `LSTM`. Gates in Keras' order i, f, c, o along the columns of
/// the kernel `[features, 4·units]`, the recurrent kernel `[units, 4·units]` and the bias `[4·units]`:
///
///     i = σ(x·Wᵢ + h·Uᵢ + bᵢ)   f = σ(x·W_f + h·U_f + b_f)   o = σ(x·Wₒ + h·Uₒ + bₒ)
///     c' = f ⊙ c + i ⊙ tanh(x·W_c + h·U_c + b_c)             h' = o ⊙ tanh(c')
///
/// With `unitForgetBias` (Keras' default) the forget gate's bias starts at 1. The state is `[h, c]`.
public final class LSTM: RecurrentLayer {
    /// Applied to the candidate cell state and to the output.
    public let activation: Activation
    /// Applied to the gates.
    public let recurrentActivation: Activation
    /// Whether the forget gate's bias starts at 1.
    public let unitForgetBias: Bool

    /// An LSTM layer.
    ///
    /// - Parameters:
    ///   - units: The state size.
    ///   - activation: For the candidate and the output (tanh by default).
    ///   - recurrentActivation: For the gates (sigmoid by default).
    ///   - returnSequences: Whether every step's output is returned.
    ///   - maskValue: Steps whose features all equal it are skipped; nil for none.
    ///   - useBias: Whether to add biases.
    ///   - unitForgetBias: Whether the forget gate's bias starts at 1.
    ///   - kernelInitializer: How the input kernel starts.
    ///   - recurrentInitializer: How the recurrent kernel starts.
    ///   - biasInitializer: How the bias starts.
    ///   - kernelRegularizer: A penalty on the input kernel.
    ///   - recurrentRegularizer: A penalty on the recurrent kernel.
    public init(
        _ units: Int, activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid,
        returnSequences: Bool = false, maskValue: Float? = nil, useBias: Bool = true, unitForgetBias: Bool = true,
        kernelInitializer: Initializer = .glorotUniform, recurrentInitializer: RecurrentInitializer = .orthogonal,
        biasInitializer: Initializer = .zeros, kernelRegularizer: Regularizer? = nil, recurrentRegularizer: Regularizer? = nil
    ) {
        self.activation = activation
        self.recurrentActivation = recurrentActivation
        self.unitForgetBias = unitForgetBias
        super.init(units: units, gateCount: 4, returnSequences: returnSequences, maskValue: maskValue, useBias: useBias,
                   kernelInitializer: kernelInitializer, recurrentInitializer: recurrentInitializer,
                   biasInitializer: biasInitializer, kernelRegularizer: kernelRegularizer,
                   recurrentRegularizer: recurrentRegularizer)
    }

    override var stateCount: Int { 2 }

    override func makeBias(context: BuildContext) -> Tensor {
        let base = super.makeBias(context: context)
        guard unitForgetBias else { return base }
        let u = units
        return Tensor.withoutGrad {
            Tensor.concatenate([base.slice(axis: 0, 0..<u), Tensor.ones([u], on: context.device),
                                base.slice(axis: 0, (2 * u)..<(4 * u))], axis: 0)
        }
    }

    override func sequence(input: Tensor, states: [Tensor]) -> Tensor? {
        // The standard cell with the input projection inside (see `Tensor.lstmSequence(input:…)`).
        guard activation == .tanh && recurrentActivation == .sigmoid else { return nil }
        return Tensor.lstmSequence(input: input, inputKernel: kernel.value, bias: projectionBias(),
                                   recurrentKernel: recurrentKernel.value, hidden: states[0], cell: states[1])
    }

    override func step(_ input: Tensor, states: [Tensor]) -> [Tensor] {
        let (h, c, u) = (states[0], states[1], units)
        let z = h.matmul(recurrentKernel.value)
        if activation == .tanh && recurrentActivation == .sigmoid {
            // The standard cell as one fused op (one kernel forward, one backward).
            let next = Tensor.lstmCell(input: input, recurrent: z, cell: c)
            return [next.slice(axis: 1, 0..<u), next.slice(axis: 1, u..<(2 * u))]
        }
        func gate(_ k: Int, _ n: Int = 1) -> (Tensor, Tensor) {
            (z.slice(axis: 1, (k * u)..<((k + n) * u)), input.slice(axis: 1, (k * u)..<((k + n) * u)))
        }
        let (zif, xif) = gate(0, 2), (zc, xc) = gate(2), (zo, xo) = gate(3)
        let inputForget = Self.activate(recurrentActivation, zif, plus: xif)
        let candidate = Self.activate(activation, zc, plus: xc)
        let output = Self.activate(recurrentActivation, zo, plus: xo)
        let cell = inputForget.slice(axis: 1, u..<(2 * u)) * c + inputForget.slice(axis: 1, 0..<u) * candidate
        return [output * activation(cell), cell]
    }
}

/// Gated recurrent unit, Keras' `GRU` with `reset_after=True` (its default, and cuDNN's form):
/// gates z, r, h in Keras' order along the columns of the kernel `[features, 3·units]` and the
/// recurrent kernel `[units, 3·units]`; the bias is `[2, 3·units]`, row 0 for the input projection
/// and row 1 for the recurrent one, so the reset gate applies after the recurrent product:
///
///     z = σ(x·W_z + b_z + h·U_z + b'_z)    r = σ(x·W_r + b_r + h·U_r + b'_r)
///     ĥ = tanh(x·W_h + b_h + r ⊙ (h·U_h + b'_h))    h' = z ⊙ h + (1 − z) ⊙ ĥ
///
/// (Keras' `reset_after=False` variant, with a single bias, is not implemented.) Only `b'_h`
/// is added per step; `b'_z` and `b'_r` are folded into the input projection.
public final class GRU: RecurrentLayer {
    /// Applied to the candidate state.
    public let activation: Activation
    /// Applied to the gates.
    public let recurrentActivation: Activation

    /// A GRU layer.
    ///
    /// - Parameters:
    ///   - units: The state size.
    ///   - activation: For the candidate (tanh by default).
    ///   - recurrentActivation: For the gates (sigmoid by default).
    ///   - returnSequences: Whether every step's output is returned.
    ///   - maskValue: Steps whose features all equal it are skipped; nil for none.
    ///   - useBias: Whether to add biases.
    ///   - kernelInitializer: How the input kernel starts.
    ///   - recurrentInitializer: How the recurrent kernel starts.
    ///   - biasInitializer: How the bias starts.
    ///   - kernelRegularizer: A penalty on the input kernel.
    ///   - recurrentRegularizer: A penalty on the recurrent kernel.
    public init(
        _ units: Int, activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid,
        returnSequences: Bool = false, maskValue: Float? = nil, useBias: Bool = true,
        kernelInitializer: Initializer = .glorotUniform, recurrentInitializer: RecurrentInitializer = .orthogonal,
        biasInitializer: Initializer = .zeros, kernelRegularizer: Regularizer? = nil, recurrentRegularizer: Regularizer? = nil
    ) {
        self.activation = activation
        self.recurrentActivation = recurrentActivation
        super.init(units: units, gateCount: 3, returnSequences: returnSequences, maskValue: maskValue, useBias: useBias,
                   kernelInitializer: kernelInitializer, recurrentInitializer: recurrentInitializer,
                   biasInitializer: biasInitializer, kernelRegularizer: kernelRegularizer,
                   recurrentRegularizer: recurrentRegularizer)
    }

    override var biasShape: [Int] { [2, 3 * units] }

    override func projectionBias() -> Tensor? {
        guard let b = bias?.value else { return nil }
        let recurrentGates = b.select(index: 1, axis: 0).slice(axis: 0, 0..<(2 * units))
        return b.select(index: 0, axis: 0)
            + Tensor.concatenate([recurrentGates, Tensor.zeros([units], on: b.device)], axis: 0)
    }

    override func step(_ input: Tensor, states: [Tensor]) -> [Tensor] {
        let (h, u) = (states[0], units)
        let recurrent = h.matmul(recurrentKernel.value)
        let gates = Self.activate(recurrentActivation, recurrent.slice(axis: 1, 0..<(2 * u)), plus: input.slice(axis: 1, 0..<(2 * u)))
        let (z, r) = (gates.slice(axis: 1, 0..<u), gates.slice(axis: 1, u..<(2 * u)))
        var recurrentHidden = recurrent.slice(axis: 1, (2 * u)..<(3 * u))
        if let b = bias?.value { recurrentHidden = recurrentHidden + b.select(index: 1, axis: 0).slice(axis: 0, (2 * u)..<(3 * u)) }
        let candidate = Self.activate(activation, r * recurrentHidden, plus: input.slice(axis: 1, (2 * u)..<(3 * u)))
        return [candidate + z * (h - candidate)]
    }
}
