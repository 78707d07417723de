import FlintCore
import FlintData
import Foundation

// scikit-learn style estimators: `fit`, `predict`, `score` on host tables, trained on any device.
//
// Features are row-major `[Float]` with `featureCount` values per row; targets are one `Float`
// (regression) or one `Int32` class index `0..<classes` (classification) per row. Each estimator is
// a thin wrapper over `Sequential` and `fit`: the data stay on the host and `fit` uploads one batch
// per step to `device`. Calling `fit` again starts from fresh weights. Bad shapes or labels throw
// `ModelError.invalidArgument`; `predict` or `score` before `fit` throws `ModelError.notCompiled`.

/// A supervised model with scikit-learn's `fit` / `predict` / `score` protocol.
public protocol Estimator: AnyObject {
    /// `Float` for regressors, `Int32` class indices for classifiers.
    associatedtype Target
    /// Trains on `features` (`rows × featureCount`, row-major) and one target per row.
    func fit(_ features: [Float], featureCount: Int, targets: [Target]) throws
    /// One prediction per row of `features` (rows of the `featureCount` seen by `fit`).
    func predict(_ features: [Float]) throws -> [Target]
    /// R² for regressors, accuracy for classifiers (higher is better; 1 is perfect).
    func score(_ features: [Float], targets: [Target]) throws -> Float
}

/// A target type estimators read from tensors: `Float` for regressors, `Int32` class indices
/// for classifiers.
public protocol EstimatorTarget {
    /// The targets of a `[rows]` or `[rows, 1]` tensor of the matching dtype.
    ///
    /// - Throws: `ModelError.invalidArgument` for another dtype or shape.
    static func targets(of y: Tensor) throws -> [Self]
}

extension Float: EstimatorTarget {
    /// The values of a float32 `[rows]` or `[rows, 1]` tensor.
    public static func targets(of y: Tensor) throws -> [Float] {
        guard y.dtype == .float32, y.rank == 1 || (y.rank == 2 && y.shape[1] == 1) else {
            throw ModelError.invalidArgument("regression targets must be float32 of shape [rows] or [rows, 1], got \(y.dtype) \(y.shape)")
        }
        return y.toArray()
    }
}

extension Int32: EstimatorTarget {
    /// The labels of an int32 `[rows]` or `[rows, 1]` tensor.
    public static func targets(of y: Tensor) throws -> [Int32] {
        guard y.dtype == .int32, y.rank == 1 || (y.rank == 2 && y.shape[1] == 1) else {
            throw ModelError.invalidArgument("class labels must be int32 of shape [rows], got \(y.dtype) \(y.shape)")
        }
        return y.toInt32Array()
    }
}

extension Estimator where Target: EstimatorTarget {
    /// Fits on a `[rows, features]` float32 tensor and its targets (float32 for regressors, int32
    /// labels for classifiers, of shape `[rows]` or `[rows, 1]`).
    public func fit(_ x: Tensor, _ y: Tensor) throws {
        let featureCount = try tableWidth(x)
        try fit(x.toArray(), featureCount: featureCount, targets: try Target.targets(of: y))
    }

    /// One prediction per row of a `[rows, features]` tensor.
    public func predict(_ x: Tensor) throws -> [Target] { try predict(x.toArray()) }
    /// The score (R² or accuracy) on a `[rows, features]` tensor and its targets.
    public func score(_ x: Tensor, _ y: Tensor) throws -> Float { try score(x.toArray(), targets: try Target.targets(of: y)) }
}

private func tableWidth(_ x: Tensor) throws -> Int {
    guard x.rank == 2, x.dtype == .float32 else {
        throw ModelError.invalidArgument("estimators take float32 features of shape [rows, features], got \(x.dtype) \(x.shape)")
    }
    return x.shape[1]
}

// MARK: - Shared plumbing

/// How an estimator trains its network: the settings every estimator has.
public struct EstimatorTraining: Sendable {
    /// Adam's (initial) learning rate.
    public var learningRate: Float
    /// Passes over the training rows.
    public var epochs: Int
    /// Rows per gradient step.
    public var batchSize: Int
    /// Where the network trains.
    public var device: Device
    /// Seeds the initial weights and the shuffles: the same seed gives the same model.
    public var seed: UInt64
    /// What `fit` prints.
    public var verbosity: Verbosity

