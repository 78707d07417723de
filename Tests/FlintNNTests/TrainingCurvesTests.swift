import Flint
@testable import FlintNN
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// The elements of an SVG document, parsed by Foundation's XML parser (which also proves the
/// document well-formed).
final class SVGElements: NSObject, XMLParserDelegate {
    struct Element { var name: String; var attributes: [String: String]; var text = "" }
    private(set) var elements: [Element] = []
    private var open: Int?

    static func parse(_ svg: String) throws -> [Element] {
        let collector = SVGElements()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        guard parser.parse() else { throw parser.parserError ?? CocoaError(.fileReadCorruptFile) }
        return collector.elements
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append(Element(name: name, attributes: attributes))
        open = elements.count - 1
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open = nil
    }

    /// Text directly inside an element (the newlines between elements belong to none).
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let open { elements[open].text += string }
    }
}

extension [SVGElements.Element] {
    var texts: [String] { filter { $0.name == "text" }.map(\.text) }
    func discs(color: String) -> [(x: Double, y: Double)] {
        filter { $0.name == "circle" && $0.attributes["fill"] == color }.map { (Double($0.attributes["cx"]!)!, Double($0.attributes["cy"]!)!) }
    }
    func lines(color: String) -> [[(x: Double, y: Double)]] {
        filter { $0.name == "polyline" && $0.attributes["stroke"] == color }.map { line in
            line.attributes["points"]!.split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").map { Double($0)! }
                return (xy[0], xy[1])
            }
        }
    }
}

@Suite struct TrainingCurvesTests {
    static let train = "#1f77b4", validation = "#e8710a", rate = "#2ca02c"

    static let history = History([
        ["loss": 0.9, "accuracy": 0.60, "val_loss": 1.0, "val_accuracy": 0.55, "learning_rate": 0.002],
        ["loss": 0.5, "accuracy": 0.80, "val_loss": 0.7, "val_accuracy": 0.70, "learning_rate": 0.001],
        ["loss": 0.3, "accuracy": 0.90, "val_loss": 0.6, "val_accuracy": 0.75, "learning_rate": 0.0005],
        ["loss": 0.2, "accuracy": 0.95, "val_loss": 0.65, "val_accuracy": 0.74, "learning_rate": 0.0001],
    ])

    @Test func axesHaveRoundTicksAndReadableLabels() {
        func labels(_ low: Double, _ high: Double, count: Int = 5) -> [String] {
            let axis = ChartAxis(covering: low, high, count: count)
            return axis.ticks.map(axis.label)
        }
        #expect(labels(0.12, 0.28) == ["0.10", "0.15", "0.20", "0.25", "0.30"])
        #expect(labels(0, 10, count: 4) == ["0.0", "2.5", "5.0", "7.5", "10.0"])
        #expect(labels(0, 2e-5, count: 4) == ["0", "5e-6", "1e-5", "1.5e-5", "2e-5"])
        #expect(labels(1200, 5100) == ["1000", "2000", "3000", "4000", "5000", "6000"])
        #expect(labels(0.1, 0.3) == ["0.10", "0.15", "0.20", "0.25", "0.30"])
        // A constant series gets a range around it instead of dividing by zero.
        #expect(labels(0.001, 0.001, count: 4) == ["0.00090", "0.00095", "0.00100", "0.00105", "0.00110"])
        #expect(labels(-0.3, 0.3).contains("0.0") && !labels(-0.3, 0.3).contains("-0.0"))
        let epochs = ChartAxis(integersFrom: 1, to: 30)
        #expect(epochs.ticks == [5, 10, 15, 20, 25, 30] && ChartAxis(integersFrom: 1, to: 3).ticks == [1, 2, 3])
    }

