import FlintCore
import FlintData
import Foundation

/// Serves one epoch of batches on a device, assembling and uploading the next `depth` of them
/// on a background thread while the caller computes with the current one (PyTorch's
/// `DataLoader` workers and `tf.data`'s `prefetch`). The queue is bounded, so at most `depth + 1`
/// batches exist ahead of the caller; nothing is read back from the device.
///
/// Uploading from another thread is safe on both backends: the CPU backend's memory pool is
/// locked and its primitives run on the calling thread; the OpenCL backend's writes and kernel
/// launches go to its one in-order queue, whose order (not the thread) decides what runs first
/// (a launch sets kernel arguments under the backend's lock). A batch is handed over only after
/// its upload is enqueued, so every step that reads it is queued behind it.
///
/// With `depth` 0 the batches are made on the caller's thread when asked for. Dropping the
/// prefetcher (or `finish()`) stops the thread and waits for it.
final class Prefetcher {
    private let device: Device
    private let queue: Queue?
    /// The caller-thread iterator when `depth` is 0.
    private var inline: ShardedIterator?

    /// With `shard`, each batch is cut to this process's share before it is uploaded.
    /// `check` sees each host batch before it is cut and uploaded (its error ends the epoch).
    init(_ source: any BatchDataset, epoch: Int, device: Device, depth: Int, shard: BatchShard? = nil,
         check: (@Sendable (HostBatch) throws -> Void)? = nil) throws {
        self.device = device
        guard depth > 0 else {
            queue = nil
            inline = ShardedIterator(base: try source.makeBatchIterator(epoch: epoch), shard: shard, check: check)
            return
        }
        let queue = Queue(depth: depth)
        self.queue = queue
        let thread = Thread { queue.produce(source, epoch: epoch, device: device, shard: shard, check: check) }
        thread.name = "flint-prefetch"
        thread.start()
    }

    deinit { finish() }

    /// The next batch, nil at the end of the epoch; rethrows what reading or uploading threw.
    func next() throws -> Dataset.Batch? {
        guard let queue else { return try inline!.next(on: device) }
        return try queue.take()
    }

    /// Stops the producer and waits for it (after an early stop or an error in the step).
    func finish() { queue?.stop() }

    /// The bounded hand-over between the producing thread and the caller.
    private final class Queue: @unchecked Sendable {
        private let depth: Int
        private let condition = NSCondition()
        // Guarded by `condition`:
        private var ready: [Dataset.Batch] = []
        private var producerDone = false
        private var failure: (any Error)?
        private var stopping = false

        init(depth: Int) { self.depth = depth }

        func take() throws -> Dataset.Batch? {
            condition.lock()
            defer { condition.unlock() }
            while ready.isEmpty && !producerDone { condition.wait() }
            if !ready.isEmpty {
                condition.broadcast()
                return ready.removeFirst()
            }
            if let failure { throw failure }
            return nil
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.broadcast()
            while !producerDone { condition.wait() }
            ready.removeAll()
            condition.unlock()
        }

        func produce(_ source: any BatchDataset, epoch: Int, device: Device, shard: BatchShard?,
                     check: (@Sendable (HostBatch) throws -> Void)?) {
            do {
                var iterator = ShardedIterator(base: try source.makeBatchIterator(epoch: epoch), shard: shard, check: check)
                while waitForRoom() {
                    guard let batch = try iterator.next(on: device) else { break }
                    condition.lock()
                    ready.append(batch)
                    condition.broadcast()
                    condition.unlock()
                }
            } catch {
                condition.lock()
                failure = error
                condition.unlock()
            }
            condition.lock()
            producerDone = true
            condition.broadcast()
            condition.unlock()
        }

        /// Waits until fewer than `depth` batches are waiting; false when asked to stop.
        private func waitForRoom() -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while ready.count >= depth && !stopping { condition.wait() }
            return !stopping
        }
    }
}

/// A host iterator whose batches are cut to this process's share and uploaded.
private struct ShardedIterator {
    var base: any BatchIterator
    let shard: BatchShard?
    let check: (@Sendable (HostBatch) throws -> Void)?

    /// The next batch with rows for this process, uploaded; nil at the end of the epoch.
    mutating func next(on device: Device) throws -> Dataset.Batch? {
        while let host = try base.next() {
            try check?(host)
            guard let shard else { return try Dataset.Batch(host, on: device) }
            guard let (rows, share) = shard.share(of: host) else { continue }
            var batch = try Dataset.Batch(rows, on: device)
            batch.shareOfGlobalBatch = share
            return batch
        }
        return nil
    }
}
