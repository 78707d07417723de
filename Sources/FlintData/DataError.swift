/// Everything that can go wrong reading, checking or splitting data. Messages say what to do
/// next, and quote at most `DataError.excerpt(_:)` of any field, so a 2 MB cell cannot bury them.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// No folder in the search order holds the dataset.
    case notFound(dataset: String, searched: [String], hint: String)
    /// The dataset's folder exists but lacks some of its files (each split comes from one folder).
    case missingFiles(dataset: String, folder: String, missing: [String], hint: String)
    /// A file exists but cannot be read.
    case unreadable(path: String, reason: String)
    /// A file's contents are not what its format promises (bad magic, truncated, inconsistent).
    case corrupt(path: String, reason: String)
    /// A line of a text file cannot be parsed.
    case badLine(path: String, line: Int, reason: String)
    /// A table has no column of that name or index.
    case noSuchColumn(path: String, column: String, available: [String])
    /// Features hold NaN or an infinity where finite numbers are needed (scaling, training).
    case nonFinite(source: String, row: Int, column: Int, value: String)
    /// The rows cannot be split as asked (too few rows for the folds, a fraction outside 0…1).
    case cannotSplit(reason: String)

    /// A one-line message naming the file and what is wrong.
    public var description: String {
        switch self {
        case .notFound(let dataset, let searched, let hint):
            let places = searched.map { "  \($0)" }.joined(separator: "\n")
            return "dataset '\(dataset)' not found. Looked in:\n\(places)\n\(hint)"
        case .missingFiles(let dataset, let folder, let missing, let hint):
            let files = missing.map { "  \($0) (or \($0).gz)" }.joined(separator: "\n")
            return "dataset '\(dataset)' in \(folder) is incomplete; missing:\n\(files)\n\(hint)"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .corrupt(let path, let reason):
            return "\(path) is corrupt: \(reason)"
        case .badLine(let path, let line, let reason):
            return "\(path), line \(line): \(reason)"
        case .noSuchColumn(let path, let column, let available):
            // Long tables (digits has 65 columns) would bury the message, so list only the first few.
            let shown = available.prefix(12).map { "'\(Self.excerpt($0))'" }.joined(separator: ", ")
            let more = available.count > 12 ? ", … (\(available.count) in all)" : ""
            return "\(path) has no column \(column). Its columns are \(shown)\(more)"
        case .nonFinite(let source, let row, let column, let value):
            return "\(source): row \(row), column \(column) is \(value); remove or fill in non-finite values before scaling or training"
        case .cannotSplit(let reason):
            return "cannot split the data: \(reason)"
        }
    }

    /// `text` as quoted in a message: whole when short, else its start and its length.
    public static func excerpt(_ text: some StringProtocol, limit: Int = 40) -> String {
        guard text.count > limit else { return String(text) }
        return "\(text.prefix(limit))… (\(text.count) characters)"
    }
}
