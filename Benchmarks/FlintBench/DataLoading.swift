import ArgumentParser
import Flint
import Foundation

/// How long the MNIST-family datasets take to be ready for training from their gzipped files:
/// both splits opened (decoded into memory as bytes) and the training images' mean and
/// standard deviation computed, as `flint train` does before its first step; beside it, the
/// float loader (`ImageDataset.load`) the models used before.
struct DataLoading: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Time loading MNIST and Fashion-MNIST (run from a release build).")

    @Option(help: "Folder holding mnist/ and fashion-mnist/ (default: where flint train looks).")
    var dataDir: String?

    @Option(help: "Repetitions of each measurement; the median is shown.")
    var repeats = 5

    @Flag(help: "One JSON object per measurement instead of a table.")
    var json = false

    func run() throws {
        let directory = DataDirectory(explicit: dataDir)
        var rows: [[String]] = []
        for dataset in ImageDataset.allCases {
            func median(_ body: () throws -> Void) rethrows -> Double {
                var times: [Double] = []
                for _ in 0..<Swift.max(repeats, 1) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    try body()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                return times.sorted()[times.count / 2]
            }
            let bytes = try median {
                let train = try dataset.samples(.train, from: directory)
                _ = try dataset.samples(.test, from: directory)
                _ = try train.inputStatistics(scale: 1.0 / 255)
            }
            let floats = try median {
                _ = try dataset.load(.train, from: directory)
                _ = try dataset.load(.test, from: directory)
            }
            if json {
                print("{\"dataset\":\"\(dataset.rawValue)\",\"bytes_seconds\":\(bytes),\"float_loader_seconds\":\(floats)}")
            } else {
                rows.append([dataset.rawValue, String(format: "%.3f", bytes), String(format: "%.3f", floats), String(format: "%.1f×", floats / bytes)])
            }
        }
        if !json {
            print(TextTable(header: ["dataset", "bytes + statistics s", "float loader s", "faster"], rows: rows).rendered)
        }
    }
}
