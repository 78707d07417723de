import FlintData
import Foundation
import FuzzSupport

/// One libFuzzer input: a control byte, then any bytes as a CSV table, read one of the ways a
/// loader reads one. The control byte picks the delimiter (bits 0–1: `,` `;` tab `|`), the
/// header (bit 2), the first or last column (bit 3) and the reading (bits 4–7): numbers, class
/// indices (free or below 3), class names, a labelled dataset by index or by name, or
/// scikit-learn's layout. One reading per input keeps executions fast.
func fuzzCSV(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: start, count: count)
    let control = Int(bytes[0])
    let delimiter: Character = [",", ";", "\t", "|"][control & 3]
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    let reading = (control >> 4) % 8
    if reading == 7 {
        _ = try? TabularDataset(scikitLearnCSV: text, path: "fuzz.csv")
        return 0
    }
    guard let table = try? CSVTable(text: text, path: "fuzz.csv", hasHeader: control & 4 != 0, delimiter: delimiter) else { return 0 }
    let column = control & 8 == 0 ? 0 : table.columnCount - 1
    switch reading {
    case 0: _ = try? table.features(columns: 0..<table.columnCount)
    case 1: _ = try? table.classIndices(column: column)
    case 2: _ = try? table.classIndices(column: column, classCount: 3)
    case 3: _ = try? table.encodedClasses(column: column)
    case 4:
        // A largest index of k makes k + 1 class names: skip the costly middle range to keep
        // executions fast (the 65,536 cap itself is still reached, and unit-tested).
        let largest = (try? table.classIndices(column: column))?.max() ?? 0
        if largest < 1024 || largest >= Int32(TabularDataset.maximumClassCount) {
            _ = try? TabularDataset(table, labelColumn: column, labels: .indices)
        }
    case 5: _ = try? TabularDataset(table, labelColumn: column, labels: .names)
    default:
        if let first = table.columnNames.first { _ = try? table.columnIndex(named: first) }
        _ = try? table.columnIndex(named: "label")
    }
    return 0
}

runFuzzer { start, count in fuzzCSV(start, count) }
