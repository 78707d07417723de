import Flint
import Foundation

// Classic machine learning on small tables, scikit-learn style: FlintData loads, splits and scales
// the data on the host; FlintNN's estimators train on the chosen device.

// MARK: - Shared helpers

/// A scaler-then-estimator pipeline (scikit-learn's `make_pipeline(StandardScaler(), model)`):
/// the scaler is fitted on whatever rows `fit` gets, so in cross-validation each fold is scaled
/// with its own training rows' statistics only.
final class StandardScaled<Inner: Estimator>: Estimator {
    typealias Target = Inner.Target
    let inner: Inner
    private(set) var scaler = StandardScaler()

    init(_ inner: Inner) { self.inner = inner }

    func fit(_ features: [Float], featureCount: Int, targets: [Target]) throws {
        scaler = StandardScaler()
        try inner.fit(scaler.fitTransform(features, featureCount: featureCount), featureCount: featureCount, targets: targets)
    }

    func predict(_ features: [Float]) throws -> [Target] { try inner.predict(scaler.transform(features)) }
    func score(_ features: [Float], targets: [Target]) throws -> Float { try inner.score(scaler.transform(features), targets: targets) }
}

/// iris or digits, as `--dataset` names them.
func loadClassificationTable(_ context: TrainContext, model: String) throws -> TabularDataset {
    switch context.dataset {
    case "iris": return try TabularDataset.iris(from: context.data)
    case "digits": return try TabularDataset.digits(from: context.data)
    default: throw ModelError.invalidArgument("\(model) trains on iris or digits, not '\(context.dataset)'")
    }
}

/// Mean and population standard deviation.
func meanAndDeviation(_ values: [Float]) -> (mean: Double, std: Double) {
    let mean = values.reduce(0.0) { $0 + Double($1) } / Double(Swift.max(values.count, 1))
    let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(Swift.max(values.count, 1))
    return (mean, variance.squareRoot())
}

func percentages(_ scores: [Float]) -> String {
    scores.map { String(format: "%.1f%%", $0 * 100) }.joined(separator: " ")
}

/// A stratified train/test split of a labelled table, with a standard scaler fitted on the training rows.
struct ScaledSplit {
    let train: TabularDataset
    let test: TabularDataset
    let scaler: StandardScaler
    let trainFeatures: [Float]
    let testFeatures: [Float]

    init(_ data: TabularDataset, testFraction: Double, seed: UInt64) throws {
        let (trainRows, testRows) = try trainTestSplit(count: data.count, testFraction: testFraction, seed: seed, stratifyBy: data.labels)
        train = data.subset(trainRows)
        test = data.subset(testRows)
        var scaler = StandardScaler()
        trainFeatures = try scaler.fitTransform(train.features, featureCount: data.featureCount)
        testFeatures = try scaler.transform(test.features)
        self.scaler = scaler
    }
}

