import FlintBackend

// MARK: - Launch helpers

extension Tensor {
    func mapped(_ op: UnaryOp, name: String) -> Tensor {
        requireFloat(name)
        let result = Tensor(uninitializedShape: shape, backend: backend)
        guard count > 0 else { return result }
        let (dims, strides) = Shape.coalesce(shape: shape, strides: [self.strides])
        backend.unary(op, StridedOperand(buffer: buffer, offset: offset, strides: strides[0]), shape: dims, out: result.buffer)
        return result
    }

    func zipped(_ other: Tensor, _ op: BinaryOp, then activation: UnaryOp? = nil) -> Tensor {
        requireFloat(op.rawValue)
        other.requireFloat(op.rawValue)
        requireSameDevice(other, op.rawValue)
        guard let outShape = Shape.broadcast(shape, other.shape) else {
            failArgument("\(op.rawValue): shapes \(shape) and \(other.shape) are not broadcastable")
            return .placeholder(shape, on: device)
        }
        let result = Tensor(uninitializedShape: outShape, backend: backend)
        guard result.count > 0 else { return result }
        let a = operand(broadcastTo: outShape), b = other.operand(broadcastTo: outShape)
        let (dims, strides) = Shape.coalesce(shape: outShape, strides: [a.strides, b.strides])
        let left = StridedOperand(buffer: a.buffer, offset: a.offset, strides: strides[0])
        let right = StridedOperand(buffer: b.buffer, offset: b.offset, strides: strides[1])
        if let activation {
            backend.binary(op, left, right, shape: dims, then: activation, out: result.buffer)
        } else {
            backend.binary(op, left, right, shape: dims, out: result.buffer)
        }
        return result
    }

    /// A rank-0 tensor on this tensor's device, filled by the device (no host transfer).
    func scalar(_ value: Float) -> Tensor {
        Tensor.filled([], bits: value.bitPattern, dtype: .float32, device: device)
    }
}

// MARK: - Unary functions (forward and backward together)

extension Tensor {
    /// A unary op whose gradient is `g * derivative`, with `derivative` built from the input
    /// and the (graph-free) output only when backward runs.
    private func unary(_ op: UnaryOp, _ name: String, derivative: @escaping (_ x: Tensor, _ y: Tensor) -> Tensor) -> Tensor {
        let y = mapped(op, name: name)
        return y.recorded(name, [self]) { [self] g in [g * derivative(self.detached(), y)] }
    }

    /// The absolute value of each element.
    public func abs() -> Tensor { unary(.abs, "abs") { x, _ in x.sign() } }
    /// `eˣ` of each element.
    public func exp() -> Tensor { unary(.exp, "exp") { _, y in y } }
    /// The natural logarithm of each element (NaN below zero, -∞ at zero).
    public func log() -> Tensor { unary(.log, "log") { x, _ in x.reciprocal() } }
    /// The square root of each element (NaN below zero).
    public func sqrt() -> Tensor { unary(.sqrt, "sqrt") { _, y in 0.5 / y } }
    /// `1 / √x` of each element.
    public func rsqrt() -> Tensor { unary(.rsqrt, "rsqrt") { _, y in y.pow(3) * -0.5 } }
    /// `x²` of each element.
    public func square() -> Tensor { unary(.square, "square") { x, _ in x * 2 } }
    /// `1 / x` of each element.
    public func reciprocal() -> Tensor { unary(.reciprocal, "reciprocal") { _, y in -y.square() } }
    /// -1, 0 or 1; its gradient is zero, so none flows back.
    public func sign() -> Tensor { mapped(.sign, name: "sign") }
    /// `max(x, 0)` of each element; the gradient at 0 is 0, as in PyTorch.
    public func relu() -> Tensor {
        let y = mapped(.relu, name: "relu")
        let handoff = ReluHandoff(wantsColumnSums: false)
        return y.recorded("relu", [self], reluHandoff: handoff) { [self] g in
            [handoff.take(g).accepted ? g : g.zipped(self.detached(), .reluGradient)]
        }
    }
    /// The logistic function `1 / (1 + e⁻ˣ)` of each element.
    public func sigmoid() -> Tensor { unary(.sigmoid, "sigmoid") { _, y in y * (1 - y) } }
    /// The hyperbolic tangent of each element.
    public func tanh() -> Tensor { unary(.tanh, "tanh") { _, y in 1 - y.square() } }
    /// The error function; its derivative is `2/√π · e^(-x²)`.
    public func erf() -> Tensor { unary(.erf, "erf") { x, _ in (-x.square()).exp() * 1.1283791670955126 } }
    /// `log(1 + eˣ)`, overflow-free; its derivative is `sigmoid(x)`.
    public func softplus() -> Tensor { unary(.softplus, "softplus") { x, _ in x.sigmoid() } }
    /// The exact GELU, `x · Φ(x)`; its derivative is `Φ(x) + x · φ(x)`.
    public func gelu() -> Tensor {
        unary(.gelu, "gelu") { x, _ in
            let cdf = (x * 0.7071067811865476).erf() * 0.5 + 0.5
            return cdf + x * (x.square() * -0.5).exp() * 0.3989422804014327
        }
    }
    /// SiLU (swish), `x · sigmoid(x)`; its derivative is `s · (1 + x · (1 - s))` with `s = sigmoid(x)`.
    public func silu() -> Tensor {
        unary(.silu, "silu") { x, _ in
            let s = x.sigmoid()
            return s * (x * (1 - s) + 1)
        }
    }

