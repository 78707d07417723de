import FlintCore

/// How a layer fills a new weight tensor, under Keras' names. `fanIn`/`fanOut` follow Keras:
/// for a dense kernel the input and output sizes; for a convolution kernel times the receptive
/// field. Equality compares names, which include the arguments (`uniform(-0.05, 0.05)`).
///
/// Your own initialiser works wherever the built-ins do:
///
///     extension Initializer {
///         static let lecunNormal = Initializer(name: "lecun_normal") { shape, fanIn, _, generator, device in
///             .normal(shape, standardDeviation: (1 / Float(max(fanIn, 1))).squareRoot(), generator: generator, on: device)
///         }
///     }
public struct Initializer: Sendable, Hashable, CustomStringConvertible {
    /// The name, with any arguments: what equality compares.
    public let name: String
    private let fill: @Sendable ([Int], Int, Int, RandomGenerator, Device) -> Tensor

    /// An initialiser that makes a tensor of `shape` on `device`, drawing from `generator`.
    public init(name: String, _ fill: @escaping @Sendable (_ shape: [Int], _ fanIn: Int, _ fanOut: Int,
                                                          _ generator: RandomGenerator, _ device: Device) -> Tensor) {
        self.name = name
        self.fill = fill
    }

    /// A new tensor of `shape` filled by this initialiser.
    ///
    /// - Parameters:
    ///   - shape: The weight's shape.
    ///   - fanIn: Inputs per output unit (at least 1 is used).
    ///   - fanOut: Outputs per input unit (at least 1 is used).
    ///   - generator: The source of random numbers.
    ///   - device: Where the tensor lives.
    /// - Returns: The filled tensor.
    public func make(_ shape: [Int], fanIn: Int, fanOut: Int, generator: RandomGenerator, on device: Device) -> Tensor {
        let tensor = fill(shape, Swift.max(fanIn, 1), Swift.max(fanOut, 1), generator, device)
        ensure(tensor.shape == shape, "Initializer \(name) made shape \(tensor.shape), expected \(shape)")
        return tensor
    }

    /// The name.
    public var description: String { name }
    /// Whether both have the same name.
    public static func == (a: Initializer, b: Initializer) -> Bool { a.name == b.name }
    /// Hashes the name.
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// All zeros.
    public static let zeros = Initializer(name: "zeros") { shape, _, _, _, device in .zeros(shape, on: device) }
    /// All ones.
    public static let ones = Initializer(name: "ones") { shape, _, _, _, device in .ones(shape, on: device) }

    /// Every element `value`.
    public static func constant(_ value: Float) -> Initializer {
        Initializer(name: "constant(\(value))") { shape, _, _, _, device in .full(shape, value: value, on: device) }
    }

    /// U(-√(6/(fanIn+fanOut)), +√(6/(fanIn+fanOut))) — Keras' default for Dense and Conv2D.
    public static let glorotUniform = Initializer(name: "glorot_uniform") { shape, fanIn, fanOut, generator, device in
        let limit = (6 / Float(fanIn + fanOut)).squareRoot()
        return .uniform(shape, low: -limit, high: limit, generator: generator, on: device)
    }

    /// N(0, √(2/(fanIn+fanOut))) (Keras truncates at 2σ; Flint does not).
    public static let glorotNormal = Initializer(name: "glorot_normal") { shape, fanIn, fanOut, generator, device in
        .normal(shape, standardDeviation: (2 / Float(fanIn + fanOut)).squareRoot(), generator: generator, on: device)
    }

    /// U(-√(6/fanIn), +√(6/fanIn))
    public static let heUniform = Initializer(name: "he_uniform") { shape, fanIn, _, generator, device in
        let limit = (6 / Float(fanIn)).squareRoot()
        return .uniform(shape, low: -limit, high: limit, generator: generator, on: device)
    }

    /// N(0, √(2/fanIn))
    public static let heNormal = Initializer(name: "he_normal") { shape, fanIn, _, generator, device in
        .normal(shape, standardDeviation: (2 / Float(fanIn)).squareRoot(), generator: generator, on: device)
    }

    /// Uniform in `[low, high)`.
    public static func uniform(low: Float, high: Float) -> Initializer {
        Initializer(name: "uniform(\(low), \(high))") { shape, _, _, generator, device in
            .uniform(shape, low: low, high: high, generator: generator, on: device)
        }
    }

    /// Normal with the given mean and standard deviation.
    public static func normal(mean: Float, standardDeviation: Float) -> Initializer {
        Initializer(name: "normal(\(mean), \(standardDeviation))") { shape, _, _, generator, device in
            .normal(shape, mean: mean, standardDeviation: standardDeviation, generator: generator, on: device)
        }
    }
}
