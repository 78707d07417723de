import Flint
import Foundation
import Testing

/// NaN propagates through relu, clamp, sign, maximum and minimum as in PyTorch and NumPy: a NaN
/// input gives a NaN output, never a bound or the other operand (C's fmax/fmin drop it).
extension Conformance {
    /// Float64 references that propagate NaN from either operand.
    static func nanMax(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
    static func nanMin(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }

    /// NaN at the start, middle and end, beside infinities and signed zeros.
    static let specials: [Float] = [.nan, -1.5, 0, -0.0, .infinity, .nan, -.infinity, 2.5, 0.25, .nan]

    @Suite struct NaNPropagation {
        @Test(arguments: TestDevices.all)
        func unaryOpsKeepNaN(device: Device) {
            let ref = Ref(Conformance.specials, shape: [2, 5])
            for layout in Layout.allCases {
                let x = Self.tensor(Conformance.specials, shape: [2, 5], layout: layout, on: device)
                expectClose(x.relu(), ref.map { $0.isNaN ? .nan : Swift.max($0, 0) }, "relu on \(device), \(layout)")
                expectClose(x.clamped(min: -1, max: 1), ref.map { $0.isNaN ? .nan : Swift.min(Swift.max($0, -1), 1) },
                            "clamp on \(device), \(layout)")
                expectClose(x.clamped(min: 0), ref.map { $0.isNaN ? .nan : Swift.max($0, 0) }, "clamp(min:) on \(device), \(layout)")
                // Found by `flint doctor`: the CPU gave 0 and OpenCL NaN; NumPy's rule is NaN.
                expectClose(x.sign(), ref.map { $0 > 0 ? 1 : $0 < 0 ? -1 : $0 }, "sign on \(device), \(layout)")
            }
            // PyTorch: with min > max every element becomes max.
            let finite = Tensor([-3, 0.5, 7], shape: [3], on: device)
            expectClose(finite.clamped(min: 2, max: 1), Ref(shape: [3], data: [1, 1, 1]), "clamp(min > max) on \(device)")
        }

        @Test(arguments: TestDevices.all)
        func binaryOpsKeepNaNFromEitherSide(device: Device) {
            let other: [Float] = [1, .nan, 3, -4, .nan, -2, 5, .nan, 0, -0.0]
            let (refA, refB) = (Ref(Conformance.specials, shape: [2, 5]), Ref(other, shape: [2, 5]))
            for layout in Layout.allCases {
                let a = Self.tensor(Conformance.specials, shape: [2, 5], layout: layout, on: device)
                let b = Self.tensor(other, shape: [2, 5], layout: .contiguous, on: device)
                for (name, apply, reference) in Self.binaryOps {
                    expectClose(apply(a, b), Ref.zip(refA, refB, reference), "\(name)(a, b) on \(device), \(layout)")
                    expectClose(apply(b, a), Ref.zip(refB, refA, reference), "\(name)(b, a) on \(device), \(layout)")
                }
            }
            // A broadcast NaN scalar, on each side (the kernels' stride-0 paths).
            let nan = Tensor([.nan], shape: [], on: device)
            for (name, apply, reference) in Self.binaryOps {
                let x = Tensor([1, -2, 3], shape: [3], on: device)
                let expected = Ref(shape: [3], data: [1, -2, 3].map { reference($0, .nan) })
                expectClose(apply(x, nan), expected, "\(name)(x, NaN scalar) on \(device)")
                expectClose(apply(nan, x), expected, "\(name)(NaN scalar, x) on \(device)")
            }
        }

        @Test(arguments: TestDevices.all)
        func fusedBiasReluKeepsNaN(device: Device) {
            let bias: [Float] = [0, 1, -1, .nan, 0.5]
            let ref = Ref.zip(Ref(Conformance.specials, shape: [2, 5]), Ref(bias, shape: [5])) { a, b in
                let sum = a + b
                return sum.isNaN ? .nan : Swift.max(sum, 0)
            }
            for layout in Layout.allCases {
                let x = Self.tensor(Conformance.specials, shape: [2, 5], layout: layout, on: device)
                expectClose(x.adding(Tensor(bias, shape: [5], on: device), then: .relu), ref, "add+relu on \(device), \(layout)")
            }
        }

        /// As PyTorch: the gradient of relu and clamp at a NaN input is 0 (the mask is false),
        /// so NaN reaches the loss through the forward value, not through a NaN gradient.
        @Test(arguments: TestDevices.all)
        func gradientsAtNaNAreZero(device: Device) {
            let x = Tensor([.nan, 2, -1], shape: [3], on: device).requiringGrad()
            x.relu().sum().backward()
            expectClose(x.grad!, Ref(shape: [3], data: [0, 1, 0]), "relu gradient on \(device)")
            let y = Tensor([.nan, 0.5, 3], shape: [3], on: device).requiringGrad()
            y.clamped(min: 0, max: 1).sum().backward()
            expectClose(y.grad!, Ref(shape: [3], data: [0, 1, 0]), "clamp gradient on \(device)")
        }

        static let binaryOps: [(String, @Sendable (Tensor, Tensor) -> Tensor, @Sendable (Double, Double) -> Double)] = [
            ("maximum", { $0.maximum($1) }, Conformance.nanMax),
            ("minimum", { $0.minimum($1) }, Conformance.nanMin),
        ]

        /// `values` (row-major for `shape`) in the given memory layout.
        static func tensor(_ values: [Float], shape: [Int], layout: Layout, on device: Device) -> Tensor {
            let base = Tensor(values, shape: shape, on: device)
            switch layout {
            case .contiguous: return base
            // Stored transposed, viewed back: same logical values, non-contiguous strides.
            case .transposed: return base.transposed().contiguous().transposed()
            // A window of a wider tensor: pad each row with one junk column on either side.
            case .sliced:
                let rows = shape[0], columns = shape[1]
                var wide: [Float] = []
                for r in 0..<rows { wide += [99] + values[(r * columns)..<((r + 1) * columns)] + [-99] }
                return Tensor(wide, shape: [rows, columns + 2], on: device).slice(axis: 1, 1..<(columns + 1))
            }
        }
    }
}
