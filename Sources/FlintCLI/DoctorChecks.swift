import Flint

/// One conformance check of `flint doctor`: the same computation, from the same host inputs,
/// on a device and on the CPU backend; each output must agree elementwise within `tolerance`
/// (error `|device − cpu| / max(1, |cpu|)`, so absolute near zero and relative elsewhere;
/// NaN and infinities must match exactly).
struct DoctorCheck: Sendable {
    /// What runs, e.g. `unary relu`.
    let name: String
    /// The backend primitive it exercises.
    let primitive: Primitive
    let tolerance: Double
    let run: @Sendable (Device) -> [Tensor]
}

extension DoctorCheck {
    /// Host inputs: uniform in [-3, 3] from SplitMix64 (independent of any device), with NaN,
    /// ±infinity and ±0 planted at fixed places when `specials` is set.
    static func values(_ count: Int, seed: UInt64, specials: Bool = true, low: Double = -3, high: Double = 3) -> [Float] {
        var generator = SplitMix64(seed: seed)
        var values = (0..<count).map { _ in Float(low + (high - low) * generator.nextUnit()) }
        if specials && count >= 16 {
            for (index, special) in [Float.nan, .infinity, -.infinity, 0, -0.0].enumerated() { values[index * 3 + 1] = special }
        }
        return values
    }

    static func input(_ shape: [Int], seed: UInt64, specials: Bool = true, on device: Device) -> Tensor {
        Tensor(values(shape.reduce(1, *), seed: seed, specials: specials), shape: shape, on: device)
    }

    static func unary(_ name: String, tolerance: Double = 1e-6, _ f: @escaping @Sendable (Tensor) -> Tensor) -> DoctorCheck {
        DoctorCheck(name: "unary \(name)", primitive: .unary, tolerance: tolerance) { device in
            // Contiguous, then a transposed view (the strided kernels).
            let x = input([37, 29], seed: 1, on: device)
            return [f(x), f(x.transposed())]
        }
    }

    static func binary(_ name: String, _ f: @escaping @Sendable (Tensor, Tensor) -> Tensor) -> DoctorCheck {
        DoctorCheck(name: "binary \(name)", primitive: .binary, tolerance: 1e-6) { device in
            let a = input([33, 17], seed: 2, on: device), b = input([33, 17], seed: 3, on: device)
            // Equal shapes, a broadcast row, and a transposed operand.
            return [f(a, b), f(a, input([17], seed: 4, on: device)), f(a.transposed(), b.transposed())]
        }
    }

    /// Every primitive of the `Backend` protocol, through the public ops that use it.
    static let all: [DoctorCheck] = unaryChecks + binaryChecks + memoryChecks + axisChecks + matrixChecks + otherChecks

    static let unaryChecks: [DoctorCheck] = [
        unary("neg") { -$0 }, unary("abs") { $0.abs() }, unary("exp", tolerance: 1e-5) { $0.exp() },
        unary("log", tolerance: 1e-5) { $0.log() }, unary("sqrt", tolerance: 1e-5) { $0.sqrt() },
        unary("rsqrt", tolerance: 1e-5) { $0.rsqrt() }, unary("square") { $0.square() },
        unary("reciprocal", tolerance: 1e-5) { $0.reciprocal() }, unary("sign") { $0.sign() },
        unary("relu") { $0.relu() }, unary("sigmoid", tolerance: 1e-5) { $0.sigmoid() },
        unary("tanh", tolerance: 1e-5) { $0.tanh() }, unary("leakyRelu") { $0.leakyRelu(slope: 0.1) },
        unary("affine") { $0 * 1.5 + 2 }, unary("pow", tolerance: 1e-5) { $0.pow(2.5) },
        unary("clamp") { $0.clamped(min: -1, max: 2) },
    ]

    static let binaryChecks: [DoctorCheck] = [
        binary("add") { $0 + $1 }, binary("sub") { $0 - $1 }, binary("mul") { $0 * $1 },
        binary("div") { $0 / $1 }, binary("pow") { $0.abs().pow($1) }, binary("maximum") { $0.maximum($1) },
        binary("minimum") { $0.minimum($1) }, binary("equal") { $0 .== $1 }, binary("notEqual") { $0 .!= $1 },
        binary("less") { $0 .< $1 }, binary("lessEqual") { $0 .<= $1 }, binary("greater") { $0 .> $1 },
        binary("greaterEqual") { $0 .>= $1 },
        DoctorCheck(name: "binary add+activation", primitive: .binary, tolerance: 1e-5) { device in
            let x = input([64, 40], seed: 5, on: device), bias = input([40], seed: 6, on: device)
            return [x.adding(bias, then: .relu), x.adding(bias, then: .sigmoid), x.adding(bias, then: .tanh),
                    x.adding(bias, then: .leakyRelu(slope: 0.2))]
        },
    ]

