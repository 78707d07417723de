import CFloatMode
import CWorkers
import Foundation

/// Splitting work across cores with FlintCPU's worker threads (CWorkers). Every body runs with
/// denormals flushed to zero (see `flushingDenormals`), on worker and calling threads alike.
enum Parallel {
    /// Threads to use: `FLINT_THREADS` when set (several processes sharing a machine, as ranks
    /// of a distributed run do, each take their part), else every core.
    static let cores = ProcessInfo.processInfo.environment["FLINT_THREADS"].flatMap(Int.init).map { max(1, $0) }
        ?? max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Work smaller than this many elements runs on the calling thread. A job on the spinning
    /// workers costs a few microseconds, so a quarter of libdispatch's old 65,536 pays: MLP
    /// training +7%, the rest within noise (medians of alternating runs).
    static let threshold = 16_384
    /// Smallest piece of work handed to one thread.
    static let minimumChunk = 8_192

    /// How many tasks to split `count` elements into: 1 below `threshold`, else chunks of at
    /// least `minimumChunk`, at most four per core.
    @inline(__always)
    static func taskCount(forElements count: Int, minimumChunk: Int = minimumChunk) -> Int {
        guard cores > 1, count >= threshold else { return 1 }
        return max(1, min(count / minimumChunk, cores * 4))
    }

    /// Runs `body(task)` for `task in 0..<tasks`, concurrently when `tasks > 1`.
    @inline(__always)
    static func run(tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 {
            if tasks == 1 { flushingDenormals { body(0) } }
        } else {
            concurrentPerform(tasks, body)
        }
    }

    /// Runs `body(task)` for `task in 0..<tasks`: concurrently when the tasks together cover
    /// at least `threshold` elements of work, else in order on the calling thread.
    @inline(__always)
    static func forEachTask(_ tasks: Int, work: Int, _ body: (Int) -> Void) {
        if tasks > 1 && cores > 1 && work >= threshold {
            concurrentPerform(tasks, body)
        } else {
            flushingDenormals { for task in 0..<tasks { body(task) } }
        }
    }

    /// Splits `0..<count` into even contiguous ranges and runs `body` on each, concurrently
    /// when the count is large enough to be worth it.
    @inline(__always)
    static func forEachRange(count: Int, minimumChunk: Int = minimumChunk, _ body: (Range<Int>) -> Void) {
        let tasks = taskCount(forElements: count, minimumChunk: minimumChunk)
        if tasks == 1 {
            flushingDenormals { body(0..<count) }
            return
        }
        run(tasks: tasks) { task in
            body(range(task, of: tasks, count: count))
        }
    }

    /// Runs `body(task)` for `task in 0..<tasks` on FlintCPU's worker threads and the calling
    /// thread (see flint_workers.h; a nested or concurrent call runs its tasks in order on its
    /// own thread). The body is not escaped: the call returns after every task has finished.
    static func concurrentPerform(_ tasks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { pointer in
                flushingDenormals {
                    flint_workers_run(cores, tasks, { context, task in
                        context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(task)
                    }, pointer)
                }
            }
        }
    }

    /// Runs `body` with the thread's denormal results flushed to zero and denormal inputs read
    /// as zero, then restores the thread's mode. Float32 arithmetic on denormals is tens of times
    /// slower on x86 and they carry no useful signal in training: decaying Adam moments of
    /// dead units sank the seed CNN's second epoch to 0.65x the first's speed. TensorFlow's
    /// CPU kernels run the same way.
    @inline(__always)
    static func flushingDenormals<Result>(_ body: () throws -> Result) rethrows -> Result {
        let previous = flint_flush_denormals()
        defer { flint_restore_float_mode(previous) }
        return try body()
    }

    /// The calling thread's slot (`flint_workers_slot`), below `cores`: scratch with one part
    /// per slot serves tasks however the workers claim them, so work can be split into many
    /// small tasks (which even out cores that run at different speeds) instead of one per core.
    static var slot: Int { Int(flint_workers_slot()) }

    /// Task `task`'s share of `0..<count` split evenly into `tasks` ranges.
    @inline(__always)
    static func range(_ task: Int, of tasks: Int, count: Int) -> Range<Int> {
        let start = count * task / tasks
        let end = count * (task + 1) / tasks
        return start..<end
    }
}
