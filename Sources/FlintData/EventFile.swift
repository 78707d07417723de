import Foundation

/// Writes TensorBoard event files: a sequence of records, each a little-endian 64-bit length,
/// the masked CRC-32C of those 8 bytes, the payload, and the payload's masked CRC-32C (the
/// TFRecord framing), whose payloads are `Event` protocol buffers. Only the few fields that
/// scalars and images need are written, by hand:
///
///     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; float simple_value = 2; Image image = 4; }
///     Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
///
/// TensorBoard reads every file whose name contains `tfevents` in a run folder;
/// `tensorboard --logdir DIR` shows one run per folder below DIR.
public final class EventFileWriter {
    /// The event file written.
    public let url: URL
    private let file: AppendingFile
    nonisolated(unsafe) private static var opened = 0
    private static let lock = NSLock()

    /// Creates `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in `directory` (made if
    /// missing) and writes the version record that opens every event file.
    public init(directory: URL, wallTime: Double = Date().timeIntervalSince1970) throws {
        let serial = Self.lock.withLock { Self.opened += 1; return Self.opened }
        var host = [UInt8](repeating: 0, count: 256)
        let named = host.withUnsafeMutableBufferPointer { gethostname(UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), 255) } == 0
        let hostName = named ? String(decoding: host.prefix { $0 != 0 }, as: UTF8.self) : "localhost"
        url = directory.appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(hostName).\(getpid()).\(serial)")
        file = try AppendingFile(url: url, truncate: true)
        try file.append(TensorBoardEvent.record(TensorBoardEvent.fileVersion(wallTime: wallTime)))
    }

    /// Appends one event (an encoded `Event` message) as a record.
    public func write(event: Data) throws {
        try file.append(TensorBoardEvent.record(event))
    }

    /// Scalars at `step`, in one event.
    public func addScalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        try write(event: TensorBoardEvent.scalars(values, step: step, wallTime: wallTime))
    }

    /// A picture at `step`, stored as PNG (TensorBoard's Images tab shows it).
    public func addImage(_ image: PixelImage, tag: String, step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        try write(event: TensorBoardEvent.image(image, tag: tag, step: step, wallTime: wallTime))
    }
}

/// The bytes of TensorBoard events and records (pure functions; `EventFileWriter` saves them).
public enum TensorBoardEvent {
    /// The first event of every file.
    public static let fileVersion = "brain.Event:2"

    /// `payload` framed as one TFRecord.
    public static func record(_ payload: Data) -> Data {
        var length = Data()
        for shift in stride(from: 0, to: 64, by: 8) { length.append(UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64(shift))) }
        var record = length
        record.appendLittleEndian(CRC32C.masked(CRC32C.checksum(length)))
        record.append(payload)
        record.appendLittleEndian(CRC32C.masked(CRC32C.checksum(payload)))
        return record
    }

    /// The event that opens every file, naming the format's version.
    ///
    /// - Parameter wallTime: Seconds since 1970.
    /// - Returns: The serialised `Event` message.
    public static func fileVersion(wallTime: Double) -> Data {
        var event = Protobuf()
        event.double(1, wallTime)
        event.string(3, fileVersion)
        return event.data
    }

    /// An event holding scalar summaries.
    ///
    /// - Parameters:
    ///   - values: Each value with its tag (`loss`, `val_accuracy`).
    ///   - step: The global step they belong to.
    ///   - wallTime: Seconds since 1970.
    /// - Returns: The serialised `Event` message.
    public static func scalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double) -> Data {
        var summary = Protobuf()
        for (tag, value) in values {
            var entry = Protobuf()
            entry.string(1, tag)
            entry.float(2, value)
            summary.message(1, entry)
        }
        return event(summary, step: step, wallTime: wallTime)
    }

    /// An event holding one image summary, encoded as PNG.
    ///
    /// - Parameters:
    ///   - image: The picture.
    ///   - tag: Its name in TensorBoard.
    ///   - step: The global step it belongs to.
    ///   - wallTime: Seconds since 1970.
    /// - Returns: The serialised `Event` message.
    public static func image(_ image: PixelImage, tag: String, step: Int, wallTime: Double) -> Data {
        var picture = Protobuf()
        picture.varint(1, UInt64(image.height))
        picture.varint(2, UInt64(image.width))
        picture.varint(3, UInt64(image.format.channels))
        picture.bytes(4, PNG.encode(image))
        var entry = Protobuf()
        entry.string(1, tag)
        entry.message(4, picture)
        var summary = Protobuf()
        summary.message(1, entry)
        return event(summary, step: step, wallTime: wallTime)
    }

    private static func event(_ summary: Protobuf, step: Int, wallTime: Double) -> Data {
        var event = Protobuf()
        event.double(1, wallTime)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.message(5, summary)
        return event.data
    }
}

/// Protocol-buffer wire format, the handful of field kinds events use.
struct Protobuf {
    private(set) var data = Data()

    private mutating func key(_ field: Int, _ wireType: UInt64) { appendVarint(UInt64(field) << 3 | wireType) }

    private mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            data.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        data.append(UInt8(value))
    }

    mutating func varint(_ field: Int, _ value: UInt64) { key(field, 0); appendVarint(value) }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        let bits = value.bitPattern
        for shift in stride(from: 0, to: 64, by: 8) { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
    }

    mutating func float(_ field: Int, _ value: Float) { key(field, 5); data.appendLittleEndian(value.bitPattern) }

    mutating func bytes(_ field: Int, _ value: Data) {
        key(field, 2)
        appendVarint(UInt64(value.count))
        data.append(value)
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Data(value.utf8)) }

    mutating func message(_ field: Int, _ value: Protobuf) { bytes(field, value.data) }
}

extension Data {
    mutating func appendLittleEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)])
    }
}
