import FlintBackend
/// One row of `classes` values per label, 1 at the label's index and 0 elsewhere (row-major
/// `labels.count × classes`), the target layout of categorical cross-entropy.
///
/// A label outside `0..<classes` is a programming error (loaders validate labels read from files)
/// and stops with a message naming its position.
public func oneHot(_ labels: [Int32], classes: Int) -> [Float] {
    ensure(classes > 0, "oneHot: classes must be positive, got \(classes)")
    var encoded = [Float](repeating: 0, count: labels.count * classes)
    for (row, label) in labels.enumerated() {
        ensure(label >= 0 && Int(label) < classes, "oneHot: label \(label) at index \(row) is outside 0..<\(classes)")
        encoded[row * classes + Int(label)] = 1
    }
    return encoded
}

/// The index of each row's largest value (the first one on ties, as NumPy's `argmax`): the inverse
/// of `oneHot`, and the predicted class of rows of scores or probabilities.
public func argmaxClasses(_ rows: [Float], classes: Int) -> [Int32] {
    ensure(classes > 0, "argmaxClasses: classes must be positive, got \(classes)")
    ensure(rows.count % classes == 0, "argmaxClasses: \(rows.count) values are not whole rows of \(classes)")
    return stride(from: 0, to: rows.count, by: classes).map { start in
        var best = start
        for i in (start + 1)..<(start + classes) where rows[i] > rows[best] { best = i }
        return Int32(best - start)
    }
}
