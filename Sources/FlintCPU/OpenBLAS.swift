import CBLAS
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Facts about, and one adjustment to, the OpenBLAS library FlintCPU links.
enum OpenBLAS {
    /// `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
    static var config: String {
        guard let raw = openblas_get_config() else { return "" }
        return String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Taken around every product OpenBLAS runs on its worker threads (64³ multiply-adds and
    /// more). Its thread server (0.3.x, pthreads) serves one caller's product at a time and a
    /// second caller waits for the workers with `sched_yield`, so two trainings in one process
    /// spun against each other: at once they took 2.7–3.8x as long as one after the other
    /// (`flint-bench concurrency`, MLP steps on 2 cores); with `OPENBLAS_NUM_THREADS=1` 1.07x.
    /// Taking turns here blocks instead of spinning; a lone caller never waits.
    static let threadedProducts = Mutex<Void>(())

    /// Applies `upgradeGenericCore()` and `shortenThreadSpin()` once per process, before
    /// FlintCPU's first BLAS call.
    static func prepareOnce() {
        _ = prepared
    }

    private static let prepared: Bool = {
        upgradeGenericCore()
        shortenThreadSpin()
        // OpenBLAS read its thread count at load time; FLINT_THREADS may have been set since.
        if ProcessInfo.processInfo.environment["FLINT_THREADS"] != nil { openblas_set_num_threads(Int32(Parallel.cores)) }
        return true
    }()

    /// OpenBLAS's worker threads spin (calling `sched_yield`) for 2^28 cycles, about 0.1 s,
    /// after each parallel GEMM before they sleep. Between the GEMMs of a training step FlintCPU
    /// runs its own parallel loops, and with workers that never sleep the two fight over the
    /// cores: `perf` put 22% of a CNN epoch in `sched_yield`. 2^20 cycles (well under a
    /// millisecond) trained the seed CNN 18% faster and left MLP training within noise
    /// (measured with `OPENBLAS_THREAD_TIMEOUT` at launch; 2^10 cost the MLP 6%).
    /// The environment variable, when set, wins. The workers are stopped here and recreated
    /// by the next GEMM, which FlintCPU always calls inside `Parallel.flushingDenormals`, so
    /// they also start with denormals flushed to zero.
    private static func shortenThreadSpin() {
        #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil,
              let readSymbol = dlsym(nil, "openblas_read_env"),
              let shutdownSymbol = dlsym(nil, "blas_thread_shutdown_")
        else { return }
        typealias Function = @convention(c) () -> Int32
        setenv("OPENBLAS_THREAD_TIMEOUT", "20", 1)
        _ = unsafeBitCast(readSymbol, to: Function.self)()
        unsetenv("OPENBLAS_THREAD_TIMEOUT")
        _ = unsafeBitCast(shutdownSymbol, to: Function.self)()
        #endif
    }

    /// A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU model at load time, and a
    /// release older than the CPU falls back to generic SSE3 ("Prescott") kernels, which run
    /// GEMM several times slower than the AVX2/AVX-512 ones the CPU supports (measured 5x
    /// on a Xeon with AVX-512 and OpenBLAS 0.3.21). When the user has not chosen a core with
    /// `OPENBLAS_CORETYPE` and the fallback happened, re-select the kernels by the CPU's
    /// feature flags, exactly as setting `OPENBLAS_CORETYPE` before launch would.
    /// `FLINT_OPENBLAS_KEEP_CORE=1` disables this.
    private static func upgradeGenericCore() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["FLINT_OPENBLAS_KEEP_CORE"] == nil else { return }
        let current = config
        guard current.contains("DYNAMIC_ARCH") else { return }
        let generic = ["Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Core2", "Penryn", "Dunnington", "Nehalem"]
        guard generic.contains(where: { current.contains(" \($0) ") }) else { return }
        let flags = CPUInfo.flags
        let target: String
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]) {
            target = "SkylakeX"
        } else if flags.isSuperset(of: ["avx2", "fma"]) {
            target = "Haswell"
        } else if flags.contains("avx") {
            target = "Sandybridge"
        } else {
            return
        }
        #if canImport(Glibc)
        guard let quitSymbol = dlsym(nil, "gotoblas_dynamic_quit"),
            let initSymbol = dlsym(nil, "gotoblas_dynamic_init")
        else { return }
        typealias Function = @convention(c) () -> Void
        let quit = unsafeBitCast(quitSymbol, to: Function.self)
        let reinitialize = unsafeBitCast(initSymbol, to: Function.self)
        setenv("OPENBLAS_CORETYPE", target, 1)
        quit()
        reinitialize()
        unsetenv("OPENBLAS_CORETYPE")
        #endif
    }
}

/// What /proc/cpuinfo says about the processor (Linux); empty elsewhere.
enum CPUInfo {
    static let text: String = {
        guard let handle = FileHandle(forReadingAtPath: "/proc/cpuinfo") else { return "" }
        defer { try? handle.close() }
        let data = handle.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }()

    /// The value of the first `key : value` line with this key.
    static func value(of key: String) -> String? {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].trimmingCharacters(in: .whitespaces) == key {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    static var modelName: String? { value(of: "model name") }

    static var flags: Set<String> {
        Set((value(of: "flags") ?? "").split(separator: " ").map(String.init))
    }
}
