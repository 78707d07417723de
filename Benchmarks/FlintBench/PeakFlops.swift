import CBLAS
import CPeakFlops
import Dispatch
import Foundation

/// The CPU's fp32 peak, measured: an FMA loop on every core at once (the arithmetic limit the
/// share-of-peak figures divide by), and for reference OpenBLAS's sgemm at 2048³ (what a tuned
/// library reaches on large work). Both take the best of several short runs, which is the
/// figure least disturbed by other processes.
struct PeakFlops {
    var flopsPerSecond: Double
    var isa: String
    var threads: Int
    var sgemmFlopsPerSecond: Double

    static func measure(seconds: Double) -> PeakFlops {
        let threads = ProcessInfo.processInfo.environment["FLINT_THREADS"].flatMap(Int.init).map { max(1, $0) }
            ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        let iterations = 2_000_000
        var best = 0.0
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 0.5e9)
        var runs = 0
        repeat {
            let start = DispatchTime.now().uptimeNanoseconds
            let total = Locked(0.0)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                let flops = flint_peak_fma_loop(iterations)
                total.add(flops)
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, total.value / elapsed)
            runs += 1
        } while runs < 5 || DispatchTime.now().uptimeNanoseconds < deadline
        return PeakFlops(flopsPerSecond: best, isa: String(cString: flint_peak_fma_isa()), threads: threads,
                         sgemmFlopsPerSecond: sgemm(size: 2048, seconds: seconds * 0.5))
    }

    private static func sgemm(size n: Int, seconds: Double) -> Double {
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        let n32 = blasint(n)
        var best = 0.0
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        var runs = 0
        repeat {
            let start = DispatchTime.now().uptimeNanoseconds
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n32, n32, n32, 1, a, n32, b, n32, 0, &c, n32)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if runs > 0 { best = max(best, 2 * Double(n * n * n) / elapsed) }  // the first warms OpenBLAS's threads
            runs += 1
        } while runs < 4 || DispatchTime.now().uptimeNanoseconds < deadline
        return best
    }

    /// The peak rows: the FMA loop (the divisor) and sgemm, as `ModelMeasurement`s of model "peak".
    var rows: [ModelMeasurement] {
        [ModelMeasurement(device: "cpu", model: "peak", workload: "fma_\(isa)_\(threads)t", samplesPerSecond: 0,
                          firstMilliseconds: 0, peakFlopsPerSecond: flopsPerSecond),
         ModelMeasurement(device: "cpu", model: "peak", workload: "sgemm_2048", samplesPerSecond: 0,
                          firstMilliseconds: 0, peakShare: sgemmFlopsPerSecond / flopsPerSecond,
                          peakFlopsPerSecond: sgemmFlopsPerSecond)]
    }
}

/// A value several threads add to.
private final class Locked: @unchecked Sendable {
    private let lock = NSLock()
    private var sum: Double
    init(_ value: Double) { sum = value }
    func add(_ x: Double) { lock.lock(); sum += x; lock.unlock() }
    var value: Double { lock.lock(); defer { lock.unlock() }; return sum }
}