    /// Settings with the given values.
    public init(learningRate: Float, epochs: Int, batchSize: Int, device: Device, seed: UInt64, verbosity: Verbosity) {
        self.learningRate = learningRate
        self.epochs = epochs
        self.batchSize = batchSize
        self.device = device
        self.seed = seed
        self.verbosity = verbosity
    }
}

/// An estimator that trains a network with ``EstimatorTraining`` settings, which read as
/// properties of its own: `estimator.epochs` is `estimator.training.epochs`.
@dynamicMemberLookup
public protocol NetworkEstimator: Estimator {
    /// The training settings.
    var training: EstimatorTraining { get set }
}

extension NetworkEstimator {
    /// A training setting (`learningRate`, `epochs`, `batchSize`, `device`, `seed`,
    /// `verbosity`), read and written through `training`.
    public subscript<Value>(dynamicMember setting: WritableKeyPath<EstimatorTraining, Value>) -> Value {
        get { training[keyPath: setting] }
        set { training[keyPath: setting] = newValue }
    }

    /// The trainer for these settings.
    func networkTraining(schedule: LearningRateSchedule = .constant) -> NetworkTraining {
        NetworkTraining(epochs: training.epochs, batchSize: training.batchSize, device: training.device,
                        seed: training.seed, verbosity: training.verbosity, schedule: schedule)
    }
}

/// A classifier whose predictions and score follow from its class probabilities.
public protocol ProbabilisticClassifier: Estimator where Target == Int32 {
    /// The number of classes seen by `fit`.
    var classCount: Int { get }
    /// Class probabilities, `rows × classCount` row-major.
    ///
    /// - Parameter features: Rows of the width seen by `fit`, row-major.
    /// - Returns: One probability per class and row.
    /// - Throws: `ModelError.notCompiled` before `fit`; `ModelError.invalidArgument` for rows of
    ///   another width.
    func predictProbabilities(_ features: [Float]) throws -> [Float]
}

extension ProbabilisticClassifier {
    /// The most likely class of each row (the first on ties).
    ///
    /// - Parameter features: Rows of the width seen by `fit`, row-major.
    /// - Returns: One class index per row.
    /// - Throws: As ``predictProbabilities(_:)``.
    public func predict(_ features: [Float]) throws -> [Int32] {
        mostLikelyClasses(try predictProbabilities(features), classes: classCount)
    }

    /// The fraction of rows classified correctly.
    ///
    /// - Parameters:
    ///   - features: Rows of the width seen by `fit`, row-major.
    ///   - targets: The true class of each row.
    /// - Returns: Accuracy in [0, 1].
    /// - Throws: As ``predictProbabilities(_:)``.
    public func score(_ features: [Float], targets: [Int32]) throws -> Float {
        accuracyScore(targets, try predict(features))
    }
}

/// The logits of a fitted classifier's `network` for `features`; nil for no rows.
func classifierLogits(_ network: Sequential?, _ features: [Float], caller: String) throws -> Tensor? {
    let rows = try predictionRows(features, featureCount: network?.inputShapes.first?[0], caller: caller)
    guard let network else { throw ModelError.notCompiled }
    guard rows > 0 else { return nil }
    return try network.predict(Tensor(features, shape: [rows, network.inputShapes[0][0]], on: .cpu), batchSize: 1024)
}

/// The number of rows of a `featureCount`-wide table, after checking it has `targetCount` of them.
func checkedRowCount(_ features: [Float], featureCount: Int, targetCount: Int, caller: String) throws -> Int {
    guard featureCount > 0 else { throw ModelError.invalidArgument("\(caller): featureCount must be positive, got \(featureCount)") }
    guard features.count % featureCount == 0 else {
        throw ModelError.invalidArgument("\(caller): \(features.count) values are not whole rows of \(featureCount) features")
    }
    let rows = features.count / featureCount
    guard rows > 0 else { throw ModelError.invalidArgument("\(caller): needs at least one row") }
    guard targetCount == rows else { throw ModelError.invalidArgument("\(caller): \(rows) rows but \(targetCount) targets") }
    return rows
}

