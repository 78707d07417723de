import Flint
import Foundation
import Testing

/// `withError` turns argument checks into thrown errors, for a service that must survive a bad
/// request. Outside a scope the same checks still stop the process (see `ShapeErrors`).
@Suite struct WithErrorScopes {
    @Test(arguments: TestDevices.all) func badMatmulThrowsItsMessage(device: Device) {
        let a = Tensor.zeros([2, 3], on: device), b = Tensor.zeros([4, 5], on: device)
        #expect {
            try withError { a.matmul(b) }
        } throws: { error in
            guard let error = error as? ArgumentError else { return false }
            return error.message.contains("matmul: shapes [2, 3] and [4, 5] do not multiply")
        }
    }

    @Test func goodWorkReturnsItsValue() throws {
        let product = try withError { Tensor([1, 2], shape: [1, 2], on: .cpu).matmul(Tensor([3, 4], shape: [2, 1], on: .cpu)) }
        #expect(product.toArray() == [11])
    }

    /// The ops after the failure run on a NaN placeholder of the shape matmul would have had, and
    /// the first failure is the one thrown, not what followed from it.
    @Test func workAfterTheFailureRunsAndTheFirstErrorIsThrown() {
        var shape: [Int] = []
        #expect {
            try withError {
                let y = Tensor.zeros([2, 3], on: .cpu).matmul(Tensor.zeros([4, 5], on: .cpu))
                shape = y.shape
                let z = (y + Tensor.zeros([7], on: .cpu)).relu().sum()
                #expect(z.item().isNaN)
            }
        } throws: { error in
            (error as? ArgumentError)?.message.hasPrefix("matmul:") == true
        }
        #expect(shape == [2, 5])
    }

    @Test func theArgumentErrorWinsOverWhatTheBodyThrows() {
        struct Later: Error {}
        #expect(throws: ArgumentError.self) {
            try withError {
                _ = Tensor.zeros([3], on: .cpu).reshaped(to: [2, 2])
                throw Later()
            }
        }
        #expect(throws: Later.self) { try withError { throw Later() } }
    }

    /// A training step on a bad batch leaves the parameters and their gradients as they were.
    @Test func aFailedStepLeavesTheParametersAlone() throws {
        let layer = Dense(2)
        let model = try Sequential([layer], inputShape: [3], device: .cpu, seed: 1)
        let optimizer = SGD(learningRate: 0.1)
        let before = layer.kernel.value.toArray()
        #expect(throws: ArgumentError.self) {
            try withError {
                model([Tensor.ones([4, 5], on: .cpu)], training: true).sum().backward()
                optimizer.step(model)
            }
        }
        #expect(layer.kernel.value.toArray() == before)
        #expect(layer.kernel.grad == nil)
        _ = model
    }

    /// The scope is task-local: child tasks share it, other tasks and threads do not see it.
    @Test func theScopeCoversChildTasksOnly() async throws {
        await #expect(throws: ArgumentError.self) {
            try await withError {
                async let bad = Tensor.zeros([2], on: .cpu) * Tensor.zeros([3], on: .cpu)
                _ = await bad
            }
        }
        let seenByThread = try await withError {
            await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: ErrorScope.current != nil) }.start()
            }
        }
        #expect(!seenByThread)
        let seenByDetachedTask = try await withError { await Task.detached { ErrorScope.current != nil }.value }
        #expect(!seenByDetachedTask)
        #expect(ErrorScope.current == nil)
    }
}
