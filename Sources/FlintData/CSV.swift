import FlintBackend
import Foundation

/// A delimited text table (RFC 4180 CSV), read whole into memory: fine for the small tabular
/// datasets it is meant for (iris, digits, UCI files), not for gigabyte logs.
///
/// Fields may be quoted (`"a, b"`, with `""` for a quote inside); quoted fields may span lines.
/// Blank lines are skipped. Every row must have as many fields as the first one (or the header).
/// Numeric access trims spaces and throws `DataError.badLine` naming the 1-based line of the
/// offending row, so a user can open the file at that line.
public struct CSVTable: Sendable {
    /// Where the table came from, for error messages.
    public let path: String
    /// The header's names, or `"0"`, `"1"`, … (the column indices) when there is no header.
    public let columnNames: [String]
    /// The raw fields, quotes removed, one array per row.
    public let rows: [[String]]
    /// The 1-based line each row starts on (rows can be fewer than lines: header, blank lines,
    /// quoted line breaks).
    let lines: [Int]

    /// The number of data rows (the header excluded).
    public var rowCount: Int { rows.count }
    /// The number of columns.
    public var columnCount: Int { columnNames.count }

    /// Reads a table, gzipped or not (told apart by the gzip magic, not the file name).
    public init(contentsOf url: URL, hasHeader: Bool = true, delimiter: Character = ",") throws {
        let text = try Self.text(contentsOf: url)
        try self.init(text: text, path: url.path, hasHeader: hasHeader, delimiter: delimiter)
    }

    /// Parses `text`; `path` only labels error messages.
    public init(text: String, path: String = "<memory>", hasHeader: Bool = true, delimiter: Character = ",") throws {
        var records = try Self.records(in: text, delimiter: delimiter, path: path)
        var header: [String]?
        if hasHeader {
            guard !records.isEmpty else { throw DataError.corrupt(path: path, reason: "the file is empty (expected a header line)") }
            header = records.removeFirst().fields
        }
        try self.init(path: path, header: header, records: records)
    }

    /// A table from already split records; every record must be as wide as `header` (or the first record).
    init(path: String, header: [String]?, records: [Record]) throws {
        let width = header?.count ?? records.first?.fields.count ?? 0
        let widthSource = header == nil ? "the first row" : "the header"
        for record in records where record.fields.count != width {
            throw DataError.badLine(
                path: path, line: record.line,
                reason: "expected \(width) fields (as in \(widthSource)), found \(record.fields.count)")
        }
        self.path = path
        self.columnNames = header ?? (0..<width).map(String.init)
        self.rows = records.map(\.fields)
        self.lines = records.map(\.line)
    }

    /// The index of the column called `name` (the first, if names repeat).
    public func columnIndex(named name: String) throws -> Int {
        guard let index = columnNames.firstIndex(of: name) else {
            throw DataError.noSuchColumn(path: path, column: "'\(DataError.excerpt(name))'", available: columnNames)
        }
        return index
    }

    /// The given columns of every row as Float, row-major (`rowCount × columns.count`).
    public func features(columns: some Sequence<Int>) throws -> [Float] {
        let columns = Array(columns)
        try columns.forEach(checkColumn)
        var values: [Float] = []
        values.reserveCapacity(rowCount * columns.count)
        for row in rows.indices {
            for column in columns { values.append(try number(row: row, column: column)) }
        }
        return values
    }

    /// The named columns of every row as Float, row-major.
    public func features(columnsNamed names: [String]) throws -> [Float] {
        try features(columns: names.map(columnIndex(named:)))
    }

    /// One column as Float targets (regression labels).
    public func values(column: Int) throws -> [Float] {
        try features(columns: [column])
    }

    /// One column of non-negative integer class indices (`"2"`, or `"2.0"` as some exporters write).
    /// With `classCount`, an index outside `0..<classCount` is an error too.
    public func classIndices(column: Int, classCount: Int? = nil) throws -> [Int32] {
        try checkColumn(column)
        return try rows.indices.map { row in
            let value = try number(row: row, column: column)
            guard value >= 0, value == value.rounded() else {
                throw DataError.badLine(
                    path: path, line: lines[row],
                    reason: "\(describe(column)) holds \(value), which is not a class index (a whole number ≥ 0)")
            }
            // Compared in Double (exact for both), never converted first: "2147483647" parses as
            // the Float 2³¹, on which Int32(_:) traps.
            let limit = Swift.min(classCount ?? Int(Int32.max), Int(Int32.max))
            guard Double(value) < Double(limit) else {
                let shown = value < 1e18 ? "\(Int(value))" : DataError.excerpt(rows[row][column].trimmingSpaces())
                throw DataError.badLine(
                    path: path, line: lines[row], reason: "class index \(shown) in \(describe(column)) is outside 0..<\(limit)")
            }
            return Int32(value)
        }
    }