/// Rows of a table to predict on, checked against the width the estimator was fitted on.
func predictionRows(_ features: [Float], featureCount: Int?, caller: String) throws -> Int {
    guard let featureCount else { throw ModelError.notCompiled }
    guard features.count % featureCount == 0 else {
        throw ModelError.invalidArgument("\(caller): \(features.count) values are not whole rows of the \(featureCount) features seen by fit")
    }
    return features.count / featureCount
}

/// The number of classes in `labels` (the largest label + 1, at least 2), after checking none is negative.
func distinctClassCount(of labels: [Int32], caller: String) throws -> Int {
    guard let low = labels.min(), let high = labels.max() else { throw ModelError.invalidArgument("\(caller): no labels") }
    guard low >= 0 else { throw ModelError.invalidArgument("\(caller): class labels must be 0, 1, 2, …; found \(low)") }
    return Swift.max(Int(high) + 1, 2)
}

/// Builds, compiles and trains a network on host data; what every estimator's `fit` does.
struct NetworkTraining {
    var epochs: Int
    var batchSize: Int
    var device: Device
    var seed: UInt64
    var verbosity: Verbosity
    var schedule: LearningRateSchedule = .constant

    func train(
        _ layers: [Layer], featureCount: Int, x: [Float], y: Tensor, loss: any Loss, optimizer: Optimizer,
        metrics: [Metric] = [], validation: (x: [Float], y: Tensor)? = nil, callbacks: [Callback] = []
    ) throws -> (Sequential, History) {
        guard epochs >= 1, batchSize >= 1 else {
            throw ModelError.invalidArgument("epochs and batchSize must be at least 1, got \(epochs) and \(batchSize)")
        }
        let network = try Sequential(layers, inputShape: [featureCount], device: device, seed: seed)
        try network.compile(optimizer: optimizer, loss: loss, metrics: metrics)
        let rows = x.count / featureCount
        // Host (CPU) tensors: fit uploads each batch to the network's device.
        let validationData = validation.map { (Tensor($0.x, shape: [$0.x.count / featureCount, featureCount], on: .cpu), $0.y) }
        let history = try network.fit(
            Tensor(x, shape: [rows, featureCount], on: .cpu), y, epochs: epochs, batchSize: batchSize,
            validationData: validationData, callbacks: callbacks, schedule: schedule, verbosity: verbosity, seed: seed)
        return (network, history)
    }
}

/// The rows `indices` of a `featureCount`-wide row-major table, in that order.
public func selectRows(_ features: [Float], featureCount: Int, _ indices: [Int]) -> [Float] {
    var picked: [Float] = []
    picked.reserveCapacity(indices.count * featureCount)
    for index in indices { picked += features[(index * featureCount)..<((index + 1) * featureCount)] }
    return picked
}

/// Kernel and bias of a trained `Dense` layer as host arrays.
private func denseWeights(_ layer: Layer) -> (kernel: [Float], bias: [Float]?) {
    let dense = layer as! Dense
    return (dense.kernel.value.toArray(), dense.bias?.value.toArray())
}

// MARK: - Linear regression

/// Ordinary least squares, `y ≈ x · coefficients + intercept`, found by minimising the mean squared
/// error with Adam (cosine-annealed learning rate) on the device rather than in closed form.
///
/// Features and targets are standardised internally before training (and the learned weights mapped
/// back), so gradient descent converges at the same pace whatever the columns' units; `coefficients`
/// and `intercept` are on the original scale, as scikit-learn's `coef_` and `intercept_`.
public final class LinearRegression: NetworkEstimator {
    /// Regression targets.
    public typealias Target = Float
    /// Whether to learn an intercept (else the line passes through the origin).
    public var fitIntercept: Bool
    /// Learning rate, epochs, batch size, device, seed and verbosity.
    public var training: EstimatorTraining

    /// One weight per feature (empty before `fit`).
    public private(set) var coefficients: [Float] = []
    /// The intercept on the original scale (0 without `fitIntercept`).
    public private(set) var intercept: Float = 0
    /// The training curve (MSE of the standardised targets, per epoch).
    public private(set) var history: History?

