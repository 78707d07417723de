/// What can go wrong assembling batches from a dataset. (Reading files throws `DataError`.)
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// Nothing to make a batch or a layout from.
    case empty(String)
    /// Sample `position` of a batch does not look like the first one.
    case inconsistentSample(position: Int, expected: SampleLayout, found: SampleLayout)
    /// A sample index outside the dataset.
    case indexOutOfRange(index: Int, count: Int)
    /// A conversion the array cannot take (int32 for float data, say), or a shape it cannot have.
    case invalidConversion(String)
    /// Arrays that should hold one row per sample hold different numbers of rows (inputs, then target).
    case mismatchedCounts([Int])

    /// A one-line message a user can act on.
    public var description: String {
        switch self {
        case .empty(let reason): return reason
        case .inconsistentSample(let position, let expected, let found):
            return "sample \(position) of a batch has \(found), but the first has \(expected); every sample must look the same"
        case .indexOutOfRange(let index, let count):
            return "sample index \(index) is outside the dataset's 0..<\(count)"
        case .invalidConversion(let reason): return reason
        case .mismatchedCounts(let counts):
            return "the inputs and targets hold different numbers of samples: \(counts.map(String.init).joined(separator: ", "))"
        }
    }
}
