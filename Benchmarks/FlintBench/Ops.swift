import ArgumentParser
import CBLAS
import Flint
import Foundation

/// Primitive ops on every device: matmul, an element-wise op, a reduction, softmax.
struct Ops: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark primitive ops on each device.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Comma-separated square matmul sizes.")
    var matmulSizes = "256,512,1024,2048"

    @Option(help: "Comma-separated matmul shapes MxKxN (A is M×K), each optionally :ta or :tb (that operand stored transposed, as in a layer's backward).")
    var matmulShapes = ""

    @Option(help: "Elements for the element-wise and reduction cases.")
    var elements = 1 << 24

    func run() throws {
        var rows: [Measurement] = []
        let sizes = matmulSizes.split(separator: ",").compactMap { Int($0) }
        let shapes = try matmulShapes.split(separator: ",").map { text in
            guard let shape = MatmulShape(String(text)) else {
                throw ValidationError("--matmul-shapes: '\(text)' is not MxKxN, MxKxN:ta or MxKxN:tb with operands below 2^30 elements")
            }
            return shape
        }
        for device in try options.selectedDevices() {
            let openStart = DispatchTime.now().uptimeNanoseconds
            try device.open()
            let openMs = Double(DispatchTime.now().uptimeNanoseconds - openStart) / 1e6
            rows.append(Measurement(device: device.identifier, op: "open", shape: "-", firstMilliseconds: openMs,
                                    medianMilliseconds: openMs, runs: 1))
            Device.with(device) {
                for n in sizes { rows.append(matmul(n, on: device)) }
                for shape in shapes { rows.append(matmul(shape, on: device)) }
                rows += convolution(on: device)
                rows += elementwise(on: device)
                rows += axisOps(on: device)
                rows.append(dispatch(on: device))
            }
            if !options.json { FileHandle.standardError.write(Data("measured \(device)\n".utf8)) }
        }
        if let n = sizes.first(where: { $0 == 1024 }) ?? sizes.last { rows.append(rawBLAS(n)) }
        rows.append(streamTriad())
        report(rows, json: options.json)
        if !options.json { printPeakShares(rows, devices: try options.selectedDevices()) }
    }

    /// Per OpenCL device: the estimated fp32 peak and each GFLOP/s row's share of it.
    private func printPeakShares(_ rows: [Measurement], devices: [Device]) {
        for device in devices {
            guard let peak = PeakEstimate(device.info) else { continue }
            print("\n" + peak.line(device.info))
            let table = rows.filter { $0.device == device.identifier }.compactMap { row -> [String]? in
                guard let rate = row.gflops else { return nil }
                return [row.op, row.shape, String(format: "%.1f", rate), String(format: "%.1f%%", rate / peak.gflops * 100)]
            }
            print(TextTable(header: ["op", "shape", "GFLOP/s", "of peak"], rows: table).rendered)
        }
    }

    private func row(_ device: Device, _ op: String, _ shape: String, flops: Double? = nil, bytes: Double? = nil,
                     _ body: () -> Void) -> Measurement {
        let timing = measure(on: device, seconds: options.seconds, body)
        return Measurement(device: device.identifier, op: op, shape: shape, firstMilliseconds: timing.first,
                           medianMilliseconds: timing.median, runs: timing.runs, flops: flops, bytes: bytes)
    }

    private func matmul(_ n: Int, on device: Device) -> Measurement {
        let a = Tensor.uniform([n, n], low: -1, high: 1, seed: 1), b = Tensor.uniform([n, n], low: -1, high: 1, seed: 2)
        return row(device, "matmul", "\(n)x\(n)x\(n)", flops: 2 * Double(n * n * n)) { _ = a.matmul(b) }
    }

    /// `shape`'s product, its operands uniform in [-1, 1].
    private func matmul(_ shape: MatmulShape, on device: Device) -> Measurement {
        let (m, k, n) = (shape.m, shape.k, shape.n)
        let a = Tensor.uniform(shape.transposeA ? [k, m] : [m, k], low: -1, high: 1, seed: 1)
        let b = Tensor.uniform(shape.transposeB ? [n, k] : [k, n], low: -1, high: 1, seed: 2)
        return row(device, "matmul", shape.text, flops: 2 * Double(m) * Double(n) * Double(k)) {
            _ = a.matmul(b, transposeSelf: shape.transposeA, transposeOther: shape.transposeB)
        }
    }

    /// The seed CNN's first layers at batch 128: conv2d 3×3 (1 → 32 channels) on 28×28 and a
    /// 2×2 max pool on its 26×26×32 output, forward alone and forward + backward; and a middle
    /// layer's 3×3 convolution, 32 → 32 channels on 16×16 at batch 64, forward + backward with
    /// both gradients (the filter's and the input's), as every layer but the first trains.
    private func convolution(on device: Device) -> [Measurement] {
        let x = Tensor.uniform([128, 28, 28, 1], seed: 8)
        let filter = Tensor.uniform([3, 3, 1, 32], low: -0.3, high: 0.3, seed: 9)
        let activations = Tensor.uniform([128, 26, 26, 32], seed: 10)
        let convFlops = 2 * Double(128 * 26 * 26 * 32 * 9)
        let poolBytes = Double(128 * 26 * 26 * 32 * 4 + 128 * 13 * 13 * 32 * 4)
        let middle = Tensor.uniform([64, 16, 16, 32], seed: 11)
        let middleFilter = Tensor.uniform([3, 3, 32, 32], low: -0.1, high: 0.1, seed: 12)
        let middleFlops = 2 * Double(64 * 14 * 14 * 32 * 288)
        return [
            row(device, "conv2d forward", "128x28x28x1 * 3x3x1x32", flops: convFlops) { _ = x.conv2d(filter) },
            row(device, "conv2d forward+backward", "128x28x28x1 * 3x3x1x32", flops: 2 * convFlops) {
                // As in training: the kernel needs a gradient, the input image does not.
                let w = filter.requiringGrad()
                x.conv2d(w).sum().backward()
                _ = w.grad
            },
            row(device, "conv2d forward+backward", "64x16x16x32 * 3x3x32x32", flops: 3 * middleFlops) {
                let (input, w) = (middle.requiringGrad(), middleFilter.requiringGrad())
                input.conv2d(w).sum().backward()
                _ = (input.grad, w.grad)
            },
            row(device, "maxPool2d 2x2 forward", "128x26x26x32", bytes: poolBytes) { _ = activations.maxPool2d(size: (2, 2)) },
            row(device, "maxPool2d 2x2 forward+backward", "128x26x26x32", bytes: 2 * poolBytes) {
                let a = activations.requiringGrad()
                a.maxPool2d(size: (2, 2)).sum().backward()
                _ = a.grad
            },
        ]
    }

    private func elementwise(on device: Device) -> [Measurement] {
        let n = elements
        let x = Tensor.uniform([n / 1024, 1024], low: -1, high: 1, seed: 3)
        let bias = Tensor.uniform([1024], low: -1, high: 1, seed: 4)
        let bytes = Double(n * 4 * 2)  // one read, one write: what a fused kernel must move
        return [
            row(device, "relu", "\(n)", bytes: bytes) { _ = x.relu() },
            row(device, "relu(x + b) fused", "\(n)", bytes: bytes) { _ = x.adding(bias, then: .relu) },
            row(device, "relu(x + b) two ops", "\(n)", bytes: bytes) { _ = (x + bias).relu() },
        ]
    }

    private func axisOps(on device: Device) -> [Measurement] {
        let n = elements
        let x = Tensor.uniform([n], low: -1, high: 1, seed: 5)
        let logits = Tensor.uniform([n / 1024, 1024], low: -4, high: 4, seed: 6)
        let batch = Tensor.uniform([128, 10], low: -4, high: 4, seed: 7)
        return [
            row(device, "sum", "\(n)", bytes: Double(n * 4)) { _ = x.sum() },
            row(device, "sum(axis: 0)", "\(n / 1024)x1024", bytes: Double(n * 4)) { _ = logits.sum(axis: 0) },
            row(device, "softmax", "\(n / 1024)x1024", bytes: Double(n * 8)) { _ = logits.softmax(axis: 1) },
            row(device, "softmax", "128x10", bytes: Double(128 * 10 * 8)) { _ = batch.softmax(axis: 1) },
        ]
    }

    /// What an op costs besides its work: 100 dependent additions of one-element tensors (the
    /// median ms of the row is µs per op × 0.1). Small models at batch 1, an LSTM's timesteps
    /// and every launch on a GPU pay this per op: tensor bookkeeping, allocation, the launch.
    private func dispatch(on device: Device) -> Measurement {
        let x = Tensor([1], shape: [1]), one = Tensor([1], shape: [1])
        return row(device, "dispatch: 100 dependent adds", "1") {
            var y = x
            for _ in 0..<100 { y = y + one }
            _ = y
        }
    }

    /// STREAM's triad `a = b + s·c` on the host over every core: the memory bandwidth the
    /// element-wise rows are judged against (bytes counted as STREAM does: 3 arrays).
    private func streamTriad() -> Measurement {
        let n = elements
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        b.initialize(repeating: 1, count: n)
        c.initialize(repeating: 2, count: n)
        a.initialize(repeating: 0, count: n)
        let tasks = ProcessInfo.processInfo.activeProcessorCount
        // Addresses cross into the concurrent closure as integers (pointers are not Sendable).
        let (pa, pb, pc) = (UInt(bitPattern: a), UInt(bitPattern: b), UInt(bitPattern: c))
        let timing = measure(on: .cpu, seconds: options.seconds) {
            DispatchQueue.concurrentPerform(iterations: tasks) { task in
                let a = UnsafeMutablePointer<Float>(bitPattern: pa)!
                let (b, c) = (UnsafePointer<Float>(bitPattern: pb)!, UnsafePointer<Float>(bitPattern: pc)!)
                for i in (n * task / tasks)..<(n * (task + 1) / tasks) { a[i] = b[i] + 3 * c[i] }
            }
        }
        return Measurement(device: "cpu", op: "STREAM triad (host)", shape: "\(n)", firstMilliseconds: timing.first,
                           medianMilliseconds: timing.median, runs: timing.runs, bytes: Double(n * 12))
    }

    /// `cblas_sgemm` called directly: the CPU's own ceiling for the matmul rows.
    private func rawBLAS(_ n: Int) -> Measurement {
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        let timing = measure(on: .cpu, seconds: options.seconds) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
        }
        return Measurement(device: "cpu", op: "cblas_sgemm (raw)", shape: "\(n)x\(n)x\(n)", firstMilliseconds: timing.first,
                           medianMilliseconds: timing.median, runs: timing.runs, flops: 2 * Double(n * n * n))
    }
}

/// A product for `--matmul-shapes`: `MxKxN` (A is M×K), `:ta` or `:tb` when that operand is stored
/// transposed (as a layer's backward reads its input or its kernel).
struct MatmulShape {
    let text: String
    let m: Int, k: Int, n: Int
    let transposeA: Bool, transposeB: Bool

    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let sizes = parts[0].split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        let layout = parts.count > 1 ? String(parts[1]) : ""
        // Each operand and the product below 2³⁰ elements (4 GiB): more is a typo, not a benchmark.
        func fits(_ a: Int, _ b: Int) -> Bool {
            a < 1 << 30 && b < 1 << 30 && a.multipliedReportingOverflow(by: b).partialValue < 1 << 30
        }
        guard parts.count <= 2, sizes.count == 3, let m = sizes[0], let k = sizes[1], let n = sizes[2], m > 0, k > 0, n > 0,
              fits(m, k), fits(k, n), fits(m, n), ["", "ta", "tb"].contains(layout) else { return nil }
        (self.text, self.m, self.k, self.n) = (text, m, k, n)
        (transposeA, transposeB) = (layout == "ta", layout == "tb")
    }
}
