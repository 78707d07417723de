import Flint
import Foundation
import Testing

/// The README's code, kept compiling (and the first example running) so the README stays true.
@Suite struct ReadmeExamples {
    /// Runs where an OpenCL device exists, and must under FLINT_REQUIRE_OPENCL=1.
    @Test(.enabled(if: NNDevices.openCLAvailable || NNDevices.openCLRequired, "no OpenCL device (set FLINT_REQUIRE_OPENCL=1 to fail instead)"))
    func libraryExampleRuns() throws {
        let device = try Device.named("opencl")          // or .cpu, "opencl:1"; Device.default honours FLINT_DEVICE
        let x = Tensor.normal([128, 784], seed: 1, on: device)
        let w = Tensor.uniform([784, 10], low: -0.1, high: 0.1, seed: 2, on: device)
        let b = Tensor.zeros([10], on: device)
        let probabilities = (x.matmul(w) + b).softmax(axis: -1)   // broadcasting, on the device
        let predicted = probabilities.argmax(axis: 1)              // int32 class indices
        print(predicted.toInt32Array().prefix(8))
        Device.with(.cpu) { print(Tensor.arange(0, 5).square()) } // scoped device override

        #expect(predicted.toInt32Array().count == 128 && predicted.toInt32Array().allSatisfy { (0..<10).contains($0) })
        Device.with(.cpu) { #expect(Tensor.arange(0, 5).square().toArray() == [0, 1, 4, 9, 16]) }
    }

    /// docs/models.md's sequence and regularisation snippets, compiled.
    func modelZooSnippets(x: Tensor, y: Tensor) throws {
        // Sequences: a GRU over MNIST rows, Keras style.
        let rnn = try Sequential([GRU(128), Dense(10)], inputShape: [28, 28], device: try Device.default)
        try rnn.compile(optimizer: Adam(), loss: SparseCategoricalCrossEntropy(fromLogits: true), metrics: [.accuracy])

        // Regularisation: per-layer penalties and early stopping.
        let wide = try Sequential([Dense(512, activation: .relu, kernelRegularizer: .l2(1e-3)), Dense(10)],
                                  inputShape: [64], device: .cpu)
        // try wide.fit(x, y, epochs: 200, validationSplit: 0.2,
        //              callbacks: [EarlyStopping(monitor: "val_loss", patience: 10, restoreBestWeights: true)])
        try wide.fit(x, y, epochs: 200, validationSplit: 0.2,
                     callbacks: [EarlyStopping(monitor: "val_loss", patience: 10, restoreBestWeights: true)])
    }

    /// docs/watching.md's code, compiled.
    func watchingExample(model: Model, x: Tensor, y: Tensor, xTest: Tensor, yTest: Tensor, samples: [[Float]]) throws {
        let curves = try TrainingCurves(url: URL(fileURLWithPath: "curves.svg"), title: "mlp")
        let history = try model.fit(x, y, epochs: 10, validationSplit: 0.1,
                                    callbacks: [curves, try CSVLogger(url: URL(fileURLWithPath: "run.csv")),
                                                try TensorBoard(logDirectory: URL(fileURLWithPath: "tb"), updateEvery: 100)])
        try history.plot(to: URL(fileURLWithPath: "curves.png"))
        let matrix = try ConfusionMatrix(outputs: try model.predict(xTest), labels: yTest)
        print(matrix.table, matrix.report, separator: "\n")
        try matrix.write(to: URL(fileURLWithPath: "confusion.svg"))
        try ImageGrid.write(samples, columns: 8, to: URL(fileURLWithPath: "samples.png"))
    }

    /// docs/models.md's CNN recipe, compiled.
    func cnnRecipe(x: Tensor, y: Tensor) throws {
        let cnn = try Sequential([RandomTranslation(heightFactor: 0.05, widthFactor: 0.05),
                                  Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(poolSize: (2, 2)), Flatten(),
                                  Dense(128, activation: .relu), Dense(10)],
                                 inputShape: [28, 28, 1], device: try Device.default)
        try cnn.compile(optimizer: Adam(learningRate: 2e-3),
                        loss: SparseCategoricalCrossEntropy(fromLogits: true, labelSmoothing: 0.1), metrics: [.accuracy])
        // try cnn.fit(x, y, epochs: 3, batchSize: 64, schedule: .cosine(period: 3))
        try cnn.fit(x, y, epochs: 3, batchSize: 64, schedule: .cosine(period: 3))
    }
}

extension ReadmeExamples {
    /// README's `withError` example: a request of the wrong width is answered with the message.
    @Test func withErrorExample() throws {
        let model = try Sequential([Dense(10)], inputShape: [4], device: .cpu)
        let request = Tensor.zeros([1, 5], on: .cpu)
        var answer = ""
        func respond(_ logits: Tensor) { answer = "\(logits.shape)" }
        func respond(_ message: String) { answer = message }
        do {
            let logits = try withError { model([request]) }
            respond(logits)
        } catch let error as ArgumentError {
            respond(error.message)   // "matmul: shapes [1, 5] and [4, 10] do not multiply (inner 5 vs 4, …)"
        }
        #expect(answer.hasPrefix("matmul: shapes [1, 5] and [4, 10] do not multiply (inner 5 vs 4"), "got: \(answer)")
    }
}
