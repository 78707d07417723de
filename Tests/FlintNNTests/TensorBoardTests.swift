import Flint
import Foundation
import Testing

/// Reads TensorBoard event files from the TFRecord and protobuf specifications alone, sharing
/// no code with the writer: its CRC-32C is computed bit by bit.
enum EventFileReader {
    struct Failure: Error, CustomStringConvertible { let description: String }

    struct Image: Equatable { var height = 0, width = 0, colorspace = 0, png: [UInt8] = [] }

    struct Event {
        var wallTime = 0.0
        var step = 0
        var fileVersion: String?
        /// Scalars and images in the order they appear.
        var scalars: [(tag: String, value: Float)] = []
        var images: [(tag: String, image: Image)] = []
    }

    static func crc32c(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    static func unmask(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- 0xA282_EAD8
        return (rotated << 15) | (rotated >> 17)
    }

    static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The payloads of every record, each checked against both of its CRCs.
    static func records(_ data: Data) throws -> [[UInt8]] {
        let bytes = [UInt8](data)
        var position = 0, payloads: [[UInt8]] = []
        while position < bytes.count {
            guard position + 12 <= bytes.count else { throw Failure(description: "truncated header at \(position)") }
            let header = bytes[position..<(position + 8)]
            guard unmask(UInt32(littleEndian(bytes[(position + 8)..<(position + 12)]))) == crc32c(header) else {
                throw Failure(description: "length CRC at \(position)")
            }
            let length = Int(littleEndian(header))
            let start = position + 12
            guard start + length + 4 <= bytes.count else { throw Failure(description: "truncated payload at \(position)") }
            let payload = Array(bytes[start..<(start + length)])
            guard unmask(UInt32(littleEndian(bytes[(start + length)..<(start + length + 4)]))) == crc32c(payload) else {
                throw Failure(description: "payload CRC at \(position)")
            }
            payloads.append(payload)
            position = start + length + 4
        }
        return payloads
    }

    enum Field { case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32) }

    /// A protobuf message's fields in order.
    static func fields(_ bytes: [UInt8]) throws -> [(Int, Field)] {
        var position = 0, result: [(Int, Field)] = []
        func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard position < bytes.count, shift < 64 else { throw Failure(description: "bad varint") }
                let byte = bytes[position]
                position += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard position + count <= bytes.count else { throw Failure(description: "field overruns message") }
            defer { position += count }
            return bytes[position..<(position + count)]
        }
        while position < bytes.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: result.append((field, .varint(try varint())))
            case 1: result.append((field, .fixed64(littleEndian(try take(8)))))
            case 2: result.append((field, .bytes(Array(try take(Int(try varint()))))))
            case 5: result.append((field, .fixed32(UInt32(littleEndian(try take(4))))))
            default: throw Failure(description: "wire type \(key & 7)")
            }
        }
        return result
    }

    static func event(_ payload: [UInt8]) throws -> Event {
        var event = Event()
        for (field, value) in try fields(payload) {
            switch (field, value) {
            case let (1, .fixed64(bits)): event.wallTime = Double(bitPattern: bits)
            case let (2, .varint(step)): event.step = Int(Int64(bitPattern: step))
            case let (3, .bytes(text)): event.fileVersion = String(decoding: text, as: UTF8.self)
            case let (5, .bytes(summary)):
                for case let (1, .bytes(entry)) in try fields(summary) {
                    var tag = "", scalar: Float?, image: Image?
                    for (field, value) in try fields(entry) {
                        switch (field, value) {
                        case let (1, .bytes(text)): tag = String(decoding: text, as: UTF8.self)
                        case let (2, .fixed32(bits)): scalar = Float(bitPattern: bits)
                        case let (4, .bytes(picture)):
                            var decoded = Image()
                            for (field, value) in try fields(picture) {
                                switch (field, value) {
                                case let (1, .varint(v)): decoded.height = Int(v)
                                case let (2, .varint(v)): decoded.width = Int(v)
                                case let (3, .varint(v)): decoded.colorspace = Int(v)
                                case let (4, .bytes(png)): decoded.png = png
                                default: throw Failure(description: "image field \(field)")
                                }
                            }
                            image = decoded
                        default: throw Failure(description: "value field \(field)")
                        }
                    }
                    if let scalar { event.scalars.append((tag, scalar)) }
                    if let image { event.images.append((tag, image)) }
                }
            default: throw Failure(description: "event field \(field)")
            }
        }
        return event
    }

    /// Every event of the single event file in `folder`.
    static func events(in folder: URL) throws -> [Event] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains("tfevents") }
        guard names.count == 1 else { throw Failure(description: "expected one event file in \(folder.path), found \(names)") }
        return try records(Data(contentsOf: folder.appendingPathComponent(names[0]))).map(event)
    }
}

@Suite struct TensorBoardEvents {
    @Test func crc32cMatchesPublishedVectors() {
        // RFC 3720 (iSCSI) appendix B.4 and the usual check string.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map(UInt8.init)) == 0x46DD_794E)
        var state: UInt32 = 1
        let noise = (0..<1000).map { _ -> UInt8 in state = state &* 1_103_515_245 &+ 12345; return UInt8(state >> 24) }
        #expect(CRC32C.checksum(noise) == EventFileReader.crc32c(noise))
        #expect(EventFileReader.unmask(CRC32C.masked(0xDEAD_BEEF)) == 0xDEAD_BEEF)
    }

