/// Everything that can go wrong reading data from disk. Messages say what to do next.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// No folder in the search order holds the dataset.
    case notFound(dataset: String, searched: [String], hint: String)
    /// A file exists but cannot be read.
    case unreadable(path: String, reason: String)
    /// A file's contents are not what its format promises (bad magic, truncated, inconsistent).
    case corrupt(path: String, reason: String)
    /// A line of a text file cannot be parsed.
    case badLine(path: String, line: Int, reason: String)
    /// A table has no column of that name or index.
    case noSuchColumn(path: String, column: String, available: [String])

    public var description: String {
        switch self {
        case .notFound(let dataset, let searched, let hint):
            let places = searched.map { "  \($0)" }.joined(separator: "\n")
            return "dataset '\(dataset)' not found. Looked in:\n\(places)\n\(hint)"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .corrupt(let path, let reason):
            return "\(path) is corrupt: \(reason)"
        case .badLine(let path, let line, let reason):
            return "\(path), line \(line): \(reason)"
        case .noSuchColumn(let path, let column, let available):
            // Long tables (digits has 65 columns) would bury the message, so list only the first few.
            let shown = available.prefix(12).map { "'\($0)'" }.joined(separator: ", ")
            let more = available.count > 12 ? ", … (\(available.count) in all)" : ""
            return "\(path) has no column \(column). Its columns are \(shown)\(more)"
        }
    }
}
