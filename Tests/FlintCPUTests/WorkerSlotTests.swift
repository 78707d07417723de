import Foundation
@testable import FlintCPU
import Synchronization
import Testing

/// `Parallel.slot`: tasks handed out one at a time index per-core scratch by it, so no two tasks
/// running at once may share a slot, and every slot lies below `Parallel.cores`.
@Suite struct WorkerSlotTests {
    @Test func concurrentTasksNeverShareASlot() {
        let cores = Parallel.cores
        let busy = Mutex([Bool](repeating: false, count: cores))
        let problems = Mutex([String]())
        let seen = Mutex(Set<Int>())
        // While another test's job holds the workers, a run's tasks all go to its own thread, so
        // it runs until one has used the workers too (or 50 times).
        for _ in 0..<50 where seen.withLock({ $0.count }) < min(cores, 2) {
            seen.withLock { $0.removeAll() }
            runTasks(cores: cores, busy: busy, problems: problems, seen: seen)
        }
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(5) })")
        #expect(seen.withLock { $0 }.contains(0), "the calling thread takes tasks too (slot 0)")
        if cores > 1 {
            #expect(seen.withLock { $0.count } > 1, "400 tasks ran on one thread only, 50 times: \(seen.withLock { $0 })")
        }
    }

    private func runTasks(cores: Int, busy: borrowing Mutex<[Bool]>, problems: borrowing Mutex<[String]>,
                          seen: borrowing Mutex<Set<Int>>) {
        Parallel.run(tasks: 400) { task in
            let slot = Parallel.slot
            guard slot >= 0 && slot < cores else {
                problems.withLock { $0.append("task \(task): slot \(slot) outside 0..<\(cores)") }
                return
            }
            let clash = busy.withLock { busy in
                defer { busy[slot] = true }
                return busy[slot]
            }
            if clash { problems.withLock { $0.append("task \(task): slot \(slot) already in use") } }
            seen.withLock { _ = $0.insert(slot) }
            // Some work, so tasks overlap on the workers.
            var x = Double(task)
            for _ in 0..<20_000 { x = x * 1.000_001 + 1 }
            if x.isNaN { problems.withLock { $0.append("unreachable") } }
            busy.withLock { $0[slot] = false }
        }
    }
}