/// Trains a classifier on a scaled stratified split, then cross-validates the same recipe (scaling
/// inside each fold) with stratified k-fold on the training rows. Prints and returns the results.
func evaluateClassifier<E: Estimator>(
    _ name: String, data: TabularDataset, context: TrainContext, folds k: Int = 5, model: String, make: () -> E
) throws -> [String: Any] where E.Target == Int32 {
    let split = try ScaledSplit(data, testFraction: 0.2, seed: context.seed)
    // Folds first: too few rows for them is an error before any training, not after.
    let folds = try KFold(k: k, shuffleSeed: context.seed).folds(count: split.train.count, stratifyBy: split.train.labels)
    print("Training \(name) on \(context.dataset) (\(split.train.count) train / \(split.test.count) test rows, "
          + "\(data.featureCount) features, \(data.classNames.count) classes) on \(context.device) — \(context.device.info.name)")
    let start = Date()
    let estimator = make()
    try estimator.fit(split.trainFeatures, featureCount: data.featureCount, targets: split.train.labels)
    let trainSeconds = Date().timeIntervalSince(start)
    let trainAccuracy = try estimator.score(split.trainFeatures, targets: split.train.labels)
    let testAccuracy = try estimator.score(split.testFeatures, targets: split.test.labels)
    print(String(format: "Train accuracy: %.2f%%  test accuracy: %.2f%%  (trained in %.2f s)",
                 trainAccuracy * 100, testAccuracy * 100, trainSeconds))
    if let saveURL = context.saveURL, let network = (estimator as? NetworkEstimator)?.network {
        try TableModel.save(network, to: saveURL, model: model, context: context, scaler: split.scaler, classes: data.classNames)
        print("Saved weights to \(saveURL.path)")
    }

    let cvStart = Date()
    let scores = try crossValidate(folds: folds, features: split.train.features, featureCount: data.featureCount,
                                   targets: split.train.labels) { _ in StandardScaled(make()) }
    let cvSeconds = Date().timeIntervalSince(cvStart)
    let (mean, std) = meanAndDeviation(scores)
    print("\(k)-fold stratified cross-validation on the training rows (scaler fitted per fold): \(percentages(scores))")
    print(String(format: "  mean %.2f%% ± %.2f%%  (%.2f s)", mean * 100, std * 100, cvSeconds))
    return ["test_accuracy": Double(testAccuracy), "train_accuracy": Double(trainAccuracy), "train_seconds": trainSeconds,
            "cv_scores": scores.map(Double.init), "cv_mean": mean, "cv_std": std, "cv_seconds": cvSeconds,
            "train_rows": split.train.count, "test_rows": split.test.count]
}

// MARK: - Linear regression

/// Linear regression by gradient descent on synthetic data whose coefficients are known:
/// `y = 4 + 3x₀ − 2x₁ + 0.5x₂ + 0·x₃ + 1.5x₄ + ε`, with columns of very different means and
/// spreads and Gaussian noise ε (σ = 0.5). Compares the learned coefficients with the true ones
/// and with the exact least-squares solution, and reports test MSE and R².
enum LinearRegressionModel: TrainableModel {
    static let name = "linear-regression"
    static let summary = "LinearRegression (Adam on MSE) on seeded synthetic data with known coefficients + noise"
    static let defaultDataset = "synthetic"
    static let defaultEpochs = 100
    static let trueCoefficients: [Float] = [3, -2, 0.5, 0, 1.5]
    static let trueIntercept: Float = 4
    static let noise: Float = 0.5
    static let rows = 1000
    /// Per-column mean and spread of the features (different units on purpose).
    static let columns: [(mean: Float, std: Float)] = [(0, 1), (5, 2), (-3, 0.5), (10, 3), (0, 0.1)]

    static func synthetic(seed: UInt64) -> (features: [Float], targets: [Float]) {
        var generator = SplitMix64(seed: seed ^ 0x11_4EA2)
        func normal() -> Float {
            let u1 = Swift.max(generator.nextUnit(), 1e-12), u2 = generator.nextUnit()
            return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
        }
        var features: [Float] = [], targets: [Float] = []
        for _ in 0..<rows {
            let row = columns.map { $0.mean + $0.std * normal() }
            features += row
            targets.append(zip(row, trueCoefficients).reduce(trueIntercept) { $0 + $1.0 * $1.1 } + noise * normal())
        }
        return (features, targets)
    }

