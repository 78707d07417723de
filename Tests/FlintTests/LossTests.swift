import Flint
import Foundation
import Testing

/// Every training loss, with and without label smoothing, on every device: its value against a
/// Float64 reference written from the Keras/PyTorch definitions, and its gradient with respect
/// to the predictions against finite differences of that reference.
extension Conformance {
    /// Fixed targets for predictions of shape `[rows, classes]`.
    enum LossTargets {
        static let rows = 5, classes = 7
        static let labels: [Int32] = [3, 0, 6, 6, 1]
        /// Soft rows summing to 1 for categorical losses, values in [0, 1] for binary ones.
        static let soft: [Double] = (0..<(rows * classes)).map { Double(($0 * 37) % 11) / 10 }
        static var distributions: [Double] {
            (0..<rows).flatMap { r -> [Double] in
                let row = soft[(r * classes)..<((r + 1) * classes)]
                let total = row.reduce(0, +)
                return row.map { $0 / total }
            }
        }

        static func tensor(_ values: [Double], on device: Device) -> Tensor {
            Tensor(values.map(Float.init), shape: [rows, classes], on: device)
        }
    }

    static func lossCase(_ name: String, domain: (Double, Double) = (-3, 3), _ loss: any Loss,
                         targets: @escaping @Sendable (Device) -> Tensor,
                         reference: @escaping @Sendable ([Double]) -> Double) -> GradCase {
        GradCase(name: name, shapes: [[LossTargets.rows, LossTargets.classes]], domain: domain,
                 flint: { loss($0[0], targets($0[0].device)) },
                 reference: { Ref(shape: [], data: [reference($0[0].data)]) })
    }

