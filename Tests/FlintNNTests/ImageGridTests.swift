import Flint
import Foundation
import Testing

@Suite struct ImageGridTests {
    /// Splits a P5 file into its header fields and pixel bytes.
    private func parse(_ data: Data) throws -> (width: Int, height: Int, maxValue: Int, pixels: [UInt8]) {
        var fields: [String] = [], index = data.startIndex, current = ""
        while fields.count < 4, index < data.endIndex {
            let byte = data[index]
            index += 1
            if byte == 0x20 || byte == 0x0A {
                if !current.isEmpty { fields.append(current); current = "" }
            } else {
                current.append(Character(UnicodeScalar(byte)))
            }
        }
        try #require(fields.count == 4 && fields[0] == "P5", "header \(fields)")
        return (Int(fields[1])!, Int(fields[2])!, Int(fields[3])!, Array(data[index...]))
    }

    @Test func tinyGridRoundTripsThroughAFile() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("flint-imagegrid-\(UUID().uuidString)/nested")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let url = folder.appendingPathComponent("grid.pgm")
        // Three 2×2 images in 2 columns: out-of-range values are clamped.
        let images: [[Float]] = [[0, 1, 0.5, 2], [-1, 0.25, 0.75, 1], [1, 1, 1, 1]]
        try ImageGrid.write(images, columns: 2, to: url)

        let (width, height, maxValue, pixels) = try parse(Data(contentsOf: url))
        #expect(width == 2 * 3 + 1 && height == 2 * 3 + 1 && maxValue == 255)
        let s: UInt8 = 128  // separator
        let expected: [UInt8] = [
            s, s, s, s, s, s, s,
            s, 0, 255, s, 0, 64, s,
            s, 128, 255, s, 191, 255, s,
            s, s, s, s, s, s, s,
            s, 255, 255, s, s, s, s,
            s, 255, 255, s, s, s, s,
            s, s, s, s, s, s, s,
        ]
        #expect(pixels == expected)
        // Nothing but the picture is left in the folder (the temporary file was renamed).
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["grid.pgm"])

        // Writing again replaces the file.
        try ImageGrid.write([[1]], columns: 4, to: url)
        let again = try parse(Data(contentsOf: url))
        #expect(again.width == 3 && again.height == 3 && again.pixels == [s, s, s, s, 255, s, s, s, s])
    }

    @Test func tensorsAndValueRangesAreAccepted() throws {
        // [n, h, w, 1] in [-1, 1] (tanh outputs): -1 → 0, 0 → 128, 1 → 255.
        let images = Tensor([-1, 0, 1, 0.5, 1, 1, 1, 1], shape: [2, 2, 2, 1], on: .cpu)
        let (width, height, _, pixels) = try parse(ImageGrid.pgm(images, columns: 1, range: -1...1))
        #expect(width == 4 && height == 7)
        #expect(Array(pixels[5..<7]) == [0, 128] && Array(pixels[9..<11]) == [255, 191])
        // Non-square images need their size.
        let wide = try parse(ImageGrid.pgm([[0, 0, 0, 1, 1, 1]], height: 2, width: 3, columns: 1))
        #expect(wide.width == 5 && wide.height == 4)
    }

    @Test func badInputIsAClearError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-imagegrid-\(UUID().uuidString).pgm")
        #expect(throws: ImageGridError.noImages) { try ImageGrid.write([[Float]](), columns: 4, to: url) }
        #expect(throws: ImageGridError.noImages) { try ImageGrid.write(Tensor.zeros([0, 28, 28], on: .cpu), columns: 4, to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
        #expect(ImageGridError.noImages.description.contains("no images"))
        #expect(throws: ImageGridError.invalidColumns(0)) { try ImageGrid.pgm([[0]], columns: 0) }
        #expect(throws: ImageGridError.notSquare(pixels: 3)) { try ImageGrid.pgm([[0, 0, 0]], columns: 1) }
        #expect(throws: ImageGridError.wrongPixelCount(index: 1, expected: 4, got: 1)) {
            try ImageGrid.pgm([[0, 0, 0, 0], [0]], columns: 2)
        }
        #expect(throws: ImageGridError.badShape([4, 4])) { try ImageGrid.pgm(Tensor.zeros([4, 4], on: .cpu), columns: 2) }
    }
}
