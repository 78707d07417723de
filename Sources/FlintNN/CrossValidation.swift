import FlintCore
import Foundation

/// Fits a fresh estimator on each fold's training rows and scores it on the fold's test rows:
/// scikit-learn's `cross_val_score`. Returns one score per fold, in fold order.
///
/// `folds` are index lists into the table's rows, such as FlintData's
/// `KFold(k: 5, shuffleSeed: 0).folds(count: rows, stratifyBy: labels)`. Only the training rows of a
/// fold reach `fit`; anything fitted from data (a scaler, say) belongs inside the estimator, so that
/// it too sees only those rows. `makeEstimator` is called once per fold with the fold's index.
public func crossValidate<E: Estimator>(
    folds: [(train: [Int], test: [Int])], features: [Float], featureCount: Int, targets: [E.Target],
    makeEstimator: (_ fold: Int) throws -> E
) throws -> [Float] {
    let rows = try checkedRowCount(features, featureCount: featureCount, targetCount: targets.count, caller: "crossValidate")
    guard !folds.isEmpty else { throw ModelError.invalidArgument("crossValidate: no folds") }
    return try folds.enumerated().map { index, fold in
        guard !fold.train.isEmpty, !fold.test.isEmpty else {
            throw ModelError.invalidArgument("crossValidate: fold \(index) has an empty training or test part")
        }
        guard (fold.train + fold.test).allSatisfy({ $0 >= 0 && $0 < rows }) else {
            throw ModelError.invalidArgument("crossValidate: fold \(index) has an index outside 0..<\(rows)")
        }
        let estimator = try makeEstimator(index)
        try estimator.fit(selectRows(features, featureCount: featureCount, fold.train), featureCount: featureCount,
                          targets: fold.train.map { targets[$0] })
        return try estimator.score(selectRows(features, featureCount: featureCount, fold.test),
                                   targets: fold.test.map { targets[$0] })
    }
}

/// The coefficient of determination `1 − Σ(y − ŷ)² / Σ(y − ȳ)²` (scikit-learn's `r2_score`): 1 for
/// perfect predictions, 0 for always predicting the mean, negative for worse. Constant targets give
/// 1 when predicted exactly and 0 otherwise, as scikit-learn does.
public func r2Score(_ truth: [Float], _ predicted: [Float]) -> Float {
    ensure(truth.count == predicted.count, "r2Score: \(truth.count) targets but \(predicted.count) predictions")
    guard !truth.isEmpty else { return .nan }
    let mean = truth.reduce(0.0) { $0 + Double($1) } / Double(truth.count)
    let residual = zip(truth, predicted).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
    let total = truth.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) }
    if total == 0 { return residual == 0 ? 1 : 0 }
    return Float(1 - residual / total)
}

/// The fraction of predictions equal to the truth.
public func accuracyScore(_ truth: [Int32], _ predicted: [Int32]) -> Float {
    ensure(truth.count == predicted.count, "accuracyScore: \(truth.count) labels but \(predicted.count) predictions")
    guard !truth.isEmpty else { return .nan }
    return Float(zip(truth, predicted).filter { $0 == $1 }.count) / Float(truth.count)
}

/// The mean of `(y − ŷ)²`.
public func meanSquaredError(_ truth: [Float], _ predicted: [Float]) -> Float {
    ensure(truth.count == predicted.count, "meanSquaredError: \(truth.count) targets but \(predicted.count) predictions")
    guard !truth.isEmpty else { return .nan }
    return Float(zip(truth, predicted).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) } / Double(truth.count))
}