    static func run(_ context: TrainContext) throws -> [String: Any] {
        guard context.dataset == "synthetic" else {
            throw ModelError.invalidArgument("\(name) trains on its own synthetic data (--dataset synthetic), not '\(context.dataset)'")
        }
        let width = trueCoefficients.count
        let (features, targets) = synthetic(seed: context.seed)
        let (trainRows, testRows) = try trainTestSplit(count: rows, testFraction: 0.2, seed: context.seed)
        let trainX = selectRows(features, featureCount: width, trainRows), testX = selectRows(features, featureCount: width, testRows)
        let trainY = trainRows.map { targets[$0] }, testY = testRows.map { targets[$0] }
        print("Training \(name) on \(trainRows.count) synthetic rows (\(width) features, noise σ = \(noise)) on "
              + "\(context.device) — \(context.device.info.name)")

        let model = LinearRegression(learningRate: context.rate(0.05), epochs: context.epochs, batchSize: Swift.min(context.batchSize, 64),
                                     device: context.device, seed: context.seed)
        let start = Date()
        try model.fit(trainX, featureCount: width, targets: trainY)
        let trainSeconds = Date().timeIntervalSince(start)
        let exact = leastSquares(trainX, width: width, targets: trainY)

        print("             true   learned   exact least squares")
        for j in 0..<width {
            print(String(format: "  w%-3d %9.4f %9.4f %9.4f", j, trueCoefficients[j], model.coefficients[j], exact[j + 1]))
        }
        print(String(format: "  b    %9.4f %9.4f %9.4f", trueIntercept, model.intercept, exact[0]))
        let predictions = try model.predict(testX)
        let mse = meanSquaredError(testY, predictions), r2 = r2Score(testY, predictions)
        let maxError = zip(model.coefficients, exact.dropFirst()).map { Swift.abs($0 - Float($1)) }.max() ?? 0
        print(String(format: "Test MSE: %.4f (noise variance %.4f)  test R²: %.4f  (trained in %.2f s; largest gap to the exact solution %.4f)",
                     mse, noise * noise, r2, trainSeconds, maxError))
        return ["true_coefficients": trueCoefficients.map(Double.init), "true_intercept": Double(trueIntercept),
                "learned_coefficients": model.coefficients.map(Double.init), "learned_intercept": Double(model.intercept),
                "exact_coefficients": exact.dropFirst().map { $0 }, "exact_intercept": exact[0],
                "test_mse": Double(mse), "test_r2": Double(r2), "train_seconds": trainSeconds, "noise_std": Double(noise)]
    }

    /// The exact least-squares fit `[intercept, w₀, w₁, …]` from the normal equations (Double,
    /// Gaussian elimination with partial pivoting): the reference gradient descent should reach.
    static func leastSquares(_ features: [Float], width: Int, targets: [Float]) -> [Double] {
        let n = width + 1
        var a = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        for (r, y) in targets.enumerated() {
            let row = [1.0] + features[(r * width)..<((r + 1) * width)].map(Double.init)
            for i in 0..<n {
                for j in 0..<n { a[i][j] += row[i] * row[j] }
                a[i][n] += row[i] * Double(y)
            }
        }
        for c in 0..<n {
            let pivot = (c..<n).max { Swift.abs(a[$0][c]) < Swift.abs(a[$1][c]) }!
            a.swapAt(c, pivot)
            for r in 0..<n where r != c {
                let f = a[r][c] / a[c][c]
                for k in c...n { a[r][k] -= f * a[c][k] }
            }
        }
        return (0..<n).map { a[$0][n] / a[$0][$0] }
    }
}

// MARK: - Logistic regression

/// Multinomial logistic regression on iris (or digits): stratified 80/20 split, features
/// standardised with the training rows' statistics, then 5-fold stratified cross-validation.
enum LogisticRegressionModel: TrainableModel {
    static let savesWeights = true
    static let name = "logistic-regression"
    static let summary = "LogisticRegression (softmax, Adam) on scaled iris or digits; test accuracy + 5-fold stratified CV"
    static let defaultDataset = "iris"
    static let defaultEpochs = 200

    static func run(_ context: TrainContext) throws -> [String: Any] {
        let data = try loadClassificationTable(context, model: name)
        var results = try evaluateClassifier("multinomial logistic regression", data: data, context: context, model: name) {
            LogisticRegression(learningRate: context.rate(0.05), epochs: context.epochs, batchSize: context.batchSize,
                               device: context.device, seed: context.seed)
        }
        results["target_test_accuracy"] = context.dataset == "iris" ? 0.95 : nil
        return results
    }
}

// MARK: - MLP classifier

