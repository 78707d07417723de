import Foundation
import Testing
@testable import FlintData

@Suite struct CSVReading {
    @Test func readsHeaderAndNumericColumns() throws {
        let table = try CSVTable(text: "a,b,label\n1,2.5,0\n-3,4e1,2\n")
        #expect(table.columnNames == ["a", "b", "label"])
        #expect(table.rowCount == 2 && table.columnCount == 3)
        #expect(try table.features(columns: [0, 1]) == [1, 2.5, -3, 40])
        #expect(try table.features(columnsNamed: ["b", "a"]) == [2.5, 1, 40, -3])
        #expect(try table.classIndices(column: table.columnIndex(named: "label")) == [0, 2])
        #expect(try table.values(column: 1) == [2.5, 40])
    }

    @Test func withoutHeaderColumnsAreNamedByIndex() throws {
        let table = try CSVTable(text: "1;2\n3;4", hasHeader: false, delimiter: ";")
        #expect(table.columnNames == ["0", "1"])
        #expect(try table.features(columns: 0..<2) == [1, 2, 3, 4])
    }

    @Test func quotedFieldsFollowRFC4180() throws {
        let text = "\"sepal, length\",\"say \"\"hi\"\"\",\"multi\nline\"\r\n\"1.5\",2,3\r\n\r\n4,\"5\",6\r\n"
        let table = try CSVTable(text: text)
        #expect(table.columnNames == ["sepal, length", "say \"hi\"", "multi\nline"])
        #expect(try table.features(columns: 0..<3) == [1.5, 2, 3, 4, 5, 6])
        // The header spans lines 1–2, so the rows start on lines 3 and 5 (line 4 is blank).
        #expect(table.lines == [3, 5])
    }

    @Test func blankLinesAndByteOrderMarkAreSkipped() throws {
        let table = try CSVTable(text: "\u{FEFF}x,y\n\n1,2\n   \n3,4\n\n")
        #expect(table.columnNames == ["x", "y"])
        #expect(table.rowCount == 2)
    }

    @Test func malformedRowsNameTheirLine() {
        func failure(_ text: String, hasHeader: Bool = true) -> DataError? {
            do {
                let table = try CSVTable(text: text, path: "t.csv", hasHeader: hasHeader)
                _ = try table.features(columns: 0..<table.columnCount)
                return nil
            } catch {
                return error as? DataError
            }
        }
        guard case .badLine(_, 4, let reason)? = failure("a,b\n1,2\n3,4\n5,x\n") else { Issue.record("non-numeric"); return }
        #expect(reason.contains("'x'") && reason.contains("'b'"))
        guard case .badLine(_, 3, let missing)? = failure("a,b\n1,2\n,4\n") else { Issue.record("missing"); return }
        #expect(missing.contains("missing value"))
        guard case .badLine(_, 3, let ragged)? = failure("a,b\n1,2\n3,4,5\n") else { Issue.record("ragged"); return }
        #expect(ragged.contains("expected 2 fields") && ragged.contains("found 3"))
        guard case .badLine(_, 2, _)? = failure("1,2\n3\n", hasHeader: false) else { Issue.record("ragged, no header"); return }
        guard case .badLine(_, 2, let unclosed)? = failure("a,b\n\"1,2\n3,4\n") else { Issue.record("unclosed quote"); return }
        #expect(unclosed.contains("never closed"))
        guard case .badLine(_, 2, _)? = failure("a,b\n\"1\"x,2\n") else { Issue.record("text after quote"); return }
        guard case .badLine(_, 2, let nan)? = failure("a\nnan\n") else { Issue.record("nan"); return }
        #expect(nan.contains("not a finite number"))
        #expect(failure("") == .corrupt(path: "t.csv", reason: "the file is empty (expected a header line)"))
        // The message a user sees says where to look.
        #expect(failure("a,b\n1,2\n3,4\n5,x\n")?.description.hasPrefix("t.csv, line 4:") == true)
    }

    @Test func unknownColumnsAreErrors() throws {
        let table = try CSVTable(text: "a,b\n1,2\n", path: "t.csv")
        #expect(throws: DataError.noSuchColumn(path: "t.csv", column: "'c'", available: ["a", "b"])) {
            try table.columnIndex(named: "c")
        }
        #expect(throws: DataError.self) { try table.features(columns: [2]) }
        #expect(throws: DataError.self) { try table.classIndices(column: -1) }
    }

    @Test func classIndicesMustBeWholeAndInRange() throws {
        let table = try CSVTable(text: "y\n0\n2.0\n1\n", path: "t.csv")
        #expect(try table.classIndices(column: 0) == [0, 2, 1])
        #expect(throws: DataError.badLine(path: "t.csv", line: 3, reason: "class index 2 in column 0 ('y') is outside 0..<2")) {
            try table.classIndices(column: 0, classCount: 2)
        }
        #expect(throws: DataError.self) { try CSVTable(text: "y\n1.5\n").classIndices(column: 0) }
        #expect(throws: DataError.self) { try CSVTable(text: "y\n-1\n").classIndices(column: 0) }
    }

    @Test func classNamesAreEncodedInSortedOrder() throws {
        // UCI's iris.data layout: no header, the species name last.
        let text = "5.1,3.5,1.4,0.2,Iris-setosa\n7.0,3.2,4.7,1.4,Iris-versicolor\n6.3,3.3,6.0,2.5,Iris-virginica\n4.9,3.0,1.4,0.2,Iris-setosa\n\n"
        let table = try CSVTable(text: text, hasHeader: false)
        let (labels, names) = try table.encodedClasses(column: 4)
        #expect(names == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"])
        #expect(labels == [0, 1, 2, 0])
        let dataset = try TabularDataset(table, labelColumn: 4, labels: .names)
        #expect(dataset.count == 4 && dataset.featureCount == 4)
        #expect(dataset.features[4..<8] == [7.0, 3.2, 4.7, 1.4])
        #expect(dataset.classNames == names)
    }

    @Test func readsGzippedFiles() throws {
        let compressed = try IDXReading.gzip(Data("x,\"y\"\n1,2\n3,oops\n".utf8))
        let url = try temporaryFile(compressed, suffix: ".csv.gz")
        defer { try? FileManager.default.removeItem(at: url) }
        let table = try CSVTable(contentsOf: url)
        #expect(table.columnNames == ["x", "y"])
        #expect(try table.values(column: 0) == [1, 3])
        #expect(throws: DataError.badLine(path: url.path, line: 3, reason: "'oops' in column 1 ('y') is not a finite number")) {
            try table.values(column: 1)
        }
    }

    @Test func missingFileIsUnreadable() {
        #expect {
            try CSVTable(contentsOf: URL(fileURLWithPath: "/nonexistent/flint.csv"))
        } throws: { error in
            guard case .unreadable(let path, _) = error as? DataError else { return false }
            return path == "/nonexistent/flint.csv"
        }
    }
}
