import FlintBackend
import FlintCPU
import Testing

/// The CPU backend flushes denormals to zero (they cost tens of times more per operation on
/// x86), on the serial path and the parallel one, and leaves the caller's thread as it was.
@Suite struct DenormalTests {
    @Test(arguments: [6, 200_000])
    func denormalsAreFlushedToZero(count: Int) {
        let tiny = Float.leastNormalMagnitude / 8  // a denormal
        func value(_ i: Int) -> Float {
            switch i % 3 {
            case 0: tiny
            case 1: -tiny
            default: Float(i)
            }
        }
        let values = (0..<count).map(value)
        let x = makeBuffer(values)
        let out = backend.allocate(byteCount: count * 4)
        backend.unary(.affine(scale: 2, shift: 0), strided(x, [1]), shape: [count], out: out)
        let result = readFloats(out, count: count)
        let wrong = result.indices.first { result[$0] != (values[$0] == Float($0) ? 2 * values[$0] : 0) }
        #expect(wrong == nil, "element \(wrong ?? 0) is \(result[wrong ?? 0])")
        // Read back through the backend, so the compiler cannot fold it: the caller's own
        // arithmetic still produces denormals after the op.
        let readBack = readFloats(x, count: 1)[0]
        #expect(readBack == tiny && readBack * 2 != 0)
    }
}
