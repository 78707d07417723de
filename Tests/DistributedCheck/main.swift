import Flint
import Foundation

// Runs under `mpirun` for the distributed tests (DistributedTests), or alone as the one-process
// reference:
//
//     flint-distributed-check train FOLDER DEVICE    20 steps of an MLP; writes FOLDER/rank-R.json
//     flint-distributed-check die FOLDER DEVICE      rank 1 kills itself in the middle of training
//     flint-distributed-check mismatch FOLDER DEVICE rank 1 uses another batch size
//     flint-distributed-check stall FOLDER DEVICE    rank 1 stops answering in the middle of training
//     flint-distributed-check world                  prints the world size and MPI library

let arguments = CommandLine.arguments
let world = ProcessGroup.world
guard arguments.count >= 2 else { exit(2) }
if arguments[1] == "world" {
    print("size \(world.size) rank \(world.rank) library \(world.libraryPath ?? "none")")
    exit(0)
}
guard arguments.count == 4 else { exit(2) }
let folder = URL(fileURLWithPath: arguments[2])
let device = try Device.named(arguments[3])

/// Kills rank 1 at its fourth step, in "die" mode.
final class Fragile: Model {
    let body = Sequential([Dense(16, activation: .relu), Dense(4)])
    var steps = 0
    override func forward(_ x: Tensor, training: Bool) -> Tensor { body(x, training: training) }
    override func trainStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
        steps += 1
        if arguments[1] == "die", ProcessGroup.world.rank == 1, steps == 4 { kill(getpid(), SIGKILL) }
        if arguments[1] == "stall", ProcessGroup.world.rank == 1, steps == 4 { sleep(3600) }
        try super.trainStep(batch, logs: logs)
    }
}

// 320 training and 64 validation samples of 12 features, four classes; global batch 32.
var state: UInt64 = 17
var features: [Float] = []
for _ in 0..<(384 * 12) {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    features.append(Float(state >> 40) * 0x1p-24 * 2 - 1)
}
let labels = (0..<384).map { Int32(features[$0 * 12] > 0 ? 1 : 0) + (features[$0 * 12 + 1] > 0 ? 2 : 0) }
let x = Tensor(features, shape: [384, 12], on: .cpu), y = Tensor(int32: labels, shape: [384], on: .cpu)

let model = Fragile()
try model.build(inputShape: [12], device: device, seed: 3)
try model.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])
let batchSize = arguments[1] == "mismatch" && world.rank == 1 ? 16 : 32
do {
    let history = try model.fit(x.slice(axis: 0, 0..<320), y.slice(axis: 0, 0..<320), epochs: 2, batchSize: batchSize,
                                validationData: (x.slice(axis: 0, 320..<384), y.slice(axis: 0, 320..<384)),
                                schedule: .cosine(period: 2), verbosity: .silent, seed: 5)
    let weights = model.parameters.flatMap { $0.value.toArray() }
    let report: [String: Any] = ["rank": world.rank, "size": world.size, "weights": weights.map(Double.init),
                                 "history": history.epochs.map { $0.mapValues(Double.init) }]
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        .write(to: folder.appendingPathComponent("rank-\(world.rank).json"))
} catch {
    FileHandle.standardError.write(Data("rank \(world.rank): \(error)\n".utf8))
    exit(3)
}
