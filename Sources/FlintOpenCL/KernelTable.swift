import FlintBackend

/// A kernel in its two shapes: contiguous-or-broadcast operands, and general strides.
struct KernelPair {
    let linear: Kernel
    let strided: Kernel
}

/// Every kernel the backend launches, looked up once when the backend is created so that a
/// kernel file out of step with the Swift code fails at device selection, not mid-training.
struct KernelTable {
    let unary: [String: KernelPair]
    let binary: [BinaryOp: KernelPair]
    /// Fused `activation(a + b)`, keyed like `unary` (`add_then_NAME_linear`).
    let addThen: [String: KernelPair]
    let select: KernelPair
    let copy: KernelPair
    let copyTiled: Kernel
    let fill: Kernel
    let castToInt: Kernel
    let castToFloat: Kernel
    let reduceAxis: [ReduceOp: Kernel]
    let reducePartial: [ReduceOp: Kernel]
    let reduceColumns: [ReduceOp: Kernel]
    /// One work-group per contiguous row (GPUs).
    let reduceRows: [ReduceOp: Kernel]
    let argmaxAxis: Kernel
    let argmaxPartial: Kernel
    let argmaxCombine: Kernel
    let softmax: Kernel
    let logSoftmax: Kernel
    let softmaxRows: Kernel
    let logSoftmaxRows: Kernel
    let gather: Kernel
    let scatterAdd: Kernel
    let gemm: Kernel
    let gemmBT: Kernel
    /// Local-memory tiles (the GPU standard configuration), and its vector-load twin.
    let gemmTiled: Kernel
    let gemmTiledVector: Kernel
    let gemmSplitKCombine: Kernel
    let randomUniform: Kernel
    let randomNormal: Kernel
    let im2col: Kernel
    let col2im: Kernel
    let maxPool: Kernel
    let maxPoolBackward: Kernel
    let adamStep: Kernel
    let lstmCell: Kernel
    let lstmCellBackward: Kernel
    /// `upload_from_TYPE`: host elements to float32 `x · scale + shift`, per `HostScalar`.
    let upload: [HostScalar: Kernel]

    /// Kernel names of the unary ops (`unary_NAME_linear`, `unary_NAME_strided`).
    static let unaryNames = [
        "neg", "abs", "exp", "log", "sqrt", "rsqrt", "square", "reciprocal", "sign",
        "relu", "sigmoid", "tanh", "leaky_relu", "affine", "pow", "clamp", "erf", "softplus", "gelu", "silu",
    ]

    /// Looks up every kernel; those of `failedPrograms` get placeholders that must never launch.
    init(_ kernels: [String: Kernel], failedPrograms: Set<String> = []) throws {
        func find(_ name: String, _ program: String) throws -> Kernel {
            if failedPrograms.contains(program) { return Kernel(handle: nil, name: name) }
            guard let kernel = kernels[name] else { throw OpenCLError.missingKernel(name: name, program: program) }
            return kernel
        }
        func pair(_ prefix: String) throws -> KernelPair {
            KernelPair(linear: try find(prefix + "_linear", "elementwise"), strided: try find(prefix + "_strided", "elementwise"))
        }
        var unary: [String: KernelPair] = [:]
        for name in Self.unaryNames { unary[name] = try pair("unary_" + name) }
        self.unary = unary
        var binary: [BinaryOp: KernelPair] = [:]
        for op in BinaryOp.allCases { binary[op] = try pair("binary_" + op.kernelName) }
        self.binary = binary
        var addThen: [String: KernelPair] = [:]
        for name in ["relu", "sigmoid", "tanh", "leaky_relu"] { addThen[name] = try pair("add_then_" + name) }
        self.addThen = addThen
        select = try pair("select")
        copy = try pair("copy")
        copyTiled = try find("copy_tiled", "elementwise")
        fill = try find("fill_bits", "elementwise")
        castToInt = try find("cast_float_to_int", "elementwise")
        castToFloat = try find("cast_int_to_float", "elementwise")
        var axis: [ReduceOp: Kernel] = [:]
        var partial: [ReduceOp: Kernel] = [:]
        var columns: [ReduceOp: Kernel] = [:]
        var rows: [ReduceOp: Kernel] = [:]
        for op in ReduceOp.allCases {
            axis[op] = try find("reduce_\(op.rawValue)_axis", "reduce")
            partial[op] = try find("reduce_\(op.rawValue)_partial", "reduce")
            columns[op] = try find("reduce_\(op.rawValue)_columns", "reduce")
            rows[op] = try find("reduce_\(op.rawValue)_rows", "reduce")
        }
        reduceAxis = axis
        reducePartial = partial
        reduceColumns = columns
        reduceRows = rows
        argmaxAxis = try find("argmax_axis", "reduce")
        argmaxPartial = try find("argmax_partial", "reduce")
        argmaxCombine = try find("argmax_combine", "reduce")
        softmax = try find("softmax_axis", "reduce")
        logSoftmax = try find("log_softmax_axis", "reduce")
        softmaxRows = try find("softmax_rows", "reduce")
        logSoftmaxRows = try find("log_softmax_rows", "reduce")
        gather = try find("gather", "index")
        scatterAdd = try find("scatter_add", "index")
        gemm = try find("gemm", "gemm")
        gemmBT = try find("gemm_bt", "gemm")
        gemmTiled = try find("gemm_tiled", "gemm")
        gemmTiledVector = try find("gemm_tiled_vec", "gemm")
        gemmSplitKCombine = try find("gemm_splitk_combine", "gemm")
        randomUniform = try find("random_uniform", "random")
        randomNormal = try find("random_normal", "random")
        im2col = try find("im2col", "conv")
        col2im = try find("col2im", "conv")
        maxPool = try find("max_pool", "conv")
        maxPoolBackward = try find("max_pool_backward", "conv")
        adamStep = try find("adam_step", "optim")
        lstmCell = try find("lstm_cell", "recurrent")
        lstmCellBackward = try find("lstm_cell_backward", "recurrent")
        upload = try Dictionary(uniqueKeysWithValues: HostScalar.allCases.map { ($0, try find("upload_from_\($0)", "elementwise")) })
    }
}