    /// Row-wise log-softmax of a `[rows, classes]` matrix.
    static func logSoftmaxRows(_ z: [Double]) -> [Double] {
        let k = LossTargets.classes
        return (0..<LossTargets.rows).flatMap { r -> [Double] in
            let row = Array(z[(r * k)..<((r + 1) * k)])
            let top = row.max()!
            let logSum = top + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - top) })
            return row.map { $0 - logSum }
        }
    }

    static func sparseReference(_ logP: [Double], smoothing ε: Double) -> Double {
        let k = LossTargets.classes
        let perRow = LossTargets.labels.enumerated().map { r, label -> Double in
            let row = logP[(r * k)..<((r + 1) * k)]
            return -((1 - ε) * row[r * k + Int(label)] + ε / Double(k) * row.reduce(0, +))
        }
        return perRow.reduce(0, +) / Double(LossTargets.rows)
    }

    static func categoricalReference(_ logP: [Double], targets: [Double], smoothing ε: Double) -> Double {
        let k = Double(LossTargets.classes)
        let total = Swift.zip(logP, targets).reduce(0) { $0 - ($1.1 * (1 - ε) + ε / k) * $1.0 }
        return total / Double(LossTargets.rows)
    }

    static func binaryReference(_ p: [Double], fromLogits: Bool, smoothing ε: Double) -> Double {
        let terms = Swift.zip(p, LossTargets.soft).map { x, y0 -> Double in
            let y = y0 * (1 - ε) + ε / 2
            if fromLogits { return Swift.max(x, 0) - x * y + Foundation.log(1 + Foundation.exp(-Swift.abs(x))) }
            let q = Swift.min(Swift.max(x, 1e-7), 1 - 1e-7)
            return -(y * Foundation.log(q) + (1 - y) * Foundation.log(1 - q))
        }
        return terms.reduce(0, +) / Double(terms.count)
    }

    static let lossCases: [GradCase] = {
        let labels: @Sendable (Device) -> Tensor = { Tensor(int32: LossTargets.labels, shape: [LossTargets.rows], on: $0) }
        let distributions: @Sendable (Device) -> Tensor = { LossTargets.tensor(LossTargets.distributions, on: $0) }
        let soft: @Sendable (Device) -> Tensor = { LossTargets.tensor(LossTargets.soft, on: $0) }
        return [
            lossCase("mse", MeanSquaredError(), targets: soft) { p in
                Swift.zip(p, LossTargets.soft).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(p.count)
            },
            lossCase("sparse CE (logits)", SparseCategoricalCrossEntropy(fromLogits: true), targets: labels) {
                sparseReference(logSoftmaxRows($0), smoothing: 0)
            },
            lossCase("sparse CE (logits, smoothing 0.1)", SparseCategoricalCrossEntropy(fromLogits: true, labelSmoothing: 0.1),
                     targets: labels) { sparseReference(logSoftmaxRows($0), smoothing: 0.1) },
            lossCase("sparse CE (probabilities, smoothing 0.2)", domain: (0.05, 0.95),
                     SparseCategoricalCrossEntropy(labelSmoothing: 0.2), targets: labels) {
                sparseReference($0.map(Foundation.log), smoothing: 0.2)
            },
            lossCase("categorical CE (logits)", CategoricalCrossEntropy(fromLogits: true), targets: distributions) {
                categoricalReference(logSoftmaxRows($0), targets: LossTargets.distributions, smoothing: 0)
            },
            lossCase("categorical CE (logits, smoothing 0.1)", CategoricalCrossEntropy(fromLogits: true, labelSmoothing: 0.1),
                     targets: distributions) {
                categoricalReference(logSoftmaxRows($0), targets: LossTargets.distributions, smoothing: 0.1)
            },
            lossCase("categorical CE (probabilities, smoothing 0.3)", domain: (0.05, 0.95),
                     CategoricalCrossEntropy(labelSmoothing: 0.3), targets: distributions) {
                categoricalReference($0.map(Foundation.log), targets: LossTargets.distributions, smoothing: 0.3)
            },
            lossCase("binary CE (logits)", BinaryCrossEntropy(fromLogits: true), targets: soft) {
                binaryReference($0, fromLogits: true, smoothing: 0)
            },
            lossCase("binary CE (logits, smoothing 0.1)", BinaryCrossEntropy(fromLogits: true, labelSmoothing: 0.1), targets: soft) {
                binaryReference($0, fromLogits: true, smoothing: 0.1)
            },
            lossCase("binary CE (probabilities, smoothing 0.2)", domain: (0.05, 0.95), BinaryCrossEntropy(labelSmoothing: 0.2),
                     targets: soft) { binaryReference($0, fromLogits: false, smoothing: 0.2) },
        ]
    }()

    @Suite struct Losses {
        @Test(arguments: TestDevices.all, Conformance.lossCases)
        func valueMatchesTheReference(device: Device, loss: GradCase) {
            var rng = TestRNG(seed: 907)
            let (input, reference) = makeInput(loss.shapes[0], range: loss.domain, rng: &rng, on: device)
            expectClose(loss.flint([input]), loss.reference([reference]), rtol: 1e-5, atol: 1e-6, "\(loss.name) on \(device)")
        }

        @Test(arguments: TestDevices.all, Conformance.lossCases)
        func gradientMatchesFiniteDifferences(device: Device, loss: GradCase) {
            Gradients.check(loss, on: device)
        }

        @Test func smoothingOutsideTheUnitIntervalIsAnError() {
            for smoothing: Float in [-0.1, 1, .nan] {
                #expect(throws: ModelError.self) {
                    try SparseCategoricalCrossEntropy(labelSmoothing: smoothing).validate(outputShape: [3], targetShape: [], targetType: .int32)
                }
                #expect(throws: ModelError.self) {
                    try CategoricalCrossEntropy(labelSmoothing: smoothing).validate(outputShape: [3], targetShape: [3], targetType: .float32)
                }
                #expect(throws: ModelError.self) {
                    try BinaryCrossEntropy(labelSmoothing: smoothing).validate(outputShape: [1], targetShape: [1], targetType: .float32)
                }
            }
        }
    }
}