    /// An unfitted linear regression.
    ///
    /// - Parameters:
    ///   - fitIntercept: Whether to learn an intercept.
    ///   - learningRate: Adam's initial rate.
    ///   - epochs: Passes over the rows.
    ///   - batchSize: Rows per step.
    ///   - device: Where to train.
    ///   - seed: Seeds weights and shuffles.
    ///   - verbosity: What `fit` prints.
    public init(
        fitIntercept: Bool = true, learningRate: Float = 0.05, epochs: Int = 100, batchSize: Int = 32,
        device: Device = .current, seed: UInt64 = 0, verbosity: Verbosity = .silent
    ) {
        self.fitIntercept = fitIntercept
        training = EstimatorTraining(learningRate: learningRate, epochs: epochs, batchSize: batchSize, device: device,
                                     seed: seed, verbosity: verbosity)
    }

    /// Trains from fresh weights.
    ///
    /// - Parameters:
    ///   - features: Rows, row-major.
    ///   - featureCount: Values per row.
    ///   - targets: One target per row.
    /// - Throws: `ModelError.invalidArgument` for bad shapes.
    public func fit(_ features: [Float], featureCount: Int, targets: [Float]) throws {
        let rows = try checkedRowCount(features, featureCount: featureCount, targetCount: targets.count, caller: "LinearRegression.fit")
        // Without an intercept the data may only be scaled (by the root mean square), not centred.
        let (xShift, xScale) = columnStatistics(features, width: featureCount, centre: fitIntercept)
        let (yShifts, yScales) = columnStatistics(targets, width: 1, centre: fitIntercept)
        let (yShift, yScale) = (yShifts[0], yScales[0])
        let x = features.enumerated().map { i, v in Float((Double(v) - xShift[i % featureCount]) / xScale[i % featureCount]) }
        let y = targets.map { Float((Double($0) - yShift) / yScale) }

        let (network, history) = try networkTraining(schedule: .cosine(period: self.epochs, minimum: 0)).train(
            [Dense(1, useBias: fitIntercept)], featureCount: featureCount, x: x,
            y: Tensor(y, shape: [rows, 1], on: .cpu), loss: MeanSquaredError(), optimizer: Adam(learningRate: self.learningRate))
        let (kernel, bias) = denseWeights(network.layers[0])
        // y = yShift + yScale · (b + Σ wⱼ (xⱼ − mⱼ) / sⱼ)
        let weights = (0..<featureCount).map { Double(kernel[$0]) * yScale / xScale[$0] }
        coefficients = weights.map(Float.init)
        intercept = Float(yShift + yScale * Double(bias?[0] ?? 0) - zip(weights, xShift).reduce(0) { $0 + $1.0 * $1.1 })
        self.history = history
    }

    /// `x · coefficients + intercept`, computed on the device.
    public func predict(_ features: [Float]) throws -> [Float] {
        let rows = try predictionRows(features, featureCount: coefficients.isEmpty ? nil : coefficients.count,
                                      caller: "LinearRegression.predict")
        guard rows > 0 else { return [] }
        let x = Tensor(features, shape: [rows, coefficients.count], on: self.device)
        let w = Tensor(coefficients, shape: [coefficients.count, 1], on: self.device)
        return Tensor.withoutGrad { (x.matmul(w) + intercept).toArray() }
    }

    /// The coefficient of determination R² of the predictions.
    public func score(_ features: [Float], targets: [Float]) throws -> Float {
        r2Score(targets, try predict(features))
    }
}

/// Per-column shift and scale (Double): mean and population std, or 0 and the root mean square
/// when not centring. A zero spread keeps scale 1.
private func columnStatistics(_ values: [Float], width: Int, centre: Bool) -> (shift: [Double], scale: [Double]) {
    let rows = Double(values.count / width)
    var shift = [Double](repeating: 0, count: width)
    if centre {
        for (i, v) in values.enumerated() { shift[i % width] += Double(v) }
        shift = shift.map { $0 / rows }
    }
    var squares = [Double](repeating: 0, count: width)
    for (i, v) in values.enumerated() {
        let d = Double(v) - shift[i % width]
        squares[i % width] += d * d
    }
    let scale = squares.map { s -> Double in
        let spread = (s / rows).squareRoot()
        return spread > 1e-12 ? spread : 1
    }
    return (shift, scale)
}

