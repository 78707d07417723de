import FlintData
import Foundation
import FuzzSupport

/// One libFuzzer input: any bytes as an IDX file. A parse either throws `DataError` or gives
/// an array whose value count matches its shape; anything else (a trap, an overflow, a bad
/// read under AddressSanitizer) is a crash libFuzzer reports.
func fuzzIDX(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    if let array = try? IDXArray(data: data) {
        precondition(array.values.count == array.shape.reduce(1, *), "IDX shape \(array.shape) with \(array.values.count) values")
    }
    return 0
}

runFuzzer { start, count in fuzzIDX(start, count) }