    static let memoryChecks: [DoctorCheck] = [
        DoctorCheck(name: "select where", primitive: .select, tolerance: 0) { device in
            let x = input([40, 30], seed: 7, on: device), y = input([30], seed: 8, on: device)
            return [Tensor.where(x .> 0, x, y), Tensor.where(y .< 1, x.transposed().contiguous().transposed(), y)]
        },
        DoctorCheck(name: "copy views", primitive: .copy, tolerance: 0) { device in
            let x = input([6, 70, 90], seed: 9, on: device)
            return [x.transposed().contiguous(), x.permuted([2, 0, 1]).contiguous(), x.slice(axis: 2, 5..<61).contiguous(),
                    Tensor.concatenate([x, x.slice(axis: 0, 1..<3)], axis: 0)]
        },
        DoctorCheck(name: "fill", primitive: .fill, tolerance: 0) { device in
            [Tensor.zeros([1000, 3], on: device), Tensor.full([77], value: -2.5, on: device), Tensor.ones([5, 5], on: device)]
        },
        DoctorCheck(name: "cast", primitive: .cast, tolerance: 0) { device in
            let x = input([500], seed: 10, on: device) * 1e3
            return [x.cast(to: .int32), x.cast(to: .int32).cast(to: .float32)]
        },
    ]

    static let axisChecks: [DoctorCheck] = [
        DoctorCheck(name: "reduce sum/max/min", primitive: .reduce, tolerance: 1e-5) { device in
            let x = input([48, 130, 9], seed: 11, specials: false, on: device)
            let long = input([200_000], seed: 12, specials: false, on: device)
            return [x.sum(axis: 1), x.sum(axis: 0), x.max(axis: 2), x.min(axis: 1), x.mean(axes: [0, 2]), long.sum(), long.max()]
        },
        DoctorCheck(name: "reduce with NaN", primitive: .reduce, tolerance: 1e-5) { device in
            let x = input([20, 16], seed: 13, on: device)
            return [x.max(axis: 1), x.min(axis: 0), x.sum(axis: 1)]
        },
        DoctorCheck(name: "argmax", primitive: .argmax, tolerance: 0) { device in
            let x = input([64, 300], seed: 14, specials: false, on: device)
            return [x.argmax(axis: 1), x.argmax(axis: 0), input([100_000], seed: 15, specials: false, on: device).argmax()]
        },
        DoctorCheck(name: "softmax", primitive: .softmax, tolerance: 1e-5) { device in
            let x = input([32, 100], seed: 16, specials: false, on: device) * 10
            return [x.softmax(axis: 1), x.logSoftmax(axis: 1), x.softmax(axis: 0)]
        },
        DoctorCheck(name: "gather", primitive: .gather, tolerance: 0) { device in
            let x = input([50, 40], seed: 17, on: device)
            let indices = Tensor(int32: (0..<50 * 7).map { Int32($0 * 7919 % 40) }, shape: [50, 7], on: device)
            return [x.gather(axis: 1, indices: indices), x.indexSelect(axis: 0, indices: Tensor(int32: [3, 0, 49, 3], shape: [4], on: device))]
        },
        DoctorCheck(name: "scatterAdd", primitive: .scatterAdd, tolerance: 1e-5) { device in
            let base = input([50, 40], seed: 18, specials: false, on: device)
            let source = input([50, 9], seed: 19, specials: false, on: device)
            let indices = Tensor(int32: (0..<50 * 9).map { Int32($0 * 31 % 40) }, shape: [50, 9], on: device)
            return [base.scatterAdd(axis: 1, indices: indices, source: source)]
        },
    ]

