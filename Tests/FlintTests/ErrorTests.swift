import Flint
import Foundation
import Testing

/// Impossible shapes are programming errors: the process stops with a message naming the op
/// and both shapes. Each case runs in a child process (Swift Testing exit tests).
@Suite struct ShapeErrors {
    @Test func broadcastMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3], on: .cpu) + Tensor.zeros([4], on: .cpu)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("add: shapes [2, 3] and [4] are not broadcastable"), "got: \(message)")
    }

    @Test func matmulMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3], on: .cpu).matmul(Tensor.zeros([4, 5], on: .cpu))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("matmul: shapes [2, 3] and [4, 5]"), "got: \(message)")
    }

    @Test func reshapeMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3], on: .cpu).reshaped(to: [4, 2])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("reshape: cannot reshape [2, 3] (6 elements) to [4, 2]"), "got: \(message)")
    }
}
