import ArgumentParser
import Flint
import Foundation

/// Two trainings in one process on the CPU backend: one after the other, then both at once on
/// two threads. Together they should take no longer than in turn (the cores are shared either
/// way); more means the threads of OpenBLAS and of FlintCPU's loops oversubscribe the cores.
/// The step is an MLP's (784→128 ReLU→10, batch 128, cross-entropy, Adam) written with
/// FlintCore's ops and autograd, so it measures the backend and not a training loop.
struct Concurrency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time two CPU trainings run in turn and at once in one process.")

    @Option(help: "Training steps per run.")
    var steps = 150

    @Option(help: "Repetitions of the pair of measurements (the median is reported).")
    var repeats = 3

    func run() throws {
        var inTurn: [Double] = [], atOnce: [Double] = []
        _ = Self.train(steps: 5)
        for _ in 0..<repeats {
            inTurn.append(Self.seconds { _ = Self.train(steps: steps); _ = Self.train(steps: steps) })
            atOnce.append(Self.seconds {
                let group = DispatchGroup()
                for _ in 0..<2 { DispatchQueue.global().async(group: group) { _ = Self.train(steps: steps) } }
                group.wait()
            })
        }
        let (a, b) = (inTurn.sorted()[repeats / 2], atOnce.sorted()[repeats / 2])
        print(String(format: "two trainings of %d steps: in turn %.2f s, at once %.2f s (at once / in turn = %.2f)", steps, a, b, b / a))
        print("  in turn: " + inTurn.map { String(format: "%.2f", $0) }.joined(separator: " ")
              + "  at once: " + atOnce.map { String(format: "%.2f", $0) }.joined(separator: " "))
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// `steps` Adam steps of the MLP on random data; returns the last loss.
    static func train(steps: Int) -> Float {
        let batch = 128
        var parameters = [Tensor.normal([784, 128], standardDeviation: 0.05, seed: 1, on: .cpu), Tensor.zeros([128], on: .cpu),
                          Tensor.normal([128, 10], standardDeviation: 0.05, seed: 2, on: .cpu), Tensor.zeros([10], on: .cpu)]
        var moments = parameters.map { _ in (m: Tensor?.none, v: Tensor?.none) }
        let x = Tensor.uniform([batch, 784], seed: 3, on: .cpu)
        let labels = Tensor(int32: (0..<batch).map { Int32($0 % 10) }, shape: [batch, 1], on: .cpu)
        var loss: Float = 0
        for step in 1...steps {
            let p = parameters.map { $0.requiringGrad() }
            let hidden = x.matmul(p[0]).adding(p[1], then: .relu)
            let logits = hidden.matmul(p[2]) + p[3]
            let value = -logits.logSoftmax(axis: 1).gather(axis: 1, indices: labels).mean()
            value.backward()
            let t = Float(step)
            let adam = AdamStep(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7,
                                correction1: 1 - Foundation.pow(0.9, t), correction2: 1 - Foundation.pow(0.999, t))
            for i in parameters.indices {
                let updated = Tensor.adamStep(adam, parameter: parameters[i], gradient: p[i].grad!, m: moments[i].m, v: moments[i].v)
                parameters[i] = updated.parameter
                moments[i] = (updated.m, updated.v)
            }
            if step == steps { loss = value.item() }
        }
        return loss
    }
}
