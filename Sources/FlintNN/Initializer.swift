import FlintCore

/// Weight initialisers under their Keras names. `fanIn`/`fanOut` follow Keras: for a dense
/// kernel the input and output sizes; for a convolution kernel times the receptive field.
public enum Initializer: Sendable, Hashable {
    case zeros
    case ones
    case constant(Float)
    /// U(-√(6/(fanIn+fanOut)), +√(6/(fanIn+fanOut))) — Keras' default for Dense and Conv2D.
    case glorotUniform
    /// N(0, √(2/(fanIn+fanOut))) (Keras truncates at 2σ; Flint does not).
    case glorotNormal
    /// U(-√(6/fanIn), +√(6/fanIn))
    case heUniform
    /// N(0, √(2/fanIn))
    case heNormal
    case uniform(low: Float, high: Float)
    case normal(mean: Float, standardDeviation: Float)

    public func make(_ shape: [Int], fanIn: Int, fanOut: Int, generator: RandomGenerator, on device: Device) -> Tensor {
        let (fi, fo) = (Float(Swift.max(fanIn, 1)), Float(Swift.max(fanOut, 1)))
        switch self {
        case .zeros: return .zeros(shape, on: device)
        case .ones: return .ones(shape, on: device)
        case .constant(let value): return .full(shape, value: value, on: device)
        case .glorotUniform:
            let limit = (6 / (fi + fo)).squareRoot()
            return .uniform(shape, low: -limit, high: limit, generator: generator, on: device)
        case .glorotNormal:
            return .normal(shape, standardDeviation: (2 / (fi + fo)).squareRoot(), generator: generator, on: device)
        case .heUniform:
            let limit = (6 / fi).squareRoot()
            return .uniform(shape, low: -limit, high: limit, generator: generator, on: device)
        case .heNormal:
            return .normal(shape, standardDeviation: (2 / fi).squareRoot(), generator: generator, on: device)
        case .uniform(let low, let high):
            return .uniform(shape, low: low, high: high, generator: generator, on: device)
        case .normal(let mean, let std):
            return .normal(shape, mean: mean, standardDeviation: std, generator: generator, on: device)
        }
    }
}
