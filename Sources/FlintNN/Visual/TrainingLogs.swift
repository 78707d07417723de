import FlintData
import Foundation

/// Appends one CSV row per epoch, Keras' `CSVLogger`: an `epoch` column (counted from 1, as the
/// progress display counts) and one column per log key, named in the header the first epoch
/// writes. Keys that appear only in later epochs are left out; missing values are empty cells.
/// Non-finite values are written `nan`, `inf` and `-inf`, which Python's `float()`, pandas and
/// spreadsheets read. Each row goes to the file as soon as the epoch ends.
///
///     try model.fit(x, y, epochs: 10, callbacks: [try CSVLogger(url: URL(fileURLWithPath: "run.csv"))])
public final class CSVLogger: Callback {
    /// The file appended to.
    public let url: URL
    /// The field separator.
    public let separator: Character
    private let file: AppendingFile
    private var columns: [String]?
    /// The first failed write, also reported once on standard error; training goes on.
    public private(set) var writeError: (any Error)?

    /// Opens (and empties, unless `append`) the file now, so a bad path fails before training.
    /// Appending to a file that already has rows keeps its header and columns.
    public init(url: URL, separator: Character = ",", append: Bool = false) throws {
        self.url = url
        self.separator = separator
        file = try AppendingFile(url: url, truncate: !append)
        if append, file.size > 0, let text = try? String(contentsOf: url, encoding: .utf8),
           let header = text.split(separator: "\n").first {
            columns = Array(header.split(separator: separator, omittingEmptySubsequences: false).dropFirst().map(String.init))
        }
    }

    /// Appends the epoch's row; never asks to stop.
    public func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        var text = ""
        if columns == nil {
            columns = TrainingLogs.orderedKeys(logs)
            text = (["epoch"] + columns!).map(quoted).joined(separator: String(separator)) + "\n"
        }
        let cells = columns!.map { logs[$0].map(TrainingLogs.csvNumber) ?? "" }
        text += ([String(epoch + 1)] + cells).joined(separator: String(separator)) + "\n"
        do { try file.append(text) } catch { report(error) }
        return false
    }

    private func quoted(_ name: String) -> String {
        name.contains(separator) || name.contains("\"") || name.contains("\n")
            ? "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : name
    }

    private func report(_ error: any Error) {
        if writeError == nil { FileHandle.standardError.write(Data("warning: \(error)\n".utf8)) }
        writeError = error
    }
}

/// Appends one JSON object per epoch and line (JSON Lines): `{"epoch": 1, "loss": 0.31, …}`,
/// keys sorted, epochs counted from 1. JSON has no NaN or infinity, so those values are
/// written `null`. Each line goes to the file as soon as the epoch ends.
public final class JSONLinesLogger: Callback {
    /// The file appended to.
    public let url: URL
    private let file: AppendingFile
    /// The first failed write, also reported once on standard error; training goes on.
    public private(set) var writeError: (any Error)?

    /// Opens (and empties, unless `append`) the file now, so a bad path fails before training.
    public init(url: URL, append: Bool = false) throws {
        self.url = url
        file = try AppendingFile(url: url, truncate: !append)
    }

    /// Appends the epoch's line; never asks to stop.
    public func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        do {
            try file.append(Self.line(epoch: epoch + 1, logs: logs))
        } catch {
            if writeError == nil { FileHandle.standardError.write(Data("warning: \(error)\n".utf8)) }
            writeError = error
        }
        return false
    }

    /// One object and a newline; numbers in the shortest form that reads back as the same Float.
    static func line(epoch: Int, logs: [String: Float]) -> String {
        let fields = ["\"epoch\": \(epoch)"] + logs.keys.sorted().map { key in
            let value = logs[key]!
            return "\(TrainingLogs.jsonString(key)): \(value.isFinite ? "\(value)" : "null")"
        }
        return "{" + fields.joined(separator: ", ") + "}\n"
    }
}

enum TrainingLogs {
    /// `loss` first, then the other training keys, then their `val_` counterparts, each sorted.
    static func orderedKeys(_ logs: [String: Float]) -> [String] {
        logs.keys.sorted { a, b in
            func rank(_ key: String) -> Int {
                key.hasPrefix("val_") ? (key == "val_loss" ? 2 : 3) : (key == "loss" ? 0 : 1)
            }
            return rank(a) == rank(b) ? a < b : rank(a) < rank(b)
        }
    }

    static func csvNumber(_ value: Float) -> String {
        value.isNaN ? "nan" : value == .infinity ? "inf" : value == -.infinity ? "-inf" : "\(value)"
    }

    /// A JSON string literal for `text`.
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
