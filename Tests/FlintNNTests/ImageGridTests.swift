import Flint
import Foundation
import Testing

@Suite struct ImageGridTests {
    @Test func tinyGridRoundTripsThroughAFile() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("flint-imagegrid-\(UUID().uuidString)/nested")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let url = folder.appendingPathComponent("grid.png")
        // Three 2×2 images in 2 columns: out-of-range values are clamped.
        let images: [[Float]] = [[0, 1, 0.5, 2], [-1, 0.25, 0.75, 1], [1, 1, 1, 1]]
        try ImageGrid.write(images, columns: 2, to: url)

        let grid = try ImageGrid.image(images, columns: 2)
        #expect(grid.width == 2 * 3 + 1 && grid.height == 2 * 3 + 1 && grid.format == .grey)
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
        #expect(grid.pixels == expected)
        // The file is that picture as PNG (the encoder's own tests decode PNG independently).
        #expect(try Data(contentsOf: url) == PNG.encode(grid))
        // Nothing but the picture is left in the folder (the temporary file was renamed).
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["grid.png"])

        // Writing again replaces the file.
        try ImageGrid.write([[1]], columns: 4, to: url)
        #expect(try Data(contentsOf: url) == PNG.encode(PixelImage(width: 3, height: 3, format: .grey,
                                                                   pixels: [s, s, s, s, 255, s, s, s, s])))
    }

    @Test func tensorsAndValueRangesAreAccepted() throws {
        // [n, h, w, 1] in [-1, 1] (tanh outputs): -1 → 0, 0 → 128, 1 → 255.
        let images = Tensor([-1, 0, 1, 0.5, 1, 1, 1, 1], shape: [2, 2, 2, 1], on: .cpu)
        let grid = try ImageGrid.image(images, columns: 1, range: -1...1)
        #expect(grid.width == 4 && grid.height == 7)
        #expect(Array(grid.pixels[5..<7]) == [0, 128] && Array(grid.pixels[9..<11]) == [255, 191])
        // Non-square images need their size.
        let wide = try ImageGrid.image([[0, 0, 0, 1, 1, 1]], height: 2, width: 3, columns: 1)
        #expect(wide.width == 5 && wide.height == 4)
    }

    @Test func scaleEnlargesPixelsAndCaptionsGoUnderTiles() throws {
        let grid = try ImageGrid.image([[0, 1, 1, 0]], columns: 1, scale: 3)
        #expect(grid.width == 8 && grid.height == 8)
        #expect(Array(grid.pixels[(1 * 8 + 1)..<(1 * 8 + 7)]) == [0, 0, 0, 255, 255, 255])
        #expect(Array(grid.pixels[(6 * 8 + 1)..<(6 * 8 + 7)]) == [255, 255, 255, 0, 0, 0])

        // A 2×2 tile with a 3-character caption: the tile widens to 18 pixels and the caption
        // strip (15 rows) holds white ink on black; the image is centred above it.
        let captioned = try ImageGrid.image([[1, 1, 1, 1]], columns: 1, captions: ["7>1"])
        #expect(captioned.width == 18 + 2 && captioned.height == 2 + 15 + 2)
        #expect(captioned[x: 9, y: 1] == [255] && captioned[x: 1, y: 1] == [0])
        let strip = (3..<18).flatMap { y in (1..<19).map { x in captioned[x: x, y: y].first! } }
        #expect(Set(strip) == [0, 255] && strip.filter { $0 == 255 }.count > 10)
        #expect(throws: ImageGridError.captionCount(images: 1, captions: 2)) {
            try ImageGrid.image([[1]], columns: 1, captions: ["a", "b"])
        }
    }

    @Test func badInputIsAClearError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-imagegrid-\(UUID().uuidString).png")
        #expect(throws: ImageGridError.noImages) { try ImageGrid.write([[Float]](), columns: 4, to: url) }
        #expect(throws: ImageGridError.noImages) { try ImageGrid.write(Tensor.zeros([0, 28, 28], on: .cpu), columns: 4, to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
        #expect(ImageGridError.noImages.description.contains("no images"))
        #expect(throws: ImageGridError.invalidColumns(0)) { try ImageGrid.image([[0]], columns: 0) }
        #expect(throws: ImageGridError.invalidScale(0)) { try ImageGrid.image([[0]], columns: 1, scale: 0) }
        #expect(throws: ImageGridError.notSquare(pixels: 3)) { try ImageGrid.image([[0, 0, 0]], columns: 1) }
        #expect(throws: ImageGridError.wrongPixelCount(index: 1, expected: 4, got: 1)) {
            try ImageGrid.image([[0, 0, 0, 0], [0]], columns: 2)
        }
        #expect(throws: ImageGridError.badShape([4, 4])) { try ImageGrid.image(Tensor.zeros([4, 4], on: .cpu), columns: 2) }
        let pgm = url.deletingPathExtension().appendingPathExtension("pgm")
        #expect(throws: ImageGridError.notPNG(path: pgm.path)) { try ImageGrid.write([[0]], columns: 1, to: pgm) }
        #expect(!FileManager.default.fileExists(atPath: pgm.path))
    }
}