    @Test func svgHasPanelsLegendAxesAndOnePointPerEpoch() throws {
        let svg = Self.history.svg(title: "demo run")
        let elements = try SVGElements.parse(svg)
        let texts = elements.texts
        for label in ["demo run", "loss", "accuracy", "epoch", "training", "validation", "learning rate (right axis)", "learning rate"] {
            #expect(texts.contains(label), "missing text \(label)")
        }
        #expect(texts.contains("0.002") || texts.contains("0.0020"), "learning-rate ticks: \(texts)")
        // Two panels, each with the training and the validation series: 4 markers apiece.
        #expect(elements.discs(color: Self.train).count == 8 && elements.discs(color: Self.validation).count == 8)
        #expect(elements.lines(color: Self.train).count == 2 + 1)  // two panels and the legend sample
        let rateLines = elements.lines(color: Self.rate)
        #expect(rateLines.count == 2 && rateLines.contains { $0.count == 4 })
        // Loss falls, so the training line goes down the page (y grows) epoch after epoch, with
        // equal steps along x.
        let lossLine = try #require(elements.lines(color: Self.train).first { $0.count == 4 })
        #expect(zip(lossLine, lossLine.dropFirst()).allSatisfy { $0.y < $1.y && $0.x < $1.x })
        let dx = zip(lossLine, lossLine.dropFirst()).map { $1.x - $0.x }
        #expect(dx.allSatisfy { abs($0 - dx[0]) < 0.02 })
        // Validation lines are dashed; training lines are not.
        #expect(elements.filter { $0.name == "polyline" && $0.attributes["stroke"] == Self.validation }
            .allSatisfy { $0.attributes["stroke-dasharray"] != nil })
        #expect(svg == Self.history.svg(title: "demo run"), "the same history draws the same file")
    }

    @Test func pixelsFollowTheSameLayout() throws {
        let elements = try SVGElements.parse(Self.history.svg())
        let svg = try #require(elements.first { $0.name == "svg" })
        let image = Self.history.image()
        #expect(image.format == .rgb && "\(image.width)" == svg.attributes["width"] && "\(image.height)" == svg.attributes["height"])
        // The centre of every marker disc drawn last (training) has exactly its colour.
        for point in elements.discs(color: Self.train) {
            #expect(Array(image[x: Int(point.x), y: Int(point.y)]) == [0x1F, 0x77, 0xB4], "marker at \(point)")
        }
        // Text is drawn: the title row holds dark legend ink.
        let ink = (0..<image.width).flatMap { x in (0..<30).map { y in image[x: x, y: y] } }.filter { $0.allSatisfy { $0 < 0x60 } }
        #expect(ink.count > 50)
    }

    @Test func nonFiniteValuesLeaveGapsAndEmptyHistoriesSaySo() throws {
        let gappy = History([["loss": 1], ["loss": 0.8], ["loss": .nan], ["loss": 0.5], ["loss": .infinity], ["loss": 0.3]])
        let elements = try SVGElements.parse(gappy.svg())
        #expect(elements.discs(color: Self.train).count == 4)
        #expect(elements.lines(color: Self.train).map(\.count).sorted() == [2, 2])  // legend sample and epochs 1-2; 4 and 6 stand alone
        #expect(try SVGElements.parse(History([]).svg()).texts.contains("no epochs recorded yet"))
        #expect(try SVGElements.parse(History([["loss": .nan]]).svg()).texts.contains("no finite values"))
        #expect(History([]).image().width > 0)
    }

    @Test func callbackRedrawsTheFileAfterEveryEpoch() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-curves-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let svgURL = folder.appendingPathComponent("curves.svg"), pngURL = folder.appendingPathComponent("curves.png")
        let curves = try TrainingCurves(url: svgURL, title: "tiny")
        let picture = try TrainingCurves(url: pngURL)
        let probe = FileProbe { try String(contentsOf: svgURL, encoding: .utf8) }
        let x = Tensor([0, 0, 0, 1, 1, 0, 1, 1], shape: [4, 2], on: .cpu)
        let y = Tensor([0, 1, 1, 0], shape: [4, 1], on: .cpu)
        let model = try Sequential([Dense(4, activation: .tanh), Dense(1)], inputShape: [2], device: .cpu, seed: 1)
        try model.compile(optimizer: SGD(learningRate: 0.1), loss: MeanSquaredError())
        let history = try model.fit(x, y, epochs: 3, batchSize: 2, callbacks: [curves, picture, probe], verbosity: .silent)
        // After epoch e the file showed e points.
        #expect(try probe.seen.map { try SVGElements.parse($0).discs(color: Self.train).count } == [1, 2, 3])
        #expect(try String(contentsOf: svgURL, encoding: .utf8) == history.svg(title: "tiny"))
        #expect(try Data(contentsOf: pngURL) == PNG.encode(history.image()))
        #expect(curves.writeError == nil && curves.history.epochs.count == 3)
        #expect(throws: PictureFormatError.self) { try TrainingCurves(url: folder.appendingPathComponent("curves.pdf")) }
        #expect(throws: PictureFormatError.self) { try history.plot(to: folder.appendingPathComponent("curves.jpg")) }
    }
}

/// Reads a file at the end of every epoch (after the callbacks before it have written it).
final class FileProbe: Callback {
    let read: () throws -> String
    var seen: [String] = []
    init(_ read: @escaping () throws -> String) { self.read = read }
    func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        seen.append((try? read()) ?? "")
        return false
    }
}