    /// `x` where positive, `slope · x` elsewhere.
    ///
    /// - Parameter slope: The factor below zero; 0.01 is PyTorch's default.
    public func leakyRelu(slope: Float = 0.01) -> Tensor {
        unary(.leakyRelu(slope: slope), "leakyRelu") { x, _ in (x .> 0) * (1 - slope) + slope }
    }
    /// Each element raised to `exponent`.
    ///
    /// - Parameter exponent: The power, the same for every element.
    public func pow(_ exponent: Float) -> Tensor {
        unary(.pow(exponent), "pow") { x, _ in x.pow(exponent - 1) * exponent }
    }
    /// Each element limited to `low...high`; the gradient flows only where the element was inside.
    ///
    /// - Parameters:
    ///   - low: The smallest value kept.
    ///   - high: The largest value kept.
    public func clamped(min low: Float = -.infinity, max high: Float = .infinity) -> Tensor {
        unary(.clamp(low: low, high: high), "clamp") { x, _ in (x .>= low) * (x .<= high) }
    }

    private func affine(scale: Float, shift: Float, _ name: String) -> Tensor {
        mapped(.affine(scale: scale, shift: shift), name: name).recorded(name, [self]) { g in [g * scale] }
    }

    public static prefix func - (x: Tensor) -> Tensor {
        x.mapped(.neg, name: "neg").recorded("neg", [x]) { g in [-g] }
    }
}

// MARK: - Binary functions (NumPy broadcasting)

extension Tensor {
    /// A binary op with gradients `(g * da, g * db)` summed back to each input's shape;
    /// each partial is computed only for an input that needs it.
    private static func differentiable(
        _ a: Tensor, _ b: Tensor, _ op: BinaryOp,
        da: @escaping (_ a: Tensor, _ b: Tensor, _ y: Tensor, _ g: Tensor) -> Tensor,
        db: @escaping (_ a: Tensor, _ b: Tensor, _ y: Tensor, _ g: Tensor) -> Tensor
    ) -> Tensor {
        let y = a.zipped(b, op)
        return y.recorded(op.rawValue, [a, b]) { g in
            let (x0, x1) = (a.detached(), b.detached())
            return [a.requiresGrad ? da(x0, x1, y, g).unbroadcast(to: a.shape) : nil,
                    b.requiresGrad ? db(x0, x1, y, g).unbroadcast(to: b.shape) : nil]
        }
    }

