import Foundation
import Testing
@testable import FlintData

@Suite struct SafeTensorsFormat {
    /// A file whose header is `json` (padded as given) followed by `data`.
    static func file(_ json: String, data: [UInt8] = []) -> Data {
        var bytes = Data()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(json.utf8))
        bytes.append(contentsOf: data)
        return bytes
    }

    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        let tensors = [SafeTensorsFile.Tensor(name: "layers.0.kernel", shape: [2, 3], floats: [1, -2, 3.5, 0, .infinity, -0.25]),
                       SafeTensorsFile.Tensor(name: "scalar", shape: [], floats: [7]),
                       SafeTensorsFile.Tensor(name: "empty", shape: [0, 4], floats: []),
                       SafeTensorsFile.Tensor(name: "steps", shape: [1], int64s: [123_456_789_012])]
        let data = try SafeTensorsFile.encode(tensors, metadata: ["format": "flint", "note": "quote \" and \\ and é"])
        // The data starts 8-byte aligned, and the header is JSON Foundation can read too.
        let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect((8 + headerLength) % 8 == 0)
        #expect((try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength)))) is [String: Any])

        let file = try SafeTensorsFile(data: data)
        #expect(file.metadata == ["format": "flint", "note": "quote \" and \\ and é"])
        #expect(file.entries.map(\.name) == ["layers.0.kernel", "scalar", "empty", "steps"])
        #expect(try file.floats(file["layers.0.kernel"]!) == [1, -2, 3.5, 0, .infinity, -0.25])
        #expect(file["scalar"]!.shape == [])
        #expect(try file.floats(file["scalar"]!) == [7])
        #expect(file["empty"]!.shape == [0, 4] && file["empty"]!.range.isEmpty)
        #expect(file["steps"]!.dtype == .i64)
        #expect(try file.floats(file["steps"]!) == [123_456_789_012])
    }

    @Test func halfAndBrainFloatWiden() throws {
        // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal half), +inf.
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00]
        var bytes: [UInt8] = []
        for h in half { bytes += [UInt8(h & 0xFF), UInt8(h >> 8)] }
        let f16 = try SafeTensorsFile(data: Self.file(#"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]}}"#, data: bytes))
        #expect(try f16.floats(f16["h"]!) == [1, -2, 65504, 0x1p-24, .infinity])
        let bf16 = try SafeTensorsFile(data: Self.file(#"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, data: [0x80, 0x3F, 0x00, 0xC0]))
        #expect(try bf16.floats(bf16["b"]!) == [1, -2])
    }

    /// Each malformed file is a `DataError` whose message says what is wrong.
    @Test(arguments: [
        (Data([1, 2, 3]), "too short"),
        ({ var d = Data(); withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { d.append(contentsOf: $0) }; return d + Data("{}".utf8) }(), "past the end"),
        (file("not json"), "not a JSON object"),
        (file("{\"a\": }"), "not valid JSON"),
        (file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), "duplicate key"),
        (file(#"{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "unknown dtype"),
        (file(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "overflows"),
        // Found by fuzzing the IDX readers: a zero dimension must not hide the others' overflow.
        (file(#"{"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#), "overflows"),
        (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "needs 8 bytes"),
        (file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), "run past the end"),
        (file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#, data: Array(repeating: 0, count: 6)), "overlaps"),
        (file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), "hole"),
        (file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: Array(repeating: 0, count: 6)), "belong to no tensor"),
        (file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "invalid shape"),
        (file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]), "invalid data_offsets"),
        (file(#"{"__metadata__":{"k":1}}"#), "not a string"),
        (file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}"#), "out of range"),
    ] as [(Data, String)])
    func malformedFilesAreClearErrors(_ data: Data, _ expected: String) {
        let error = #expect(throws: DataError.self) { try SafeTensorsFile(data: data, path: "bad.safetensors") }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.contains("bad.safetensors") && message.contains(expected), "\(message)")
    }

    @Test func writerRejectsDuplicatesAndWrongSizes() {
        let a = SafeTensorsFile.Tensor(name: "a", shape: [1], floats: [1])
        #expect(throws: DataError.self) { try SafeTensorsFile.encode([a, a]) }
        #expect(throws: DataError.self) { try SafeTensorsFile.encode([SafeTensorsFile.Tensor(name: "b", dtype: .f32, shape: [2], bytes: Data([0]))]) }
    }

    @Test func missingFilesAndFoldersAreUnreadable() throws {
        #expect(throws: DataError.self) { try SafeTensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/x.safetensors")) }
        #expect(throws: DataError.self) { try SafeTensorsFile(contentsOf: FileManager.default.temporaryDirectory) }
    }
}
