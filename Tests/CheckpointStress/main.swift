import Flint
import Foundation

// Writes checkpoints into a folder as fast as it can, until killed: the test of crash-safe
// writes (PersistenceTests) kills it at random moments and checks what it left. Every
// parameter of the checkpoint after epoch i holds the value i, so a torn file cannot pass.
//
//     flint-checkpoint-stress FOLDER

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: flint-checkpoint-stress FOLDER\n".utf8))
    exit(2)
}
let folder = URL(fileURLWithPath: CommandLine.arguments[1])
do {
    let model = try Sequential([Dense(256, activation: .relu), Dense(256, activation: .relu), Dense(256)],
                               inputShape: [256], device: .cpu, seed: 0)
    try model.compile(optimizer: Adam())
    let keeper = ModelCheckpoint(directory: folder, keepLast: 3)
    try keeper.trainingBegan(model: model)
    let latest = try Checkpoint.latest(in: folder)
    var epoch = latest?.epoch ?? 0
    var history = latest?.history ?? History()
    while true {
        epoch += 1
        for parameter in model.parameters { parameter.assign(.full(parameter.shape, value: Float(epoch), on: .cpu)) }
        history.append(["loss": Float(epoch)])
        model.history = history
        _ = try keeper.epochEnded(epoch - 1, logs: [:], model: model)
    }
} catch {
    FileHandle.standardError.write(Data("flint-checkpoint-stress: \(error)\n".utf8))
    exit(1)
}
