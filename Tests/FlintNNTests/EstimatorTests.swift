import Flint
import Foundation
import Testing

/// Rows `count × width` and labels from `label`, features uniform in [-1, 1].
private func table(_ count: Int, width: Int, seed: UInt64, scale: [Float]? = nil, label: ([Float]) -> Int32?) -> ([Float], [Int32]) {
    var rng = DataRNG(seed: seed)
    var features: [Float] = [], labels: [Int32] = []
    while labels.count < count {
        let row = (0..<width).map { j in rng.uniform() * (scale?[j] ?? 1) }
        guard let y = label(row) else { continue }
        features += row
        labels.append(y)
    }
    return (features, labels)
}

/// Three Gaussian blobs in the plane, `perClass` rows each, cycling through the classes.
private func blobs(perClass: Int, seed: UInt64, spread: Float = 0.5) -> ([Float], [Int32]) {
    var rng = DataRNG(seed: seed)
    let centers: [[Float]] = [[2, 0], [-2, 0], [0, 2.5]]
    var features: [Float] = [], labels: [Int32] = []
    for i in 0..<(3 * perClass) {
        let c = i % 3
        features += [centers[c][0] + spread * rng.normal(), centers[c][1] + spread * rng.normal()]
        labels.append(Int32(c))
    }
    return (features, labels)
}

@Suite struct Estimators {
    @Test(arguments: NNDevices.all)
    func linearRegressionRecoversKnownCoefficients(device: Device) throws {
        var rng = DataRNG(seed: 21)
        // Columns of different offsets and spreads: the estimator standardises internally.
        let trueWeights: [Float] = [2, -3, 0.5], trueIntercept: Float = 1.25
        let offsets: [Float] = [0, 5, -2], spreads: [Float] = [1, 4, 0.2]
        var features: [Float] = [], targets: [Float] = []
        for _ in 0..<300 {
            let row = (0..<3).map { offsets[$0] + spreads[$0] * rng.uniform() }
            features += row
            targets.append(zip(row, trueWeights).reduce(trueIntercept) { $0 + $1.0 * $1.1 } + 0.01 * rng.normal())
        }
        let model = LinearRegression(epochs: 40, batchSize: 32, device: device, seed: 1)
        try model.fit(features, featureCount: 3, targets: targets)
        #expect(model.coefficients.count == 3)
        for (learned, truth) in zip(model.coefficients, trueWeights) {
            #expect(Swift.abs(learned - truth) < 0.02, "coefficients \(model.coefficients) on \(device)")
        }
        #expect(Swift.abs(model.intercept - trueIntercept) < 0.05, "intercept \(model.intercept) on \(device)")
        #expect(try model.score(features, targets: targets) > 0.999)

        // Through the origin (centred columns, no intercept), fitted through the tensor overloads.
        let centred = features.enumerated().map { $0.element - offsets[$0.offset % 3] }
        let constant = zip(offsets, trueWeights).reduce(trueIntercept) { $0 + $1.0 * $1.1 }
        let shifted = targets.map { $0 - constant }
        let origin = LinearRegression(fitIntercept: false, epochs: 40, batchSize: 32, device: device, seed: 1)
        try origin.fit(Tensor(centred, shape: [300, 3], on: .cpu), Tensor(shifted, shape: [300, 1], on: .cpu))
        #expect(origin.intercept == 0)
        for (learned, truth) in zip(origin.coefficients, trueWeights) {
            #expect(Swift.abs(learned - truth) < 0.02, "through-origin coefficients \(origin.coefficients) on \(device)")
        }
    }