// MARK: - Logistic regression

/// Logistic regression: with two classes a sigmoid over one logit trained with binary
/// cross-entropy; with more, multinomial (softmax) regression trained with sparse categorical
/// cross-entropy. Adam with a cosine-annealed learning rate, on the device.
///
/// `l2` is the engine's `Regularizer.l2` factor on the weights (not the intercepts), added to the
/// mean loss; scikit-learn's `C` corresponds to `l2 = 1 / (2 · C · rows)`. The default 0 is
/// unpenalised (scikit-learn's `penalty=None`). Scale the features first (e.g. FlintData's
/// `StandardScaler`), as scikit-learn recommends.
public final class LogisticRegression: NetworkEstimator, ProbabilisticClassifier {
    /// Class indices.
    public typealias Target = Int32
    /// The L2 factor on the weights (not the intercepts); 0 for none.
    public var l2: Float
    /// Whether to learn intercepts.
    public var fitIntercept: Bool
    /// Learning rate, epochs, batch size, device, seed and verbosity.
    public var training: EstimatorTraining

    /// The number of classes seen by `fit` (the largest label + 1, at least 2).
    public private(set) var classCount = 0
    /// One row of `featureCount` weights per logit: a single row for two classes, else one per class
    /// (scikit-learn's `coef_` layout).
    public private(set) var coefficients: [[Float]] = []
    /// One intercept per row of `coefficients`.
    public private(set) var intercepts: [Float] = []
    /// The training curve.
    public private(set) var history: History?
    /// The trained network; nil before `fit`.
    public private(set) var network: Sequential?

    /// Whether there are more than two classes (softmax regression).
    public var isMultinomial: Bool { classCount > 2 }

    /// An unfitted logistic regression.
    ///
    /// - Parameters:
    ///   - l2: The L2 factor on the weights; 0 for none.
    ///   - fitIntercept: Whether to learn intercepts.
    ///   - learningRate: Adam's initial rate.
    ///   - epochs: Passes over the rows.
    ///   - batchSize: Rows per step.
    ///   - device: Where to train.
    ///   - seed: Seeds weights and shuffles.
    ///   - verbosity: What `fit` prints.
    public init(
        l2: Float = 0, fitIntercept: Bool = true, learningRate: Float = 0.05, epochs: Int = 100, batchSize: Int = 32,
        device: Device = .current, seed: UInt64 = 0, verbosity: Verbosity = .silent
    ) {
        self.l2 = l2
        self.fitIntercept = fitIntercept
        training = EstimatorTraining(learningRate: learningRate, epochs: epochs, batchSize: batchSize, device: device,
                                     seed: seed, verbosity: verbosity)
    }

    /// Trains from fresh weights.
    ///
    /// - Parameters:
    ///   - features: Rows, row-major.
    ///   - featureCount: Values per row.
    ///   - targets: One class index per row.
    /// - Throws: `ModelError.invalidArgument` for bad shapes or negative labels.
    public func fit(_ features: [Float], featureCount: Int, targets: [Int32]) throws {
        let rows = try checkedRowCount(features, featureCount: featureCount, targetCount: targets.count, caller: "LogisticRegression.fit")
        let classes = try distinctClassCount(of: targets, caller: "LogisticRegression.fit")
        let outputs = classes == 2 ? 1 : classes
        let layer = Dense(outputs, useBias: fitIntercept, kernelInitializer: .zeros, kernelRegularizer: l2 > 0 ? .l2(l2) : nil)
        let trainer = networkTraining(schedule: .cosine(period: self.epochs, minimum: self.learningRate / 100))
        let (network, history): (Sequential, History)
        if classes == 2 {
            (network, history) = try trainer.train(
                [layer], featureCount: featureCount, x: features, y: Tensor(targets.map(Float.init), shape: [rows, 1], on: .cpu),
                loss: BinaryCrossEntropy(fromLogits: true), optimizer: Adam(learningRate: self.learningRate))
        } else {
            (network, history) = try trainer.train(
                [layer], featureCount: featureCount, x: features, y: Tensor(int32: targets, shape: [rows], on: .cpu),
                loss: SparseCategoricalCrossEntropy(fromLogits: true), optimizer: Adam(learningRate: self.learningRate))
        }
        let (kernel, bias) = denseWeights(network.layers[0])
        // The kernel is [features, outputs]; coef_ is [outputs, features].
        coefficients = (0..<outputs).map { o in (0..<featureCount).map { kernel[$0 * outputs + o] } }
        intercepts = bias ?? [Float](repeating: 0, count: outputs)
        classCount = classes
        self.network = network
        self.history = history
    }

