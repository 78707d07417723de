import FlintData
import Foundation
import FuzzSupport

/// The file each input is written to: `IDXFile` maps, reads or inflates files, so the whole path
/// (header checks, mapping, gzip through libdeflate or zlib, reads from disk) is what is fuzzed.
/// In /dev/shm where there is one, written with plain `write`: Foundation's `Data.write` fsyncs,
/// which held the target to about 100 executions a second.
let scratch = URL(fileURLWithPath: FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    .appendingPathComponent("flint-fuzz-\(getpid()).idx")

func writeScratch(_ data: Data) {
    let descriptor = open(scratch.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { fatalError("cannot write \(scratch.path)") }
    defer { close(descriptor) }
    let written = data.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
    guard written == data.count else { fatalError("short write to \(scratch.path)") }
}

/// One libFuzzer input: any bytes as an IDX file (gzipped or not), opened in each access mode. An
/// open either throws or gives a file whose first and last rows read back with the header's shape.
func fuzzIDXFile(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    writeScratch(data)
    for access in [IDXFile.Access.automatic, .memory, .disk] {
        guard let file = try? IDXFile(contentsOf: scratch, access: access), file.count > 0 else { continue }
        let rowElements = file.sampleShape.reduce(1, *)
        // A file of empty rows holds nothing to read.
        guard rowElements > 0, let rows = try? file.rows(at: [0, file.count - 1]) else { continue }
        precondition(rows.shape == [2] + file.sampleShape, "rows of shape \(rows.shape) for \(file.shape)")
        precondition(rows.count == 2 * rowElements, "\(rows.count) elements for \(file.shape)")
        _ = rows.withUnsafeBytes { $0.reduce(0, &+) }
    }
    return 0
}

runFuzzer { start, count in fuzzIDXFile(start, count) }
