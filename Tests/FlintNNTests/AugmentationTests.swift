import Flint
import Foundation
import Testing

/// RandomTranslation and RandomFlip against outcomes written out by hand from Keras' fill-mode
/// definitions, on every device; the same seed must give the same images everywhere.
@Suite struct Augmentation {
    /// 64 copies of one image with two channels, 1 2 3 4 and ten times it, laid out as a row
    /// (1×4) or, `vertical`, as a column (4×1).
    static let batch = 64
    static func images(on device: Device, vertical: Bool = false) -> Tensor {
        let row: [Float] = [1, 2, 3, 4]
        let sample = row.flatMap { [$0, 10 * $0] }
        return Tensor(Array((0..<batch).map { _ in sample }.joined()), shape: vertical ? [batch, 4, 1, 2] : [batch, 1, 4, 2], on: device)
    }

    /// The first channel of each sample, as rows of 4.
    static func rows(_ output: Tensor) -> [[Float]] {
        let values = output.toArray()
        return (0..<batch).map { n in (0..<4).map { values[(n * 4 + $0) * 2] } }
    }

    func apply(_ layer: Layer, on device: Device, vertical: Bool = false, training: Bool = true) throws -> Tensor {
        let images = Self.images(on: device, vertical: vertical)
        _ = try layer.build(inputShape: Array(images.shape.dropFirst()), context: BuildContext(device: device, generator: RandomGenerator(seed: 7)))
        return layer(images, training: training)
    }

    /// Shifts −2…2 of `1 2 3 4` (positive moves right) under each fill mode, by hand.
    static let shifted: [(FillMode, [[Float]])] = [
        (.reflect, [[3, 4, 4, 3], [2, 3, 4, 4], [1, 2, 3, 4], [1, 1, 2, 3], [2, 1, 1, 2]]),
        (.wrap, [[3, 4, 1, 2], [2, 3, 4, 1], [1, 2, 3, 4], [4, 1, 2, 3], [3, 4, 1, 2]]),
        (.nearest, [[3, 4, 4, 4], [2, 3, 4, 4], [1, 2, 3, 4], [1, 1, 2, 3], [1, 1, 1, 2]]),
        (.constant(9), [[3, 4, 9, 9], [2, 3, 4, 9], [1, 2, 3, 4], [9, 1, 2, 3], [9, 9, 1, 2]]),
    ]

    @Test(arguments: NNDevices.all, [false, true])
    func translationShiftsWholePixelsWithEachFillMode(device: Device, vertical: Bool) throws {
        for (mode, outcomes) in Self.shifted {
            let layer = vertical ? RandomTranslation(heightFactor: 0.5, widthFactor: 0, fillMode: mode)
                : RandomTranslation(heightFactor: 0, widthFactor: 0.5, fillMode: mode)
            let output = try apply(layer, on: device, vertical: vertical)
            let rows = Self.rows(output)
            for (n, row) in rows.enumerated() {
                #expect(outcomes.contains(row), "\(mode) on \(device): sample \(n) is \(row)")
            }
            // Every shift of −2…2 is drawn somewhere in 64 samples, and channels move together.
            #expect(Set(rows.compactMap { outcomes.firstIndex(of: $0) }).count == (mode == .wrap ? 4 : 5), "\(mode) on \(device)")
            let values = output.toArray()
            for i in stride(from: 0, to: values.count, by: 2) {
                let filled = mode == .constant(9) && values[i] == 9
                #expect(filled ? values[i + 1] == 9 : values[i + 1] == 10 * values[i], "channels apart at \(i) on \(device)")
            }
        }
    }

    @Test(arguments: NNDevices.all)
    func flipsMirrorWholeImagesAndEvaluationLeavesThemAlone(device: Device) throws {
        let rows = Self.rows(try apply(RandomFlip(.horizontal), on: device))
        #expect(rows.allSatisfy { $0 == [1, 2, 3, 4] || $0 == [4, 3, 2, 1] })
        #expect(rows.contains([1, 2, 3, 4]) && rows.contains([4, 3, 2, 1]))
        // A 1-pixel-high image has nothing to flip vertically; a column flips end to end.
        #expect(Self.rows(try apply(RandomFlip(.vertical), on: device)).allSatisfy { $0 == [1, 2, 3, 4] })
        let columns = Self.rows(try apply(RandomFlip(.vertical), on: device, vertical: true))
        #expect(columns.allSatisfy { $0 == [1, 2, 3, 4] || $0 == [4, 3, 2, 1] })
        #expect(columns.contains([1, 2, 3, 4]) && columns.contains([4, 3, 2, 1]))
        #expect(Self.rows(try apply(RandomFlip(.horizontal), on: device, vertical: true)).allSatisfy { $0 == [1, 2, 3, 4] })
        for layer: Layer in [RandomFlip(), RandomTranslation(heightFactor: 0.5, widthFactor: 0.5)] {
            #expect(try apply(layer, on: device, training: false).toArray() == Self.images(on: .cpu).toArray())
        }
    }

    @Test(arguments: NNDevices.all)
    func constantFillReplacesEvenInfinities(device: Device) throws {
        let layer = RandomTranslation(heightFactor: 0, widthFactor: 0.5, fillMode: .constant(-1))
        _ = try layer.build(inputShape: [1, 4, 1], context: BuildContext(device: device, generator: RandomGenerator(seed: 3)))
        let images = Tensor(Array(repeating: [Float.infinity, 2, 3, .nan], count: 16).flatMap { $0 }, shape: [16, 1, 4, 1], on: device)
        let values = layer(images, training: true).toArray()
        // Every sample is its row shifted, with -1 (never NaN) where pixels came from outside.
        let outcomes: [[Float]] = [[3, .nan, -1, -1], [2, 3, .nan, -1], [.infinity, 2, 3, .nan], [-1, .infinity, 2, 3], [-1, -1, .infinity, 2]]
        for n in 0..<16 {
            let row = Array(values[(n * 4)..<(n * 4 + 4)])
            #expect(outcomes.contains { Swift.zip($0, row).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } }, "sample \(n) on \(device): \(row)")
        }
    }

    @Test func devicesAgreeForTheSameSeed() throws {
        let outputs = try NNDevices.all.map { device in
            try apply(RandomTranslation(heightFactor: 0, widthFactor: 0.5, fillMode: .constant(0)), on: device).toArray()
        }
        #expect(outputs.allSatisfy { $0 == outputs[0] })
    }

    @Test func badShapesAndFactorsAreErrors() {
        let context = BuildContext(device: .cpu, generator: RandomGenerator(seed: 1))
        #expect(throws: ModelError.self) { try RandomFlip().build(inputShape: [28, 28], context: context) }
        for layer in [RandomTranslation(heightFactor: 1.5, widthFactor: 0), RandomTranslation(heightFactor: -0.1, widthFactor: 0),
                      RandomTranslation(heightFactor: 0, widthFactor: .nan),
                      RandomTranslation(heightBounds: (0.2, 0.1), widthBounds: (0, 0))] {
            #expect(throws: ModelError.self) { try layer.build(inputShape: [28, 28, 1], context: context) }
        }
    }
}