    /// The element-wise sum; the shapes broadcast (NumPy's rules).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        differentiable(a, b, .add, da: { _, _, _, g in g }, db: { _, _, _, g in g })
    }
    /// The element-wise difference; the shapes broadcast.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        differentiable(a, b, .sub, da: { _, _, _, g in g }, db: { _, _, _, g in -g })
    }
    /// The element-wise product; the shapes broadcast.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        differentiable(a, b, .mul, da: { _, b, _, g in g * b }, db: { a, _, _, g in g * a })
    }
    /// The element-wise quotient; the shapes broadcast.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        differentiable(a, b, .div, da: { _, b, _, g in g / b }, db: { _, b, y, g in -(g * y / b) })
    }

    /// `b` added to every element.
    public static func + (a: Tensor, b: Float) -> Tensor { a.affine(scale: 1, shift: b, "add") }
    /// `b` subtracted from every element.
    public static func - (a: Tensor, b: Float) -> Tensor { a.affine(scale: 1, shift: -b, "sub") }
    /// Every element times `b`.
    public static func * (a: Tensor, b: Float) -> Tensor { a.affine(scale: b, shift: 0, "mul") }
    /// Every element divided by `b`.
    public static func / (a: Tensor, b: Float) -> Tensor { a / a.scalar(b) }
    /// `a` added to every element.
    public static func + (a: Float, b: Tensor) -> Tensor { b + a }
    /// `a` minus each element.
    public static func - (a: Float, b: Tensor) -> Tensor { b.affine(scale: -1, shift: a, "sub") }
    /// `a` times every element.
    public static func * (a: Float, b: Tensor) -> Tensor { b * a }
    /// `a` divided by each element.
    public static func / (a: Float, b: Tensor) -> Tensor { b.scalar(a) / b }

    /// Each element raised to the matching element of `exponent`; the shapes broadcast.
    ///
    /// - Parameter exponent: The powers.
    public func pow(_ exponent: Tensor) -> Tensor {
        Tensor.differentiable(self, exponent, .pow,
                              da: { a, b, _, g in g * b * a.pow(b - 1) }, db: { a, _, y, g in g * y * a.log() })
    }
    /// Element-wise maximum; on ties the gradient goes to `self`.
    public func maximum(_ other: Tensor) -> Tensor {
        Tensor.differentiable(self, other, .maximum, da: { a, b, _, g in g * (a .>= b) }, db: { a, b, _, g in g * (a .< b) })
    }
    /// Element-wise minimum; on ties the gradient goes to `self`.
    public func minimum(_ other: Tensor) -> Tensor {
        Tensor.differentiable(self, other, .minimum, da: { a, b, _, g in g * (a .<= b) }, db: { a, b, _, g in g * (a .> b) })
    }

    // Comparisons give float32 masks (1 where true, 0 where false), spelled like SIMD's; no gradient.
    /// 1 where the elements are equal, else 0; the shapes broadcast.
    public static func .== (a: Tensor, b: Tensor) -> Tensor { a.zipped(b, .equal) }
    /// 1 where the elements differ, else 0; the shapes broadcast.
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { a.zipped(b, .notEqual) }
    /// 1 where `a` is less than `b`, else 0; the shapes broadcast.
    public static func .< (a: Tensor, b: Tensor) -> Tensor { a.zipped(b, .less) }
    /// 1 where `a` is less than or equal to `b`, else 0; the shapes broadcast.
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { a.zipped(b, .lessEqual) }
    /// 1 where `a` is greater than `b`, else 0; the shapes broadcast.
    public static func .> (a: Tensor, b: Tensor) -> Tensor { a.zipped(b, .greater) }
    /// 1 where `a` is greater than or equal to `b`, else 0; the shapes broadcast.
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { a.zipped(b, .greaterEqual) }
    /// 1 where an element equals `b`, else 0.
    public static func .== (a: Tensor, b: Float) -> Tensor { a.zipped(a.scalar(b), .equal) }
    /// 1 where an element differs from `b`, else 0.
    public static func .!= (a: Tensor, b: Float) -> Tensor { a.zipped(a.scalar(b), .notEqual) }
    /// 1 where an element is less than `b`, else 0.
    public static func .< (a: Tensor, b: Float) -> Tensor { a.zipped(a.scalar(b), .less) }
    /// 1 where an element is at most `b`, else 0.
    public static func .<= (a: Tensor, b: Float) -> Tensor { a.zipped(a.scalar(b), .lessEqual) }
    /// 1 where an element is greater than `b`, else 0.
    public static func .> (a: Tensor, b: Float) -> Tensor { a.zipped(a.scalar(b), .greater) }
    /// 1 where an element is at least `b`, else 0.
    public static func .>= (a: Tensor, b: Float) -> Tensor { a.zipped(a.scalar(b), .greaterEqual) }

    /// `condition != 0 ? a : b` element-wise, all three broadcast together.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        for t in [condition, a, b] {
            t.requireFloat("where")
            condition.requireSameDevice(t, "where")
        }
        guard let ab = Shape.broadcast(a.shape, b.shape), let outShape = Shape.broadcast(condition.shape, ab) else {
            failArgument("where: shapes \(condition.shape), \(a.shape) and \(b.shape) are not broadcastable")
            return .placeholder(a.shape, on: a.device)
        }
        let result = Tensor(uninitializedShape: outShape, backend: a.backend)
        guard result.count > 0 else { return result }
        let ops = [condition, a, b].map { $0.operand(broadcastTo: outShape) }
        let (dims, strides) = Shape.coalesce(shape: outShape, strides: ops.map(\.strides))
        let aligned = ops.indices.map { StridedOperand(buffer: ops[$0].buffer, offset: ops[$0].offset, strides: strides[$0]) }
        a.backend.select(aligned[0], aligned[1], aligned[2], shape: dims, out: result.buffer)
        return result.recorded("where", [condition, a, b]) { g in
            let zero = g.scalar(0), mask = condition.detached()
            return [nil,
                    a.requiresGrad ? Tensor.where(mask, g, zero).unbroadcast(to: a.shape) : nil,
                    b.requiresGrad ? Tensor.where(mask, zero, g).unbroadcast(to: b.shape) : nil]
        }
    }
}

