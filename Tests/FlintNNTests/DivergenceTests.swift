import Flint
import Foundation
import Testing

/// `fit` with a loss that turns NaN: stopped with the epoch and step named and the weights of
/// the epoch's start, or terminated, or ignored as asked; on every device.
@Suite struct Divergence {
    static let devices = NNDevices.all.map(\.identifier)

    /// 64 samples of 4 features in 2 classes; sample `poisoned` (if any) holds a NaN feature.
    static func data(poisoned: Int? = nil, on device: Device) -> (Tensor, Tensor) {
        var random = DataRNG(seed: 3)
        var x = (0..<(64 * 4)).map { _ in random.uniform() }
        if let poisoned { x[poisoned * 4 + 1] = .nan }
        let y = (0..<64).map { Int32(x[$0 * 4] > 0 ? 1 : 0) }
        return (Tensor(x, shape: [64, 4], on: device), Tensor(int32: y, shape: [64], on: device))
    }

    static func model(on device: Device, rate: Float = 0.05, schedule: Bool = false) throws -> Sequential {
        let model = try Sequential([Dense(8, activation: .relu), Dense(2)], inputShape: [4], device: device, seed: 1)
        try model.compile(optimizer: Adam(learningRate: rate), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
        return model
    }

    static func weights(_ model: Model) -> [[Float]] { model.parameters.map { $0.value.toArray() } }

    /// Records the weights at the start of every epoch.
    final class EpochStarts: Callback {
        var weights: [[[Float]]] = []
        func epochBegan(_ epoch: Int, model: Model) { weights.append(Divergence.weights(model)) }
        func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool { false }
    }

    /// A NaN in the 6th batch's samples: the error names step 6 of the epoch, whether the loss
    /// was read by the progress bar or only at the epoch's end.
    @Test(arguments: devices, [Verbosity.silent, .progressBar])
    func stopsNamingTheStep(device name: String, verbosity: Verbosity) throws {
        let device = try Device.named(name)
        let (x, y) = Self.data(poisoned: 5 * 8 + 3, on: device)
        let model = try Self.model(on: device)
        let before = Self.weights(model)
        let error = #expect(throws: TrainingDiverged.self) {
            try model.fit(x, y, epochs: 3, batchSize: 8, shuffle: false, verbosity: verbosity)
        }
        #expect(error?.epoch == 0 && error?.step == 6 && error?.quantity == "loss", "\(String(describing: error))")
        #expect(error.map { "\($0)".contains("step 6 of epoch 1") } == true)
        // The weights of the epoch's start, finite and usable.
        #expect(Self.weights(model) == before)
    }

    /// Divergence in the second epoch leaves the weights that ended the first, and the
    /// optimizer's state with them (Adam's step count).
    @Test(arguments: devices)
    func keepsTheLastFiniteWeights(device name: String) throws {
        let device = try Device.named(name)
        let (x, y) = Self.data(on: device)
        let model = try Self.model(on: device)
        let starts = EpochStarts()
        // A learning rate of 1e30 from the second epoch on: the weights overflow at once.
        let explode = LearningRateSchedule(name: "explode") { epoch, initial in epoch < 1 ? initial : 1e30 }
        let error = #expect(throws: TrainingDiverged.self) {
            try model.fit(x, y, epochs: 4, batchSize: 16, callbacks: [starts], schedule: explode, verbosity: .silent)
        }
        #expect(error?.epoch == 1 && error?.step != nil)
        #expect(starts.weights.count == 2)
        #expect(Self.weights(model) == starts.weights.last)
        #expect(model.optimizer?.iterations == 4)
        // Training can carry on from there.
        try model.fit(x, y, epochs: 1, batchSize: 16, verbosity: .silent)
        #expect(Self.weights(model).joined().allSatisfy { $0.isFinite })
    }

    @Test(arguments: devices)
    func terminateEndsTrainingQuietly(device name: String) throws {
        let device = try Device.named(name)
        let (x, y) = Self.data(poisoned: 20, on: device)
        let model = try Self.model(on: device)
        model.onNonFiniteLoss = .terminate
        let before = Self.weights(model)
        let history = try model.fit(x, y, epochs: 3, batchSize: 8, shuffle: false, verbosity: .silent)
        #expect(history.epochs.count == 1)
        #expect(history.epochs[0]["loss"].map { !$0.isFinite } == true)
        #expect(Self.weights(model) == before)
    }

    @Test func ignoreCarriesOn() throws {
        let (x, y) = Self.data(poisoned: 20, on: .cpu)
        let model = try Self.model(on: .cpu)
        model.onNonFiniteLoss = .ignore
        let history = try model.fit(x, y, epochs: 2, batchSize: 8, shuffle: false, verbosity: .silent)
        #expect(history.epochs.count == 2)
        #expect(Self.weights(model).joined().contains { $0.isNaN })
    }

    @Test func earlyStoppingStopsOnANonFiniteValue() throws {
        let model = try Self.model(on: .cpu)
        let stopper = EarlyStopping(monitor: "val_loss", patience: 5)
        stopper.trainingBegan(model: model)
        #expect(!stopper.epochEnded(0, logs: ["val_loss": 0.5], model: model))
        #expect(stopper.epochEnded(1, logs: ["val_loss": .nan], model: model))
        #expect(stopper.stoppedEpoch == 1)
    }
}

/// Labels outside a classifier's classes are an error in `fit` and `evaluate`, found where
/// batches are assembled (no read of the device), as PyTorch and Keras raise.
@Suite struct LabelsOutOfRange {
    @Test(arguments: Divergence.devices, [0, 2])
    func fitAndEvaluateThrow(device name: String, prefetch: Int) throws {
        let device = try Device.named(name)
        for bad: Int32 in [7, -1, 3] {
            var labels = (0..<48).map { Int32($0 % 3) }
            labels[37] = bad
            let x = Tensor((0..<(48 * 4)).map { Float($0 % 7) / 7 }, shape: [48, 4], on: device)
            let y = Tensor(int32: labels, shape: [48], on: device)
            let model = try Sequential([Dense(3)], inputShape: [4], device: device, seed: 2)
            try model.compile(optimizer: SGD(learningRate: 0.1), loss: SparseCategoricalCrossEntropy(fromLogits: true))
            let data = try Dataset(x, y)
            for run in [{ _ = try model.fit(data, epochs: 1, batchSize: 16, verbosity: .silent, prefetch: prefetch) },
                        { _ = try model.evaluate(data, batchSize: 16, prefetch: prefetch) }] {
                let error = #expect(throws: ModelError.self) { try run() }
                #expect(error.map { "\($0)".contains("label \(bad) is outside the model's 3 classes") } == true, "\(String(describing: error))")
            }
        }
    }
}