    /// One column of class names (such as `Iris-setosa`) mapped to indices into the sorted list of
    /// distinct names, so the encoding does not depend on row order.
    public func encodedClasses(column: Int) throws -> (labels: [Int32], classNames: [String]) {
        try checkColumn(column)
        let names = try rows.indices.map { row in
            let name = rows[row][column].trimmingSpaces()
            guard !name.isEmpty else {
                throw DataError.badLine(path: path, line: lines[row], reason: "missing value in \(describe(column))")
            }
            return name
        }
        let classNames = Set(names).sorted()
        let indexOf = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, Int32($0)) })
        return (names.map { indexOf[$0]! }, classNames)
    }

    // MARK: Field access

    private func checkColumn(_ column: Int) throws {
        guard columnNames.indices.contains(column) else {
            throw DataError.noSuchColumn(path: path, column: "\(column) (valid: 0..<\(columnCount))", available: columnNames)
        }
    }

    private func describe(_ column: Int) -> String {
        columnNames[column] == String(column) ? "column \(column)" : "column \(column) ('\(DataError.excerpt(columnNames[column]))')"
    }

    private func number(row: Int, column: Int) throws -> Float {
        let field = rows[row][column].trimmingSpaces()
        guard !field.isEmpty else {
            throw DataError.badLine(path: path, line: lines[row], reason: "missing value in \(describe(column))")
        }
        // Float("nan") and overflowing literals parse; neither is usable as a feature.
        guard let value = Float(field), value.isFinite else {
            throw DataError.badLine(
                path: path, line: lines[row], reason: "'\(DataError.excerpt(field))' in \(describe(column)) is not a finite number")
        }
        return value
    }

    // MARK: Parsing

    struct Record {
        var line: Int
        var fields: [String]
    }

    static func text(contentsOf url: URL) throws -> String {
        let data = try FileContents.readDecompressing(url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError.corrupt(path: url.path, reason: "not UTF-8 text (save the table as UTF-8 CSV)")
        }
        return text
    }

    /// Splits `text` into records of fields, RFC 4180 style, remembering each record's first line.
    static func records(in text: String, delimiter: Character, path: String) throws -> [Record] {
        let quote: Unicode.Scalar = "\"", newline: Unicode.Scalar = "\n", carriageReturn: Unicode.Scalar = "\r"
        ensure(
            delimiter.unicodeScalars.count == 1 && !["\"", "\n", "\r"].contains(delimiter),
            "CSVTable: the delimiter must be one character other than a quote or a line break, got \(delimiter.debugDescription)")
        let separator = delimiter.unicodeScalars.first!
        // Unicode scalars, not Characters: Swift's Character merges "\r\n" into one grapheme.
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }  // Excel's byte-order mark

        var records: [Record] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1, recordLine = 1, quoteLine = 1
        var inQuotes = false, wasQuoted = false, closedQuote = false

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            closedQuote = false
        }
        func endRecord() {
            let blank = fields.isEmpty && !wasQuoted && String(field).allSatisfy { $0 == " " || $0 == "\t" }
            if !blank {
                endField()
                records.append(Record(line: recordLine, fields: fields))
            }
            fields = []
            field = String.UnicodeScalarView()
            wasQuoted = false
            closedQuote = false
        }

        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            let next = i + 1 < scalars.count ? scalars[i + 1] : nil
            i += 1
            if inQuotes {
                if c == quote {
                    if next == quote {
                        field.append(quote)
                        i += 1
                    } else {
                        inQuotes = false
                        closedQuote = true
                    }
                    continue
                }
                if c == newline || (c == carriageReturn && next != newline) { line += 1 }
                field.append(c)
            } else if c == separator {
                endField()
            } else if c == newline || c == carriageReturn {
                if c == carriageReturn && next == newline { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else if closedQuote {
                guard c == " " || c == "\t" else {
                    throw DataError.badLine(
                        path: path, line: line,
                        reason: "unexpected '\(Character(c))' after a closing quote (write a quote inside a quoted field as \"\")")
                }
            } else if c == quote && field.isEmpty {
                inQuotes = true
                wasQuoted = true
                quoteLine = line
            } else {
                field.append(c)
            }
        }
        guard !inQuotes else {
            throw DataError.badLine(path: path, line: quoteLine, reason: "a quoted field opened on this line is never closed")
        }
        endRecord()
        return records
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs (Unicode category Zs and U+0009,
    /// `CharacterSet.whitespaces`), in plain Swift: Foundation's `trimmingCharacters(in:)` goes
    /// through NSString on Linux and took a third of the time of reading a table.
    func trimmingSpaces() -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar == " " || scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
        }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        if first == scalars.startIndex && last == scalars.index(before: scalars.endIndex) { return self }
        return String(scalars[first...last])
    }
}
