import FlintCore
import FlintData
import FlintDistributed
import Foundation

/// Data-parallel training over a process group, as `fit` runs it when started by `mpirun`:
/// every rank holds the whole model, takes its share of each global batch (the shuffle is the
/// same everywhere: same seed), and before each optimizer step the gradients are summed over the
/// ranks, each weighted by its share of the batch, so the step is the one a single process
/// would take on the whole global batch. Gradients travel in flattened buckets of about 1 MiB, in
/// the same parameter order on every rank; they are reduced after backward, not overlapped with
/// it. BatchNorm uses each rank's own batch statistics (as PyTorch's DDP without SyncBatchNorm)
/// and its moving statistics are averaged at the end of every epoch.
struct DataParallel {
    let group: ProcessGroup

    /// Bucket size for gradient all-reduces, in floats (1 MiB): Open MPI's shared-memory transport
    /// ran 1 MiB all-reduces at about 2 GB/s here but fell to a fifth of that from 4 MiB
    /// (`flint-bench distributed`).
    static let bucketFloats = 1 << 18

    /// Stops every rank with the same error when they disagree about the run.
    func checkConfiguration(_ model: Model, samples: Int, batchSize: Int, epochs: Int, seed: UInt64) throws {
        let fields: [(String, String)] = [
            ("model", model.typeName + model.namedParameters.map { "\($0.path)\($0.parameter.shape)" }.joined()),
            ("training samples", String(samples)), ("batch size", String(batchSize)), ("epochs", String(epochs)), ("seed", String(seed)),
        ]
        // Each field's hash as two 24-bit halves, which float32 holds exactly.
        let local = fields.flatMap { _, value -> [Float] in
            let hash = fnv1a(value)
            return [Float(hash & 0xFFFFFF), Float((hash >> 24) & 0xFFFFFF)]
        }
        let all = group.allGather(local)
        var differing: [String] = []
        for (index, (name, _)) in fields.enumerated() {
            let values = (0..<group.size).map { rank in [all[rank * local.count + 2 * index], all[rank * local.count + 2 * index + 1]] }
            if Set(values.map { "\($0)" }).count > 1 { differing.append(name) }
        }
        guard differing.isEmpty else {
            throw DistributedError.mismatchedConfiguration(differing.joined(separator: ", "))
        }
        guard samples >= group.size else {
            throw ModelError.invalidArgument("\(samples) training samples cannot be shared among \(group.size) processes")
        }
    }

    /// Makes every rank start from rank 0's weights, state, generators and optimizer state.
    func broadcastState(of model: Model) {
        for parameter in model.parameters {
            let value = group.broadcast(parameter.value)
            Tensor.withoutGrad { parameter.assign(value) }
        }
        var positions = model.namedGenerators.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0.generator.position)) }
        group.broadcast(&positions)
        for ((_, generator), position) in zip(model.namedGenerators, positions) { generator.position = UInt64(position.bitPattern) }
        // Optimizer state: rank 0 says which slots exist, then sends them.
        let parameters = model.parameters
        for (_, optimizer) in model.namedOptimizers {
            var manifest: [String] = []
            if group.rank == 0 {
                manifest = ["\(optimizer.iterations)"] + parameters.indices.flatMap { index in
                    optimizer.slots(of: parameters[index]).keys.sorted().map { "\(index)/\($0)" }
                }
            }
            let text = String(decoding: group.broadcast(bytes: Array(manifest.joined(separator: "\n").utf8)), as: UTF8.self)
            let lines = text.split(separator: "\n").map(String.init)
            optimizer.iterations = lines.first.flatMap(Int.init) ?? 0
            for line in lines.dropFirst() {
                let parts = line.split(separator: "/", maxSplits: 1)
                guard parts.count == 2, let index = Int(parts[0]), parameters.indices.contains(index) else { continue }
                let parameter = parameters[index], name = String(parts[1])
                let local = optimizer.slot(name, of: parameter) ?? Tensor.zeros(parameter.shape, on: parameter.value.device)
                optimizer.setSlot(name, of: parameter, to: group.broadcast(local))
            }
        }
    }

    /// Averages BatchNorm-style state over the ranks.
    func averageState(of model: Model) {
        for parameter in model.stateParameters {
            let value = group.allAverage(parameter.value)
            Tensor.withoutGrad { parameter.assign(value) }
        }
    }

    private func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// How a process takes its share of every global batch under data parallelism: an even split,
/// earlier ranks taking one more row when it does not divide.
enum BatchShard: Sendable {
    /// Training: a batch too small to give every rank a row (an epoch's last) is skipped by all.
    case training(ProcessGroup)
    /// Evaluation: every sample counts once; a batch smaller than the group goes to rank 0.
    case evaluation(ProcessGroup)

    /// This rank's rows of `batch` and their fraction of it; nil when it has none.
    func share(of batch: HostBatch) -> (HostBatch, Float)? {
        let group: ProcessGroup
        switch self {
        case .training(let g), .evaluation(let g): group = g
        }
        let count = batch.count
        guard count >= group.size else {
            if case .evaluation = self, group.rank == 0 { return (batch, 1) }
            return nil
        }
        let base = count / group.size, extra = count % group.size
        let start = group.rank * base + Swift.min(group.rank, extra)
        let length = base + (group.rank < extra ? 1 : 0)
        return (batch.rows(start..<(start + length)), Float(length) / Float(count))
    }
}

/// Set by `fit` around each training step of a data-parallel run: optimizer steps taken inside
/// sum every rank's gradients, each weighted by its share of the global batch, before updating.
final class GradientReduction: @unchecked Sendable {
    @TaskLocal static var current: GradientReduction?

    let group: ProcessGroup
    let weight: Float

    init(group: ProcessGroup, weight: Float) {
        self.group = group
        self.weight = weight
    }

    /// Replaces each parameter's gradient with the weighted sum over the ranks (a parameter
    /// without a gradient on this rank contributes zeros).
    func reduce(_ parameters: [Parameter]) {
        Tensor.withoutGrad {
            var bucket: [Float] = []
            var pending: [Parameter] = []
            func flush() {
                guard !pending.isEmpty else { return }
                group.allSum(&bucket)
                var offset = 0
                for parameter in pending {
                    let count = parameter.count
                    let sum = Tensor(Array(bucket[offset..<(offset + count)]), shape: parameter.shape, on: parameter.value.device)
                    parameter.value.zeroGrad()
                    parameter.setGradient(sum)
                    offset += count
                }
                bucket.removeAll(keepingCapacity: true)
                pending.removeAll(keepingCapacity: true)
            }
            for parameter in parameters {
                // Weighted on the host while copying into the bucket: no extra device pass.
                if let grad = parameter.grad {
                    bucket += grad.toArray().map { $0 * weight }
                } else {
                    bucket += repeatElement(0, count: parameter.count)
                }
                pending.append(parameter)
                if bucket.count >= DataParallel.bucketFloats { flush() }
            }
            flush()
        }
    }
}

extension StepLogs {
    /// The values over every rank's batches: the sums and sample counts are added up first, so
    /// every rank reports the same numbers.
    func values(over group: ProcessGroup) -> [String: Float] {
        guard group.isDistributed else { return values() }
        return reducedValues { group.allSum(&$0) }
    }
}
