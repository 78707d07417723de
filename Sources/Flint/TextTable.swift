import Foundation

/// A plain-text table with aligned columns, for command-line reports.
public struct TextTable: Sendable {
    /// The column titles.
    public var header: [String]
    /// The rows, one string per column.
    public var rows: [[String]]

    /// A table with `header` and, optionally, its rows.
    ///
    /// - Parameters:
    ///   - header: The column titles.
    ///   - rows: The rows so far; append more to `rows`.
    public init(header: [String], rows: [[String]] = []) {
        self.header = header
        self.rows = rows
    }

    /// The table as aligned text lines, ready to print.
    public var rendered: String {
        let widths = header.indices.map { column in
            ([header] + rows).map { column < $0.count ? $0[column].count : 0 }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// `1.5 GiB`, `512 MiB`.
    public static func bytes(_ count: UInt64) -> String {
        let gib = Double(count) / Double(1 << 30)
        return gib >= 1 ? String(format: "%.1f GiB", gib) : "\(count >> 20) MiB"
    }
}
