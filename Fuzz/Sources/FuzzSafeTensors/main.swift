import FlintData
import Foundation
import FuzzSupport

/// One libFuzzer input: any bytes as a safetensors file. A parse either throws `DataError` or
/// gives entries whose byte ranges match their dtype and shape and lie inside the data, which
/// are then read (floats for F32 entries) to catch an out-of-bounds read under AddressSanitizer.
func fuzzSafeTensors(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    guard let file = try? SafeTensorsFile(data: data, path: "fuzz.safetensors") else { return 0 }
    for entry in file.entries {
        precondition(entry.range.count == entry.count * entry.dtype.byteCount, "\(entry.name): \(entry.range) for \(entry.shape) \(entry.dtype)")
        let bytes = file.bytes(entry)
        precondition(bytes.count == entry.range.count, "\(entry.name): read \(bytes.count) bytes of \(entry.range.count)")
        if entry.dtype == .f32, let floats = try? file.floats(entry) {
            precondition(floats.count == entry.count, "\(entry.name): \(floats.count) floats for \(entry.count)")
        }
    }
    return 0
}

runFuzzer { start, count in fuzzSafeTensors(start, count) }