    @Test(arguments: NNDevices.all)
    func binaryLogisticRegressionSeparatesSeparableData(device: Device) throws {
        let (features, labels) = table(300, width: 2, seed: 11) { row in
            let margin = row[0] + 2 * row[1] - 0.3
            return Swift.abs(margin) > 0.05 ? (margin > 0 ? 1 : 0) : nil
        }
        let model = LogisticRegression(learningRate: 0.1, epochs: 60, batchSize: 50, device: device, seed: 2)
        try model.fit(features, featureCount: 2, targets: labels)
        #expect(!model.isMultinomial && model.classCount == 2)
        #expect(model.coefficients.count == 1 && model.coefficients[0].count == 2 && model.intercepts.count == 1)
        // The boundary's direction is that of (1, 2).
        let w = model.coefficients[0]
        #expect(w[0] > 0 && w[1] > 0 && Swift.abs(w[1] / w[0] - 2) < 0.4, "weights \(w) on \(device)")
        #expect(try model.score(features, targets: labels) >= 0.98)
        let probabilities = try model.predictProbabilities(features)
        #expect(probabilities.count == 2 * labels.count)
        for row in 0..<labels.count { #expect(Swift.abs(probabilities[2 * row] + probabilities[2 * row + 1] - 1) < 1e-5) }
    }

    @Test(arguments: NNDevices.all)
    func multinomialLogisticRegressionOnThreeBlobs(device: Device) throws {
        let (features, labels) = blobs(perClass: 100, seed: 13)
        let model = LogisticRegression(learningRate: 0.1, epochs: 40, batchSize: 50, device: device, seed: 3)
        try model.fit(features, featureCount: 2, targets: labels)
        #expect(model.isMultinomial && model.classCount == 3)
        #expect(model.coefficients.count == 3 && model.intercepts.count == 3)
        #expect(try model.score(features, targets: labels) >= 0.97)
        let probabilities = try model.predictProbabilities(features)
        #expect(probabilities.count == 3 * labels.count)
        for row in 0..<labels.count {
            #expect(Swift.abs(probabilities[(3 * row)..<(3 * row + 3)].reduce(0, +) - 1) < 1e-5)
        }
        // The blob centres are classified as their own class.
        #expect(try model.predict([2, 0, -2, 0, 0, 2.5]) == [0, 1, 2])
    }

    @Test(arguments: NNDevices.all)
    func mlpClassifierLearnsANonlinearBoundary(device: Device) throws {
        // Opposite quadrants share a class (XOR): no linear model does better than chance.
        let (features, labels) = table(240, width: 2, seed: 17) { row in
            Swift.abs(row[0]) > 0.1 && Swift.abs(row[1]) > 0.1 ? (row[0] * row[1] > 0 ? 1 : 0) : nil
        }
        let mlp = MLPClassifier(hiddenLayerSizes: [16], activation: .tanh, learningRate: 0.02, batchSize: 32, epochs: 60,
                                seed: 5, device: device)
        try mlp.fit(features, featureCount: 2, targets: labels)
        let accuracy = try mlp.score(features, targets: labels)
        #expect(accuracy >= 0.95, "MLPClassifier on \(device): \(accuracy)")
        #expect(mlp.classCount == 2 && mlp.history?["loss"].count == 60)
        let probabilities = try mlp.predictProbabilities(Array(features[0..<20]))
        #expect(probabilities.count == 20)

        let linear = LogisticRegression(learningRate: 0.1, epochs: 30, batchSize: 32, device: device)
        try linear.fit(features, featureCount: 2, targets: labels)
        let linearAccuracy = try linear.score(features, targets: labels)
        #expect(linearAccuracy < 0.85, "a linear model on XOR on \(device): \(linearAccuracy)")
    }

    @Test(arguments: NNDevices.all)
    func mlpClassifierEarlyStoppingHoldsOutValidationRows(device: Device) throws {
        // Overlapping blobs: the validation loss levels off well before 200 epochs.
        let (features, labels) = blobs(perClass: 40, seed: 19, spread: 1.2)
        let mlp = MLPClassifier(hiddenLayerSizes: [8], learningRate: 0.05, batchSize: 16, epochs: 200, earlyStopping: true,
                                validationFraction: 0.25, patience: 3, tolerance: 1e-3, seed: 1, device: device)
        try mlp.fit(features, featureCount: 2, targets: labels)
        let history = try #require(mlp.history)
        #expect(history["val_loss"].count == history["loss"].count)
        #expect(history["loss"].count < 200, "early stopping never stopped on \(device)")
        #expect(try mlp.score(features, targets: labels) >= 0.75)
    }

    @Test(arguments: NNDevices.all)
    func crossValidateScoresEachFoldOnDevice(device: Device) throws {
        let (features, labels) = blobs(perClass: 30, seed: 23)
        // FlintData's folds have exactly the shape crossValidate takes.
        let folds = try KFold(k: 3, shuffleSeed: 7).folds(count: 90, stratifyBy: labels)
        var made: [Int] = []
        let scores = try crossValidate(folds: folds, features: features, featureCount: 2, targets: labels) { fold in
            made.append(fold)
            return LogisticRegression(learningRate: 0.1, epochs: 20, batchSize: 30, device: device)
        }
        #expect(made == [0, 1, 2])
        #expect(scores.count == 3)
        #expect(scores.allSatisfy { $0 >= 0.9 }, "fold scores \(scores) on \(device)")
    }

    @Test func crossValidateFitsOnTrainingRowsOnly() throws {
        // Each row's single feature is its own index, so the spy sees exactly which rows reach it.
        let rows = 10
        let features = (0..<rows).map(Float.init), targets = (0..<rows).map { Float($0 * 10) }
        let folds: [(train: [Int], test: [Int])] = [([0, 1, 2, 3, 4, 5, 6], [7, 8, 9]), ([3, 4, 5, 6, 7, 8, 9], [0, 1, 2]),
                                                    ([9, 0, 1, 2, 7, 8], [3, 4, 5, 6])]
        var spies: [Spy] = []
        let scores = try crossValidate(folds: folds, features: features, featureCount: 1, targets: targets) { _ in
            let spy = Spy()
            spies.append(spy)
            return spy
        }
        #expect(scores == [3, 3, 4])  // the spy scores with its test row count
        #expect(spies.count == folds.count)
        for (spy, fold) in zip(spies, folds) {
            #expect(spy.fitted == fold.train.map(Float.init))
            #expect(spy.fittedTargets == fold.train.map { Float($0 * 10) })
            #expect(spy.scored == fold.test.map(Float.init))
            #expect(Set(spy.fitted).isDisjoint(with: spy.scored))
        }
        // Bad folds are refused before anything is fitted.
        #expect(throws: ModelError.self) {
            try crossValidate(folds: [(train: [0, 1], test: [10])], features: features, featureCount: 1, targets: targets) { _ in Spy() }
        }
        #expect(throws: ModelError.self) {
            try crossValidate(folds: [], features: features, featureCount: 1, targets: targets) { _ in Spy() }
        }
    }

    @Test func scoreDefinitions() throws {
        // R² = 1 − SS_res / SS_tot.
        let y: [Float] = [1, 2, 3, 4]
        #expect(r2Score(y, y) == 1)
        #expect(r2Score(y, [2.5, 2.5, 2.5, 2.5]) == 0)  // the mean predicts nothing
        #expect(Swift.abs(r2Score(y, [1, 2, 3, 5]) - 0.8) < 1e-6)  // 1 − 1 / 5
        #expect(r2Score(y, [4, 3, 2, 1]) < 0)  // worse than the mean
        #expect(r2Score([2, 2], [2, 2]) == 1 && r2Score([2, 2], [1, 2]) == 0)  // constant targets, as scikit-learn
        #expect(Swift.abs(meanSquaredError(y, [1, 2, 3, 5]) - 0.25) < 1e-6)
        #expect(accuracyScore([0, 1, 2, 1], [0, 1, 1, 1]) == 0.75)
        #expect(accuracyScore([3], [3]) == 1)
    }

    @Test func estimatorScoresAreRSquaredAndAccuracy() throws {
        let device = Device.cpu
        let features: [Float] = [0, 1, 2, 3, 4, 5, 6, 7], targets: [Float] = [1, 3, 5, 7.5, 9, 11, 13, 15.5]
        let regression = LinearRegression(epochs: 200, batchSize: 8, device: device)
        try regression.fit(features, featureCount: 1, targets: targets)
        #expect(try regression.score(features, targets: targets) == r2Score(targets, try regression.predict(features)))

        let (points, labels) = blobs(perClass: 10, seed: 3)
        let classifier = LogisticRegression(learningRate: 0.1, epochs: 30, batchSize: 30, device: device)
        try classifier.fit(points, featureCount: 2, targets: labels)
        let predicted = try classifier.predict(points)
        #expect(try classifier.score(points, targets: labels) == accuracyScore(labels, predicted))
        let flipped = labels.map { ($0 + 1) % 3 }
        #expect(try classifier.score(points, targets: flipped) == accuracyScore(flipped, predicted))
        // Tensor overloads agree with the array forms.
        #expect(try classifier.score(Tensor(points, shape: [30, 2], on: .cpu), Tensor(int32: labels, shape: [30], on: .cpu))
                == accuracyScore(labels, predicted))
    }

    @Test func misuseThrows() throws {
        let unfitted = LogisticRegression(device: .cpu)
        #expect(throws: ModelError.notCompiled) { try unfitted.predict([1, 2]) }
        #expect(throws: ModelError.notCompiled) { try LinearRegression(device: .cpu).predict([1]) }
        #expect(throws: ModelError.self) { try unfitted.fit([1, 2, 3], featureCount: 2, targets: [0]) }  // not whole rows
        #expect(throws: ModelError.self) { try unfitted.fit([1, 2], featureCount: 1, targets: [0]) }  // 2 rows, 1 label
        #expect(throws: ModelError.self) { try unfitted.fit([1, 2], featureCount: 1, targets: [0, -1]) }  // negative label
        let fitted = LinearRegression(epochs: 2, device: .cpu)
        try fitted.fit([0, 1, 2, 3], featureCount: 2, targets: [1, 2])
        #expect(throws: ModelError.self) { try fitted.predict([1, 2, 3]) }  // not rows of 2
    }
}

/// Records what `crossValidate` hands it; scores with the number of rows it is asked to score.
private final class Spy: Estimator {
    typealias Target = Float
    var fitted: [Float] = [], fittedTargets: [Float] = [], scored: [Float] = []

    func fit(_ features: [Float], featureCount: Int, targets: [Float]) throws {
        fitted = features
        fittedTargets = targets
    }

    func predict(_ features: [Float]) throws -> [Float] { features }

    func score(_ features: [Float], targets: [Float]) throws -> Float {
        scored = features
        return Float(targets.count)
    }
}