/// Activations that fuse with the add before them (a layer's bias). Each derivative is a
/// function of the output alone, so backward needs neither the sum nor a second pass to keep it.
public enum FusedActivation: Sendable, Hashable {
    case relu
    case sigmoid
    case tanh
    /// `slope` must be positive, so that the output's sign is the input's.
    case leakyRelu(slope: Float)

    /// Whether the activation may fuse: a leaky ReLU's slope must be positive, as the gradient
    /// is read off the output's sign. A failed check stops the program outside `withError`.
    func checkFusable(_ op: String) -> Bool {
        guard case .leakyRelu(let slope) = self else { return true }
        return checkArgument(slope > 0, "\(op): leakyRelu slope must be positive to fuse, got \(slope)")
    }

    var op: UnaryOp {
        switch self {
        case .relu: .relu
        case .sigmoid: .sigmoid
        case .tanh: .tanh
        case .leakyRelu(let slope): .leakyRelu(slope: slope)
        }
    }

    /// The gradient of the sum from `g`, the output's: `g` times the derivative, which is a
    /// function of the output `y`.
    func gradient(_ g: Tensor, output y: Tensor) -> Tensor {
        switch self {
        case .relu: g.zipped(y, .reluGradient)
        case .sigmoid: g * (y * (1 - y))
        case .tanh: g * (1 - y.square())
        case .leakyRelu(let slope): g * ((y .> 0) * (1 - slope) + slope)
        }
    }
}

extension Tensor {
    /// `activation(self + other)` with broadcasting, in one pass on backends that fuse it.
    public func adding(_ other: Tensor, then activation: FusedActivation) -> Tensor {
        guard activation.checkFusable("adding(_:then:)") else { return zipped(other, .add) }
        return recordedEpilogue(values: zipped(other, .add, then: activation.op), bias: other, activation: activation)
    }