/// scikit-learn's `MLPClassifier` recipe (one hidden layer of 100 ReLUs, Adam 1e-3, alpha 1e-4)
/// on scaled digits (or iris), with test accuracy and 5-fold stratified cross-validation.
enum MLPClassifierModel: TrainableModel {
    static let savesWeights = true
    static let name = "mlp-classifier"
    static let summary = "MLPClassifier(hidden [100], ReLU, Adam 1e-3, alpha 1e-4) on scaled digits or iris; test accuracy + 5-fold CV"
    static let defaultDataset = "digits"
    /// scikit-learn's `max_iter`.
    static let defaultEpochs = 200

    static func run(_ context: TrainContext) throws -> [String: Any] {
        let data = try loadClassificationTable(context, model: name)
        return try evaluateClassifier("MLPClassifier [100]", data: data, context: context, model: name) {
            MLPClassifier(hiddenLayerSizes: [100], activation: .relu, learningRate: context.rate(1e-3), batchSize: context.batchSize,
                          epochs: context.epochs, alpha: 1e-4, seed: context.seed, device: context.device)
        }
    }
}

// MARK: - Regularisation

/// Over-fitting and two cures. A deliberately over-parameterised MLP (64→512→512→10, ~300k weights)
/// trains on only 150 digits; 300 other digits are the validation set and the rest the test set.
/// The same network (same initial weights, same batches) trains twice:
///
/// - plain: no penalty, all epochs; the validation loss bottoms out early, then climbs as the
///   network memorises the training rows with ever more confident outputs;
/// - regularised: an L2 penalty `Regularizer.l2(1e-3)` on every kernel, and
///   `EarlyStopping(monitor: "val_loss", patience: 10, restoreBestWeights: true)`.
///
/// Both curves' best and final validation losses and both test accuracies are reported.
enum RegularizationModel: TrainableModel {
    static let name = "regularization"
    static let summary = "Over-parameterised MLP on 150 digits, plain vs L2 + EarlyStopping: validation loss and test accuracy"
    static let defaultDataset = "digits"
    static let defaultEpochs = 150
    static let trainingRows = 150
    static let validationRows = 300
    static let hidden = 512
    static let l2: Float = 1e-3
    static let patience = 10

    static func network(_ regularizer: Regularizer?, features: Int, classes: Int, context: TrainContext) throws -> Sequential {
        let network = try Sequential(
            [Dense(hidden, activation: .relu, kernelRegularizer: regularizer),
             Dense(hidden, activation: .relu, kernelRegularizer: regularizer),
             Dense(classes, kernelRegularizer: regularizer)],
            inputShape: [features], device: context.device, seed: context.seed)
        try network.compile(optimizer: Adam(learningRate: context.rate(1e-3)), loss: SparseCategoricalCrossEntropy(fromLogits: true),
                            metrics: [.accuracy])
        return network
    }