extension KernelTable {
    /// The primitives that stop working when a program fails to build: those its kernels serve,
    /// and those that launch its kernels too (GEMM copies a column-major operand to row-major
    /// with `copy_*` from elementwise).
    static let primitivesByProgram: [String: Set<Primitive>] = [
        "elementwise": [.unary, .binary, .select, .copy, .fill, .cast, .gemm],
        "reduce": [.reduce, .argmax, .softmax],
        "index": [.gather, .scatterAdd],
        "gemm": [.gemm],
        "random": [.random],
        "conv": [.im2col, .col2im, .maxPool2d, .maxPool2dBackward],
        "optim": [.adamStep],
        "recurrent": [.lstmCell, .lstmCellBackward],
    ]
}

extension BinaryOp {
    /// The op's name in kernel names (`binary_NAME_linear`).
    var kernelName: String {
        switch self {
        case .add: "add"
        case .sub: "sub"
        case .mul: "mul"
        case .div: "div"
        case .pow: "pow"
        case .maximum: "maximum"
        case .minimum: "minimum"
        case .equal: "equal"
        case .notEqual: "not_equal"
        case .less: "less"
        case .lessEqual: "less_equal"
        case .greater: "greater"
        case .greaterEqual: "greater_equal"
        case .reluGradient: "relu_gradient"
        }
    }
}

extension UnaryOp {
    /// The op's name in kernel names and the two float scalars its kernel takes.
    var kernel: (name: String, p0: Float, p1: Float) {
        switch self {
        case .neg: ("neg", 0, 0)
        case .abs: ("abs", 0, 0)
        case .exp: ("exp", 0, 0)
        case .log: ("log", 0, 0)
        case .sqrt: ("sqrt", 0, 0)
        case .rsqrt: ("rsqrt", 0, 0)
        case .square: ("square", 0, 0)
        case .reciprocal: ("reciprocal", 0, 0)
        case .sign: ("sign", 0, 0)
        case .relu: ("relu", 0, 0)
        case .sigmoid: ("sigmoid", 0, 0)
        case .tanh: ("tanh", 0, 0)
        case .leakyRelu(let slope): ("leaky_relu", slope, 0)
        case .affine(let scale, let shift): ("affine", scale, shift)
        case .pow(let exponent): ("pow", exponent, 0)
        case .clamp(let low, let high): ("clamp", low, high)
        case .erf: ("erf", 0, 0)
        case .softplus: ("softplus", 0, 0)
        case .gelu: ("gelu", 0, 0)
        case .silu: ("silu", 0, 0)
        }
    }
}