    /// `bias` (contiguous) when a product on this tensor's device can add it as it stores each
    /// output of `columns` columns: float32 `[columns]` on the same device; else nil.
    func fusableBias(_ bias: Tensor, columns: Int) -> Tensor? {
        bias.rank == 1 && bias.shape[0] == columns && bias.backend === backend && bias.dtype == .float32 ? bias.contiguous() : nil
    }

    /// `activation(self + bias)`, each part optional, as separate ops (where no fused form runs).
    func unfusedEpilogue(bias: Tensor?, activation: FusedActivation?) -> Tensor {
        guard let bias else { return activation.map { activated($0) } ?? self }
        return activation.map { adding(bias, then: $0) } ?? self + bias
    }

    /// `activation(self)` for an activation that fuses.
    func activated(_ activation: FusedActivation) -> Tensor {
        switch activation {
        case .relu: relu()
        case .sigmoid: sigmoid()
        case .tanh: tanh()
        case .leakyRelu(let slope): leakyRelu(slope: slope)
        }
    }

    /// ReLU's adjoint of `g` (from the output `y`) and its sum over every axis but the last (the
    /// gradient of a bias of `biasShape`), in one pass (`reluGradientWithSums`); nil where the
    /// layout does not allow it: a bias other than one value per last-axis column, or operands
    /// that are not contiguous.
    static func reluGradientWithSums(_ g: Tensor, output y: Tensor, biasShape: [Int]) -> (Tensor, Tensor)? {
        guard biasShape.count == 1, let columns = y.shape.last, columns == biasShape[0], columns > 0, g.shape == y.shape,
              g.backend === y.backend, g.dtype == .float32, y.dtype == .float32, g.isContiguous, y.isContiguous, y.count > 0
        else { return nil }
        let out = Tensor(uninitializedShape: y.shape, backend: y.backend)
        let sums = Tensor(uninitializedShape: biasShape, backend: y.backend)
        y.backend.reluGradientWithSums(g.buffer, gradientOffset: g.offset, output: y.buffer, outputOffset: y.offset,
                                       rows: y.count / columns, columns: columns, out: out.buffer, sums: sums.buffer)
        return (out, sums)
    }

    /// `values` = `activation(self + bias)` (each part optional), computed elsewhere in one
    /// pass, with the graph node of that sum and activation: self's gradient is the incoming one
    /// times the activation's derivative, which needs only `values`. A ReLU with a bias that learns
    /// takes both gradients from one pass (`reluGradientWithSums`).
    func recordedEpilogue(values: Tensor, bias: Tensor?, activation: FusedActivation?) -> Tensor {
        guard bias != nil || activation != nil else { return self }
        let name = [bias.map { _ in "add" }, activation.map { "\($0)" }].compactMap { $0 }.joined(separator: "+")
        let handoff = activation == .relu ? ReluHandoff(wantsColumnSums: bias?.requiresGrad == true) : nil
        return values.recorded(name, [self] + (bias.map { [$0] } ?? []), reluHandoff: handoff) { [self] g in
            if let (accepted, columnSums) = handoff?.take(g), accepted {
                let biasGradient = bias.flatMap { bias in
                    bias.requiresGrad ? columnSums.flatMap { $0.shape == bias.shape ? $0 : nil } ?? g.unbroadcast(to: bias.shape) : nil
                }
                return [self.requiresGrad ? g.unbroadcast(to: self.shape) : nil, biasGradient]
            }
            if activation == .relu, let bias, bias.requiresGrad,
               let (gz, biasGradient) = Self.reluGradientWithSums(g, output: values, biasShape: bias.shape) {
                return [self.requiresGrad ? gz.unbroadcast(to: self.shape) : nil, biasGradient]
            }
            let gz = activation.map { $0.gradient(g, output: values) } ?? g
            return [self.requiresGrad ? gz.unbroadcast(to: self.shape) : nil,
                    bias.flatMap { $0.requiresGrad ? gz.unbroadcast(to: $0.shape) : nil }]
        }
    }
}