    /// Class probabilities, `rows × classCount` row-major (two columns `1 − p, p` for a binary model).
    public func predictProbabilities(_ features: [Float]) throws -> [Float] {
        guard let logits = try classifierLogits(network, features, caller: "LogisticRegression.predictProbabilities") else { return [] }
        if classCount == 2 {
            return Tensor.withoutGrad { logits.sigmoid().toArray() }.flatMap { [1 - $0, $0] }
        }
        return Tensor.withoutGrad { logits.softmax(axis: -1).toArray() }
    }
}

/// Each row's index of its largest value (the first on ties).
func mostLikelyClasses(_ rows: [Float], classes: Int) -> [Int32] {
    stride(from: 0, to: rows.count, by: classes).map { start in
        var best = start
        for i in (start + 1)..<(start + classes) where rows[i] > rows[best] { best = i }
        return Int32(best - start)
    }
}

// MARK: - Multi-layer perceptron

/// A multi-layer perceptron classifier after scikit-learn's `MLPClassifier`: `hiddenLayerSizes`
/// dense layers with `activation` (Glorot-uniform weights), a softmax output trained with sparse
/// categorical cross-entropy, Adam, mini-batches.
///
/// `alpha` is scikit-learn's L2 strength: it adds `alpha / 2 · Σw²` per batch of `batchSize` samples,
/// i.e. `Regularizer.l2(alpha / (2 · batchSize))` on every kernel (biases are not penalised). With
/// `earlyStopping`, a seeded `validationFraction` of the training rows is held out and training stops
/// once its loss has not improved by more than `tolerance` for `patience` epochs (scikit-learn's `tol`
/// and `n_iter_no_change`, though scikit-learn watches validation accuracy), keeping the best weights.
/// Without it every one of `epochs` epochs runs (scikit-learn's `max_iter`; no `tol` test on the
/// training loss).
public final class MLPClassifier: NetworkEstimator, ProbabilisticClassifier {
    /// Class indices.
    public typealias Target = Int32
    /// Units of each hidden layer.
    public var hiddenLayerSizes: [Int]
    /// The hidden layers' activation.
    public var activation: Activation
    /// Learning rate, epochs, batch size, device, seed and verbosity.
    public var training: EstimatorTraining
    /// scikit-learn's L2 strength.
    public var alpha: Float
    /// Whether a validation part is held out and training stops when its loss stalls.
    public var earlyStopping: Bool
    /// The share of rows held out with `earlyStopping`.
    public var validationFraction: Float
    /// Epochs without improvement before stopping.
    public var patience: Int
    /// The smallest improvement that counts.
    public var tolerance: Float

    /// The number of classes seen by `fit`.
    public private(set) var classCount = 0
    /// The trained network; nil before `fit`.
    public private(set) var network: Sequential?
    /// Per-epoch `loss` (and `val_loss` / `val_accuracy` with early stopping): scikit-learn's `loss_curve_`.
    public private(set) var history: History?

    /// An unfitted classifier with scikit-learn's defaults.
    ///
    /// - Parameters:
    ///   - hiddenLayerSizes: Units of each hidden layer.
    ///   - activation: The hidden layers' activation.
    ///   - learningRate: Adam's rate.
    ///   - batchSize: Rows per step.
    ///   - epochs: Passes over the rows at most.
    ///   - alpha: scikit-learn's L2 strength.
    ///   - earlyStopping: Whether to hold out rows and stop when their loss stalls.
    ///   - validationFraction: The share held out.
    ///   - patience: Epochs without improvement before stopping.
    ///   - tolerance: The smallest improvement that counts.
    ///   - seed: Seeds weights, shuffles and the held-out part.
    ///   - device: Where to train.
    ///   - verbosity: What `fit` prints.
    public init(
        hiddenLayerSizes: [Int] = [100], activation: Activation = .relu, learningRate: Float = 1e-3,
        batchSize: Int = 200, epochs: Int = 200, alpha: Float = 1e-4, earlyStopping: Bool = false,
        validationFraction: Float = 0.1, patience: Int = 10, tolerance: Float = 1e-4, seed: UInt64 = 0, device: Device = .current,
        verbosity: Verbosity = .silent
    ) {
        self.hiddenLayerSizes = hiddenLayerSizes
        self.activation = activation
        training = EstimatorTraining(learningRate: learningRate, epochs: epochs, batchSize: batchSize, device: device,
                                     seed: seed, verbosity: verbosity)
        self.alpha = alpha
        self.earlyStopping = earlyStopping
        self.validationFraction = validationFraction
        self.patience = patience
        self.tolerance = tolerance
    }

