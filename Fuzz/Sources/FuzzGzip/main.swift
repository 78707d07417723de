import FlintData
import Foundation
import FuzzSupport

/// One libFuzzer input: any bytes as a gzipped file, then what inflates as an IDX file, as
/// `IDXArray(contentsOf:)` reads `.gz` files.
func fuzzGzip(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    guard Gzip.isCompressed(data), let inflated = try? Gzip.decompress(data, path: "fuzz.gz") else { return 0 }
    _ = try? IDXArray(data: inflated)
    return 0
}

runFuzzer { start, count in fuzzGzip(start, count) }
