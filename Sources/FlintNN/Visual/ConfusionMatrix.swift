import FlintCore
import FlintData
import Foundation

/// Counts of a classifier's answers by true class (rows) and predicted class (columns), with
/// per-class precision, recall and F1 as scikit-learn's `classification_report` defines them.
///
///     let outputs = try model.predict(xTest)
///     let matrix = try ConfusionMatrix(outputs: outputs, labels: yTest)
///     print(matrix.table, matrix.report, separator: "\n")
///     try matrix.write(to: URL(fileURLWithPath: "confusion.svg"))
///
/// A class never predicted has precision 0, and one with no samples has recall 0 (scikit-learn's
/// `zero_division=0`); the macro average is the plain mean over classes, the weighted average
/// weighs each class by its support (its number of true samples).
public struct ConfusionMatrix: Equatable, Sendable {
    /// The name of each class, in index order.
    public let classNames: [String]
    /// `counts[actual][predicted]`.
    public private(set) var counts: [[Int]]

    /// The number of classes.
    public var classCount: Int { counts.count }

    /// An empty matrix; classes are named by their index unless `classNames` are given.
    public init(classCount: Int, classNames: [String]? = nil) {
        ensure(classCount > 0, "ConfusionMatrix: classCount must be positive, got \(classCount)")
        ensure(classNames == nil || classNames!.count == classCount,
                     "ConfusionMatrix: \(classNames?.count ?? 0) names for \(classCount) classes")
        self.classNames = classNames ?? (0..<classCount).map(String.init)
        counts = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    /// The matrix of predicted against actual class indices (both in `0..<classCount`).
    public init(predicted: [Int32], actual: [Int32], classCount: Int, classNames: [String]? = nil) throws {
        guard predicted.count == actual.count else {
            throw ConfusionMatrixError.countMismatch(predicted: predicted.count, actual: actual.count)
        }
        self.init(classCount: classCount, classNames: classNames)
        for (index, (p, a)) in zip(predicted, actual).enumerated() {
            for label in [a, p] where !(0..<Int32(classCount)).contains(label) {
                throw ConfusionMatrixError.labelOutOfRange(index: index, label: Int(label), classCount: classCount)
            }
            counts[Int(a)][Int(p)] += 1
        }
    }

    /// The matrix of a classifier's `outputs` (`[n, classes]` scores, logits or probabilities:
    /// the largest wins) against int32 `labels` of shape `[n]`.
    public init(outputs: Tensor, labels: Tensor, classNames: [String]? = nil) throws {
        guard outputs.rank == 2, outputs.shape[1] > 0, labels.rank == 1, labels.dtype == .int32 else {
            throw ConfusionMatrixError.badShapes(outputs: outputs.shape, labels: labels.shape)
        }
        try self.init(predicted: outputs.argmax(axis: 1).toInt32Array(), actual: labels.toInt32Array(),
                      classCount: outputs.shape[1], classNames: classNames)
    }

    /// Counts one sample.
    ///
    /// - Parameters:
    ///   - actual: Its true class.
    ///   - predicted: The class it was given.
    public mutating func add(actual: Int, predicted: Int) {
        ensure((0..<classCount).contains(actual) && (0..<classCount).contains(predicted),
                     "ConfusionMatrix: class \(actual) or \(predicted) outside 0..<\(classCount)")
        counts[actual][predicted] += 1
    }

    /// The number of samples counted.
    public var total: Int { counts.joined().reduce(0, +) }
    /// The samples classified correctly.
    public var correct: Int { (0..<classCount).reduce(0) { $0 + counts[$1][$1] } }
    /// Fraction classified correctly (0 for an empty matrix).
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// True samples of `label` (the row sum).
    public func support(_ label: Int) -> Int { counts[label].reduce(0, +) }
    /// Of the samples predicted `label`, the fraction that are.
    public func precision(_ label: Int) -> Double {
        let predicted = counts.reduce(0) { $0 + $1[label] }
        return predicted == 0 ? 0 : Double(counts[label][label]) / Double(predicted)
    }
    /// Of the samples that are `label`, the fraction predicted so.
    public func recall(_ label: Int) -> Double {
        support(label) == 0 ? 0 : Double(counts[label][label]) / Double(support(label))
    }
    /// The harmonic mean of precision and recall.
    public func f1(_ label: Int) -> Double {
        let (p, r) = (precision(label), recall(label))
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// Means over classes: plain (`macro`) or weighted by support (`weighted`).
    public func average(weighted: Bool) -> (precision: Double, recall: Double, f1: Double) {
        let classes = 0..<classCount
        let weights = classes.map { weighted ? Double(support($0)) : 1 }
        let sum = weights.reduce(0, +)
        func mean(_ value: (Int) -> Double) -> Double {
            sum == 0 ? 0 : classes.reduce(0) { $0 + weights[$1] * value($1) } / sum
        }
        return (mean(precision), mean(recall), mean(f1))
    }

    /// The counts as a text table, true classes down the side (named, left-aligned) and
    /// predictions across (by index, to keep the columns narrow).
    public var table: String {
        let width = max(String(counts.joined().max() ?? 0).count, String(classCount - 1).count) + 2
        let names = rowNames
        let nameWidth = (names.map(\.count).max() ?? 0) + 1
        var lines = ["Confusion matrix (rows: true class, columns: predicted class)"]
        lines.append(Self.pad("", nameWidth) + (0..<classCount).map { Self.pad(String($0), width) }.joined())
        for (name, row) in zip(names, counts) {
            lines.append(name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + row.map { Self.pad(String($0), width) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    /// "3" for an unnamed class, "3 Dress" for a named one.
    var rowNames: [String] {
        classNames.enumerated().map { $0.element == String($0.offset) ? $0.element : "\($0.offset) \($0.element)" }
    }

    static func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(width - text.count, 0)) + text }

    /// Precision, recall, F1 and support per class, then accuracy and the two averages, laid
    /// out as scikit-learn's `classification_report`.
    public var report: String {
        let names = rowNames
        let nameWidth = max(names.map(\.count).max() ?? 0, "weighted avg".count) + 1
        let pad = Self.pad
        func row(_ name: String, _ values: [Double?], _ support: Int) -> String {
            name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + values.map { pad($0.map { String(format: "%.4f", $0) } ?? "", 11) }.joined() + pad(String(support), 10)
        }
        var lines = [pad("", nameWidth) + ["precision", "recall", "f1-score"].map { pad($0, 11) }.joined() + pad("support", 10)]
        for label in 0..<classCount {
            lines.append(row(names[label], [precision(label), recall(label), f1(label)], support(label)))
        }
        let (macro, weighted) = (average(weighted: false), average(weighted: true))
        lines.append("")
        lines.append(row("accuracy", [nil, nil, accuracy], total))
        lines.append(row("macro avg", [macro.precision, macro.recall, macro.f1], total))
        lines.append(row("weighted avg", [weighted.precision, weighted.recall, weighted.f1], total))
        return lines.joined(separator: "\n")
    }
}

/// Why a confusion matrix could not be built.
public enum ConfusionMatrixError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case countMismatch(predicted: Int, actual: Int)
    case labelOutOfRange(index: Int, label: Int, classCount: Int)
    case badShapes(outputs: [Int], labels: [Int])

    /// A one-line message a user can act on.
    public var description: String {
        switch self {
        case let .countMismatch(p, a): "ConfusionMatrix: \(p) predictions for \(a) labels"
        case let .labelOutOfRange(i, label, k): "ConfusionMatrix: class \(label) at sample \(i) is outside 0..<\(k)"
        case let .badShapes(o, l): "ConfusionMatrix: needs [n, classes] outputs and int32 [n] labels, got \(o) and \(l)"
        }
    }

    /// The same as `description`.
    public var errorDescription: String? { description }
}
