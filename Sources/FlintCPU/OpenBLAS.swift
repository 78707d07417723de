import CBLAS
import Foundation
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

    /// Applies `upgradeGenericCore()` once per process, before FlintCPU's first BLAS call.
    static func prepareOnce() {
        _ = prepared
    }

    private static let prepared: Bool = {
        upgradeGenericCore()
        return true
    }()

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
