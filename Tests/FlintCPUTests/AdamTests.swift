import CVectorMath
import Testing

/// `flint_adam` on counts large enough for its streaming stores (and the scalar steps that align
/// them) against the same update run in small pieces, which never stream: every element the same
/// bits, for each misalignment of the arrays, written beside the inputs or over them.
@Suite struct AdamTests {
    @Test(arguments: [0, 1, 3, 7], [false, true])
    func streamingStoresKeepTheBits(misalignment: Int, inPlace: Bool) {
        let count = (1 << 18) + 1_029
        func run(pieces: Int) -> [[Float]] {
            // w, g, m, v, then w1, m1, v1: each 64-byte aligned, then shifted by `misalignment` floats.
            let arrays = (0..<7).map { _ in
                UnsafeMutableRawPointer.allocate(byteCount: (count + 8) * 4, alignment: 64)
                    .bindMemory(to: Float.self, capacity: count + 8) + misalignment
            }
            defer { for array in arrays { (array - misalignment).deallocate() } }
            for (seed, array) in arrays.prefix(4).enumerated() {
                for i in 0..<count {
                    let value = Float((i * 7919 + seed * 104_729) % 2001 - 1000) / 1000
                    array[i] = seed == 3 ? abs(value) : value
                }
            }
            let (w1, m1, v1) = inPlace ? (arrays[0], arrays[2], arrays[3]) : (arrays[4], arrays[5], arrays[6])
            for start in stride(from: 0, to: count, by: pieces) {
                let (w, g, m, v) = (UnsafePointer(arrays[0]), UnsafePointer(arrays[1]), UnsafePointer(arrays[2]),
                                    UnsafePointer(arrays[3]))
                flint_adam(min(pieces, count - start), w + start, g + start, m + start, v + start, w1 + start, m1 + start, v1 + start,
                           0.9, 0.999, 1e-7, 0.01, 0.037, 15.8, 0.9995)
            }
            return [w1, m1, v1].map { Array(UnsafeMutableBufferPointer(start: $0, count: count)) }
        }
        let streamed = run(pieces: count), plain = run(pieces: 1_000)
        for (name, (a, b)) in zip(["w", "m", "v"], zip(streamed, plain)) {
            let differing = (0..<count).first { a[$0].bitPattern != b[$0].bitPattern }
            #expect(differing == nil, "\(name) differs at element \(differing ?? -1)")
        }
    }
}