    @Test func scalarEventHasTheExpectedBytes() throws {
        let event = [UInt8](TensorBoardEvent.scalars([("a", 1)], step: 3, wallTime: 0))
        // wall_time (field 1, 64-bit) 0.0; step (field 2, varint) 3; summary (field 5) holding
        // value (field 1) { tag "a"; simple_value (field 2, 32-bit) 1.0 }.
        #expect(event == [0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x03, 0x2A, 0x0A, 0x0A, 0x08,
                          0x0A, 0x01, 0x61, 0x15, 0x00, 0x00, 0x80, 0x3F])
        let record = [UInt8](TensorBoardEvent.record(Data(event)))
        #expect(record.count == 8 + 4 + event.count + 4)
        #expect(Array(record[0..<8]) == [UInt8(event.count), 0, 0, 0, 0, 0, 0, 0])
        #expect(try EventFileReader.records(Data(record)) == [event])
        var damaged = record
        damaged[14] ^= 1
        #expect(throws: EventFileReader.Failure.self) { try EventFileReader.records(Data(damaged)) }
    }

    @Test func writerRoundTripsScalarsAndImages() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-events-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let writer = try EventFileWriter(directory: folder, wallTime: 1_700_000_000.25)
        #expect(writer.url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        try writer.addScalars([("loss", 0.5), ("nan", .nan), ("big", 3e38)], step: 1 << 40, wallTime: 1_700_000_001.5)
        let picture = PixelImage(width: 3, height: 2, format: .rgb, pixels: Array(0..<18))
        try writer.addImage(picture, tag: "grid", step: 7, wallTime: 1_700_000_002)

        let events = try EventFileReader.events(in: folder)
        try #require(events.count == 3)
        #expect(events[0].fileVersion == "brain.Event:2" && events[0].wallTime == 1_700_000_000.25)
        #expect(events[1].step == 1 << 40 && events[1].wallTime == 1_700_000_001.5)
        #expect(events[1].scalars.map(\.tag) == ["loss", "nan", "big"])
        #expect(events[1].scalars[0].value == 0.5 && events[1].scalars[1].value.isNaN && events[1].scalars[2].value == 3e38)
        #expect(events[2].step == 7 && events[2].images.map(\.tag) == ["grid"])
        let image = events[2].images[0].image
        #expect(image.height == 2 && image.width == 3 && image.colorspace == 3 && image.png == [UInt8](PNG.encode(picture)))
    }

    @Test func callbackLogsEpochsStepsAndValidationLikeKeras() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = DataRNG(seed: 5)
        let n = 40
        let x = Tensor((0..<(n * 2)).map { _ in rng.uniform() }, shape: [n, 2], on: .cpu)
        let y = Tensor((0..<n).map { _ in rng.uniform() }, shape: [n, 1], on: .cpu)
        let model = try Sequential([Dense(1)], inputShape: [2], device: .cpu, seed: 1)
        try model.compile(optimizer: SGD(learningRate: 0.1), loss: MeanSquaredError(), metrics: [.meanAbsoluteError])
        let board = try TensorBoard(logDirectory: folder, updateEvery: 2)
        // 30 training samples in batches of 8: 4 steps per epoch, 12 in all.
        let history = try model.fit(x, y, epochs: 3, batchSize: 8, validationSplit: 0.25, callbacks: [board],
                                    schedule: .exponential(gamma: 0.5), verbosity: .silent)
        try board.addImage(PixelImage(width: 1, height: 1, format: .grey, level: 9), tag: "sample", step: 3)
        #expect(board.writeError == nil)

        let train = try EventFileReader.events(in: folder.appendingPathComponent("train"))
        let validation = try EventFileReader.events(in: folder.appendingPathComponent("validation"))
        #expect(train.first?.fileVersion == "brain.Event:2" && validation.first?.fileVersion == "brain.Event:2")
        func series(_ events: [EventFileReader.Event], _ tag: String) -> [Int: Float] {
            events.reduce(into: [:]) { found, event in
                for scalar in event.scalars where scalar.tag == tag { found[event.step] = scalar.value }
            }
        }
        for key in ["loss", "mae", "learning_rate"] {
            #expect(series(train, "epoch_" + key) == [1: history[key][0], 2: history[key][1], 3: history[key][2]], "\(key)")
        }
        for key in ["loss", "mae"] {
            #expect(series(validation, "epoch_" + key) == [1: history["val_" + key][0], 2: history["val_" + key][1],
                                                           3: history["val_" + key][2]], "val_\(key)")
        }
        #expect(series(validation, "epoch_learning_rate").isEmpty)
        // Running means every 2 steps; at an epoch's last step they equal the epoch's values.
        let batchLoss = series(train, "batch_loss")
        #expect(batchLoss.keys.sorted() == [2, 4, 6, 8, 10, 12])
        #expect(batchLoss[4] == history["loss"][0] && batchLoss[12] == history["loss"][2])
        #expect(Set(series(train, "batch_learning_rate").values).count > 1)
        #expect(train.last?.images.first?.tag == "sample" && train.last?.step == 3)
    }

    @Test func badSettingsFailBeforeTraining() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-tb-\(UUID().uuidString)")
        #expect(throws: FileWriteError.self) { try TensorBoard(logDirectory: folder, updateEvery: 0) }
        #expect(throws: FileWriteError.self) { try TensorBoard(logDirectory: URL(fileURLWithPath: "/proc/flint-no/tb")) }
    }
}
