import Flint
import Foundation
import Testing

@Suite struct ConfusionMatrixTests {
    /// scikit-learn: classification_report([0,0,1,1,2,2,2], [0,1,1,1,2,0,2]) gives precision
    /// 0.5/0.6667/1.0, recall 0.5/1.0/0.6667, F1 0.5/0.8/0.8, macro F1 0.7, weighted F1 0.7143.
    static let matrix = try! ConfusionMatrix(predicted: [0, 1, 1, 1, 2, 0, 2], actual: [0, 0, 1, 1, 2, 2, 2], classCount: 3)

    @Test func countsAndPerClassMetricsMatchScikitLearn() {
        let m = Self.matrix
        #expect(m.counts == [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
        #expect(m.total == 7 && m.correct == 5 && abs(m.accuracy - 5.0 / 7) < 1e-12)
        let close = { (a: [Double], b: [Double]) in zip(a, b).allSatisfy { abs($0 - $1) < 1e-12 } }
        #expect(close((0..<3).map(m.precision), [0.5, 2.0 / 3, 1]))
        #expect(close((0..<3).map(m.recall), [0.5, 1, 2.0 / 3]))
        #expect(close((0..<3).map(m.f1), [0.5, 0.8, 0.8]))
        #expect((0..<3).map(m.support) == [2, 2, 3])
        let macro = m.average(weighted: false), weighted = m.average(weighted: true)
        #expect(abs(macro.f1 - 0.7) < 1e-12 && abs(macro.precision - (0.5 + 2.0 / 3 + 1) / 3) < 1e-12)
        #expect(abs(weighted.f1 - 5.0 / 7) < 1e-12 && abs(weighted.recall - 5.0 / 7) < 1e-12)
    }

    @Test func classesNeverPredictedOrAbsentScoreZero() throws {
        let m = try ConfusionMatrix(predicted: [0, 0, 0], actual: [0, 1, 0], classCount: 3)
        #expect(m.precision(1) == 0 && m.recall(1) == 0 && m.f1(1) == 0)  // never predicted
        #expect(m.precision(2) == 0 && m.recall(2) == 0 && m.support(2) == 0)  // no samples
        #expect(ConfusionMatrix(classCount: 2).accuracy == 0 && ConfusionMatrix(classCount: 2).average(weighted: true).f1 == 0)
    }

    @Test func badInputIsAnError() {
        #expect(throws: ConfusionMatrixError.countMismatch(predicted: 1, actual: 2)) {
            try ConfusionMatrix(predicted: [0], actual: [0, 1], classCount: 2)
        }
        #expect(throws: ConfusionMatrixError.labelOutOfRange(index: 1, label: 2, classCount: 2)) {
            try ConfusionMatrix(predicted: [0, 1], actual: [0, 2], classCount: 2)
        }
        #expect(throws: ConfusionMatrixError.labelOutOfRange(index: 0, label: -1, classCount: 2)) {
            try ConfusionMatrix(predicted: [-1], actual: [0], classCount: 2)
        }
        #expect(throws: ConfusionMatrixError.badShapes(outputs: [3], labels: [3])) {
            try ConfusionMatrix(outputs: Tensor([1, 2, 3], shape: [3], on: .cpu), labels: Tensor(int32: [0, 1, 0], shape: [3], on: .cpu))
        }
    }

    @Test func outputsArePredictedByTheirLargestScore() throws {
        let outputs = Tensor([0.1, 0.9, 2, -1, 0.3, 0.2], shape: [3, 2], on: .cpu)
        let m = try ConfusionMatrix(outputs: outputs, labels: Tensor(int32: [1, 1, 0], shape: [3], on: .cpu),
                                    classNames: ["cat", "dog"])
        #expect(m.counts == [[1, 0], [1, 1]])
        #expect(m.classNames == ["cat", "dog"])
    }

    @Test func tableAndReportAreReadable() throws {
        let table = Self.matrix.table.split(separator: "\n").map(String.init)
        #expect(table == ["Confusion matrix (rows: true class, columns: predicted class)",
                          "    0  1  2", "0   1  1  0", "1   0  2  0", "2   1  0  2"])
        let report = Self.matrix.report.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(report[0].hasSuffix("precision     recall   f1-score   support"))
        #expect(report[1].split(separator: " ") == ["0", "0.5000", "0.5000", "0.5000", "2"])
        #expect(report[5].split(separator: " ") == ["accuracy", "0.7143", "7"])
        #expect(report[6].split(separator: " ") == ["macro", "avg", "0.7222", "0.7222", "0.7000", "7"])
        let named = try ConfusionMatrix(predicted: [0], actual: [1], classCount: 2, classNames: ["cat", "dog"])
        #expect(named.report.contains("1 dog") && named.table.contains("1 dog"))
    }

    @Test func pictureHasACellPerPairInBothFormats() throws {
        let svg = Self.matrix.svg()
        let elements = try SVGElements.parse(svg)
        // Background, nine cells and the frame.
        #expect(elements.filter { $0.name == "rect" }.count == 1 + 9 + 1)
        let texts = elements.filter { $0.name == "text" }.map(\.text)
        #expect(texts.contains("predicted class") && texts.contains("true class"))
        #expect(texts.filter { $0 == "2" }.count >= 2 + 2)  // two cells of 2, column and row label 2
        // The full diagonal cell of class 1 (2 of 2) is the darkest; an empty cell stays white.
        let cells = elements.filter { $0.name == "rect" && $0.attributes["stroke"] == nil }.dropFirst()
        let fills = cells.map { $0.attributes["fill"]! }
        #expect(fills[4] == "#08306b" && fills[2] == "#ffffff")
        let image = Self.matrix.image()
        let svgRoot = try #require(elements.first)
        #expect("\(image.width)" == svgRoot.attributes["width"] && "\(image.height)" == svgRoot.attributes["height"])
        let cell = try #require(cells.dropFirst(4).first)
        let (x, y) = (Double(cell.attributes["x"]!)! + 3, Double(cell.attributes["y"]!)! + 3)
        #expect(Array(image[x: Int(x), y: Int(y)]) == [0x08, 0x30, 0x6B])
    }
}