    static func run(_ context: TrainContext) throws -> [String: Any] {
        guard context.dataset == "digits" else {
            throw ModelError.invalidArgument("\(name) trains on digits, not '\(context.dataset)'")
        }
        let data = try TabularDataset.digits(from: context.data)
        guard data.count > trainingRows + validationRows else {
            throw DataError.cannotSplit(
                reason: "\(name) needs more than \(trainingRows + validationRows) digits (\(trainingRows) to train, "
                    + "\(validationRows) to validate, the rest to test), found \(data.count)")
        }
        // Stratified: test = everything but 450 rows; those 450 split into 150 training and 300 validation rows.
        let (kept, testRows) = try trainTestSplit(count: data.count, testFraction: 1 - Double(trainingRows + validationRows) / Double(data.count),
                                              seed: context.seed, stratifyBy: data.labels)
        let pool = data.subset(kept)
        let (trainPart, validationPart) = try trainTestSplit(count: pool.count, testFraction: Double(validationRows) / Double(pool.count),
                                                         seed: context.seed &+ 1, stratifyBy: pool.labels)
        let train = pool.subset(trainPart), validation = pool.subset(validationPart), test = data.subset(testRows)
        var scaler = StandardScaler()
        try scaler.fit(train.features, featureCount: data.featureCount)
        func tensors(_ part: TabularDataset) throws -> (Tensor, Tensor) {
            (Tensor(try scaler.transform(part.features), shape: [part.count, part.featureCount], on: .cpu),
             Tensor(int32: part.labels, shape: [part.count], on: .cpu))
        }
        let (xTrain, yTrain) = try tensors(train), (xVal, yVal) = try tensors(validation), (xTest, yTest) = try tensors(test)
        let batchSize = Swift.min(context.batchSize, 32)
        print("Training a \(data.featureCount)→\(hidden)→\(hidden)→10 MLP on \(train.count) digits (validation \(validation.count), "
              + "test \(test.count)) on \(context.device) — \(context.device.info.name), batch \(batchSize), up to \(context.epochs) epochs")

        var results: [String: Any] = ["training_rows": train.count, "validation_rows": validation.count, "test_rows": test.count,
                                      "l2": Double(l2), "patience": patience, "batch_size": batchSize]
        var summaries: [[String: Double]] = []
        for regularised in [false, true] {
            let label = regularised ? "L2 \(l2) + early stopping" : "no regularisation"
            let model = try network(regularised ? .l2(l2) : nil, features: data.featureCount, classes: 10, context: context)
            let stopper = EarlyStopping(monitor: "val_loss", patience: patience, restoreBestWeights: true)
            let start = Date()
            let history = try model.fit(xTrain, yTrain, epochs: context.epochs, batchSize: batchSize, validationData: (xVal, yVal),
                                        callbacks: regularised ? [stopper] : [], verbosity: .silent, seed: context.seed)
            let seconds = Date().timeIntervalSince(start)
            let curve = history["val_loss"]
            let best = curve.enumerated().min { $0.element < $1.element }!
            // The weights the run ends with: the restored best epoch for early stopping, else the last one.
            let kept = try model.evaluate(xVal, yVal, batchSize: 500)["loss"] ?? .nan
            let testResult = try model.evaluate(xTest, yTest, batchSize: 500)
            let testAccuracy = testResult["accuracy"] ?? 0, testLoss = testResult["loss"] ?? .nan
            print("\(label): \(curve.count) epochs in \(String(format: "%.1f", seconds)) s"
                  + (regularised ? " (stopped after epoch \((stopper.stoppedEpoch ?? curve.count - 1) + 1), best weights of epoch \((stopper.bestEpoch ?? 0) + 1) restored)" : ""))
            print(String(format: "  validation loss: best %.4f (epoch %d), last epoch %.4f, weights kept %.4f;  train loss %.4f",
                         best.element, best.offset + 1, curve.last!, kept, history["loss"].last!))
            print("  curve: " + stride(from: 0, to: curve.count, by: Swift.max(curve.count / 10, 1))
                .map { String(format: "%d:%.3f", $0 + 1, curve[$0]) }.joined(separator: " "))
            print(String(format: "  test accuracy %.2f%%  test loss %.4f", testAccuracy * 100, testLoss))
            summaries.append(["best_val_loss": Double(best.element), "best_epoch": Double(best.offset + 1),
                              "final_val_loss": Double(curve.last!), "kept_val_loss": Double(kept),
                              "test_accuracy": Double(testAccuracy), "test_loss": Double(testLoss),
                              "epochs_run": Double(curve.count), "seconds": seconds])
        }
        results["plain"] = summaries[0]
        results["regularized"] = summaries[1]
        let (plain, regularised) = (summaries[0], summaries[1])
        print(String(format: "Regularisation: validation loss of the kept weights %.4f → %.4f, best %.4f → %.4f; test accuracy %.2f%% → %.2f%%",
                     plain["kept_val_loss"]!, regularised["kept_val_loss"]!, plain["best_val_loss"]!, regularised["best_val_loss"]!,
                     plain["test_accuracy"]! * 100, regularised["test_accuracy"]! * 100))
        results["val_loss_improved"] = regularised["kept_val_loss"]! < plain["kept_val_loss"]!
        results["test_accuracy"] = regularised["test_accuracy"]!
        return results
    }
}

/// Estimators whose fitted model is a network that can be saved.
protocol NetworkEstimator {
    var network: Sequential? { get }
}

extension LogisticRegression: NetworkEstimator {}
extension MLPClassifier: NetworkEstimator {}