    static let matrixChecks: [DoctorCheck] = [
        DoctorCheck(name: "gemm", primitive: .gemm, tolerance: 1e-4) { device in
            let a = input([67, 93], seed: 20, specials: false, on: device), b = input([93, 45], seed: 21, specials: false, on: device)
            let batch = input([3, 20, 31], seed: 22, specials: false, on: device)
            return [a.matmul(b), a.matmul(a, transposeOther: true), b.matmul(b, transposeSelf: true),
                    batch.matmul(batch.transposed()), input([256, 256], seed: 23, specials: false, on: device).matmul(
                        input([256, 128], seed: 24, specials: false, on: device))]
        },
        DoctorCheck(name: "conv2d im2col", primitive: .im2col, tolerance: 1e-4) { device in
            let x = input([4, 13, 11, 3], seed: 25, specials: false, on: device), w = input([3, 3, 3, 8], seed: 26, specials: false, on: device)
            return [x.conv2d(w), x.conv2d(w, strides: (2, 2), padding: .same), x.conv2d(w, dilation: (2, 1))]
        },
        DoctorCheck(name: "conv2d backward col2im", primitive: .col2im, tolerance: 1e-4) { device in
            let x = input([2, 9, 10, 3], seed: 27, specials: false, on: device).requiringGrad()
            let w = input([3, 3, 3, 4], seed: 28, specials: false, on: device)
            let g = input([2, 5, 5, 4], seed: 29, specials: false, on: device)
            (x.conv2d(w, strides: (2, 2), padding: .same) * g).sum().backward()
            return [x.grad!]
        },
        // One input channel: the CPU convolves it directly, other devices through im2col.
        DoctorCheck(name: "conv2d direct", primitive: .conv2d, tolerance: 1e-4) { device in
            let x = input([3, 14, 13, 1], seed: 43, specials: false, on: device), w = input([3, 3, 1, 16], seed: 44, specials: false, on: device)
            return [x.conv2d(w), x.conv2d(w, strides: (2, 2), padding: .same)]
        },
        DoctorCheck(name: "conv2d filter gradient", primitive: .conv2dFilterGradient, tolerance: 1e-4) { device in
            let x = input([3, 14, 13, 1], seed: 43, specials: false, on: device)
            let w = input([3, 3, 1, 16], seed: 44, specials: false, on: device).requiringGrad()
            let g = input([3, 12, 11, 16], seed: 45, specials: false, on: device)
            (x.conv2d(w) * g).sum().backward()
            return [w.grad!]
        },
        DoctorCheck(name: "maxPool2d", primitive: .maxPool2d, tolerance: 0) { device in
            let x = input([3, 14, 15, 5], seed: 30, on: device)
            return [x.maxPool2d(size: (2, 2)), x.maxPool2d(size: (3, 3), strides: (2, 2), padding: .same)]
        },
        DoctorCheck(name: "maxPool2d backward", primitive: .maxPool2dBackward, tolerance: 0) { device in
            let x = input([2, 12, 12, 4], seed: 31, specials: false, on: device).requiringGrad()
            let g = input([2, 6, 6, 4], seed: 32, specials: false, on: device)
            (x.maxPool2d(size: (2, 2)) * g).sum().backward()
            return [x.grad!]
        },
    ]

    static let otherChecks: [DoctorCheck] = [
        DoctorCheck(name: "adamStep", primitive: .adamStep, tolerance: 1e-5) { device in
            let step = AdamStep(learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, correction1: 0.19,
                                correction2: 0.002, l2: 1e-3, decoupledDecay: 0)
            let p = input([1000], seed: 33, specials: false, on: device), g = input([1000], seed: 34, specials: false, on: device)
            let m = input([1000], seed: 35, specials: false, on: device), v = input([1000], seed: 36, specials: false, on: device).abs()
            let (parameter, newM, newV) = Tensor.adamStep(step, parameter: p, gradient: g, m: m, v: v)
            return [parameter, newM, newV]
        },
        DoctorCheck(name: "lstmCell", primitive: .lstmCell, tolerance: 1e-5) { device in
            let z = input([16, 4 * 24], seed: 39, specials: false, on: device), r = input([16, 4 * 24], seed: 40, specials: false, on: device)
            return [Tensor.lstmCell(input: z, recurrent: r, cell: input([16, 24], seed: 41, specials: false, on: device))]
        },
        DoctorCheck(name: "lstmCell backward", primitive: .lstmCellBackward, tolerance: 1e-5) { device in
            let z = input([16, 4 * 24], seed: 39, specials: false, on: device).requiringGrad()
            let c = input([16, 24], seed: 41, specials: false, on: device).requiringGrad()
            let g = input([16, 2 * 24], seed: 42, specials: false, on: device)
            // Through the two halves, as an LSTM uses it (their gradients reach the kernel apart).
            let out = Tensor.lstmCell(input: z, recurrent: z * 0.5, cell: c)
            ((out.slice(axis: 1, 0..<24) * g.slice(axis: 1, 0..<24)).sum()
                + (out.slice(axis: 1, 24..<48) * g.slice(axis: 1, 24..<48)).sum()).backward()
            return [z.grad!, c.grad!]
        },
        DoctorCheck(name: "random (Philox)", primitive: .random, tolerance: 1e-5) { device in
            [Tensor.uniform([4099], low: -2, high: 5, seed: 37, on: device), Tensor.normal([4099], seed: 38, on: device)]
        },
    ]
}