    /// Trains from fresh weights.
    ///
    /// - Parameters:
    ///   - features: Rows, row-major.
    ///   - featureCount: Values per row.
    ///   - targets: One class index per row.
    /// - Throws: `ModelError.invalidArgument` for bad shapes, labels or settings.
    public func fit(_ features: [Float], featureCount: Int, targets: [Int32]) throws {
        let rows = try checkedRowCount(features, featureCount: featureCount, targetCount: targets.count, caller: "MLPClassifier.fit")
        guard hiddenLayerSizes.allSatisfy({ $0 > 0 }) else {
            throw ModelError.invalidArgument("MLPClassifier: hidden layer sizes must be positive, got \(hiddenLayerSizes)")
        }
        let classes = try distinctClassCount(of: targets, caller: "MLPClassifier.fit")

        var (trainX, trainY, validation) = (features, targets, nil as (x: [Float], y: Tensor)?)
        if earlyStopping {
            guard validationFraction > 0, validationFraction < 1 else {
                throw ModelError.invalidArgument("MLPClassifier: validationFraction must lie in (0, 1), got \(validationFraction)")
            }
            let held = Int((Float(rows) * validationFraction).rounded(.up))
            guard held >= 1, held < rows else {
                throw ModelError.invalidArgument("MLPClassifier: \(rows) rows are too few to hold out \(validationFraction) for early stopping")
            }
            var shuffler = Shuffler(seed: self.seed ^ 0xEA51_5709)
            let order = shuffler.permutation(rows)
            let (kept, heldOut) = (Array(order[held...]), Array(order[..<held]))
            trainX = selectRows(features, featureCount: featureCount, kept)
            trainY = kept.map { targets[$0] }
            validation = (selectRows(features, featureCount: featureCount, heldOut),
                          Tensor(int32: heldOut.map { targets[$0] }, shape: [held], on: .cpu))
        }

        // scikit-learn's penalty: alpha/2 · Σw² divided by the batch's sample count, on the summed loss.
        let effectiveBatch = Swift.min(self.batchSize, trainY.count)
        let penalty: Regularizer? = alpha > 0 ? .l2(alpha / (2 * Float(effectiveBatch))) : nil
        let layers: [Layer] = hiddenLayerSizes.map { Dense($0, activation: activation, kernelRegularizer: penalty) }
            + [Dense(classes, kernelRegularizer: penalty)]
        let trainer = networkTraining()
        let callbacks: [Callback] = earlyStopping ? [EarlyStopping(monitor: "val_loss", patience: patience, minDelta: tolerance, restoreBestWeights: true)] : []
        let (network, history) = try trainer.train(
            layers, featureCount: featureCount, x: trainX, y: Tensor(int32: trainY, shape: [trainY.count], on: .cpu),
            loss: SparseCategoricalCrossEntropy(fromLogits: true), optimizer: Adam(learningRate: self.learningRate),
            metrics: earlyStopping ? [.accuracy] : [], validation: validation, callbacks: callbacks)
        classCount = classes
        self.network = network
        self.history = history
    }

    /// Class probabilities, `rows × classCount` row-major.
    public func predictProbabilities(_ features: [Float]) throws -> [Float] {
        guard let logits = try classifierLogits(network, features, caller: "MLPClassifier.predictProbabilities") else { return [] }
        return Tensor.withoutGrad { logits.softmax(axis: -1).toArray() }
    }
}
