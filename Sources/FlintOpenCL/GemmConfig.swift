/// One way to run the GEMM: a kernel of `gemm.cl` and the `-D` values it is built with. The
/// tuning cache stores it as text (`registers GEMM_TM=8 GEMM_VN=1 GEMM_VW=16 local=8x8`), so a
/// configuration read back builds the same program.
struct GemmConfig: Hashable, Sendable, CustomStringConvertible {
    enum Kernel: String, Sendable {
        /// `gemm`: a register block per work-item, no local memory (CPU devices).
        case registers
        /// `gemm_tiled`: local-memory tiles shared by a work-group (GPUs).
        case tiled
    }

    var kernel: Kernel
    /// The `-D` values, by macro name.
    var defines: [String: Int]
    /// Work-group shape of a `registers` launch (a tiled launch takes it from GEMM_WG_N/M).
    var local0: Int
    var local1: Int

    /// A register-blocked configuration: `rows` x (`vectors` x `width`) elements of C per work-item.
    static func registers(rows: Int, width: Int, vectors: Int = 1, local: (Int, Int) = (8, 8)) -> GemmConfig {
        GemmConfig(kernel: .registers, defines: ["GEMM_TM": rows, "GEMM_VW": width, "GEMM_VN": vectors],
                   local0: local.0, local1: local.1)
    }

    /// A local-memory configuration: `tile` (m, n, k) per work-group of `group` (m, n) work-items.
    static func tiled(tile: (Int, Int, Int), group: (Int, Int), width: Int = 4) -> GemmConfig {
        GemmConfig(kernel: .tiled,
                   defines: ["GEMM_TILE_M": tile.0, "GEMM_TILE_N": tile.1, "GEMM_TILE_K": tile.2,
                             "GEMM_WG_M": group.0, "GEMM_WG_N": group.1, "GEMM_TILE_VW": width],
                   local0: group.1, local1: group.0)
    }

    private func value(_ name: String, _ fallback: Int) -> Int { defines[name] ?? fallback }

    /// Rows and columns of C one work-item (registers) or one work-group (tiled) computes.
    var block: (rows: Int, columns: Int) {
        switch kernel {
        case .registers: (value("GEMM_TM", 8), value("GEMM_VW", 16) * value("GEMM_VN", 1))
        case .tiled: (value("GEMM_TILE_M", 64), value("GEMM_TILE_N", 64))
        }
    }

    /// Elements of a vector load of the tiled kernel's interior tiles.
    var tileVectorWidth: Int { value("GEMM_TILE_VW", 4) }

    var localSize: [Int] { [local0, local1, 1] }

    /// The NDRange for an `m` x `n` C, `batch` times.
    func global(m: Int, n: Int, batch: Int) -> [Int] {
        let (rows, columns) = block
        let across = (n + columns - 1) / columns, down = (m + rows - 1) / rows
        switch kernel {
        case .registers: return [across, down, batch]
        case .tiled: return [across * local0, down * local1, batch]
        }
    }

    /// Work-groups of one launch over an `m` x `n` C.
    func groups(m: Int, n: Int) -> Int {
        let size = global(m: m, n: n, batch: 1)
        return ((size[0] + local0 - 1) / local0) * ((size[1] + local1 - 1) / local1)
    }

    /// Bytes of local memory a work-group uses.
    var localMemoryBytes: Int {
        guard kernel == .tiled else { return 0 }
        let (rows, columns) = block
        return value("GEMM_TILE_K", 16) * (rows + 1 + columns) * 4
    }

    /// The `-D` options, in name order.
    var options: String {
        defines.keys.sorted().map { "-D\($0)=\(defines[$0]!)" }.joined(separator: " ")
    }

    var description: String {
        let names = defines.keys.sorted().map { "\($0)=\(defines[$0]!)" }
        return ([kernel.rawValue] + names + ["local=\(local0)x\(local1)"]).joined(separator: " ")
    }

    /// Parses `description`; nil for text that is not a configuration.
    init?(_ text: String) {
        let words = text.split(separator: " ")
        guard let first = words.first, let kernel = Kernel(rawValue: String(first)) else { return nil }
        var defines: [String: Int] = [:]
        var local: (Int, Int)?
        for word in words.dropFirst() {
            let parts = word.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            if parts[0] == "local" {
                let sides = parts[1].split(separator: "x").compactMap { Int($0) }
                guard sides.count == 2, sides.allSatisfy({ $0 > 0 }) else { return nil }
                local = (sides[0], sides[1])
            } else {
                guard let value = Int(parts[1]), value > 0, parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
                else { return nil }
                defines[String(parts[0])] = value
            }
        }
        guard let local else { return nil }
        self.init(kernel: kernel, defines: defines, local0: local.0, local1: local.1)
    }

    init(kernel: Kernel, defines: [String: Int], local0: Int, local1: Int) {
        self.kernel = kernel
        self.defines = defines
        self.local0 = local0
        self.local1 = local1
    }

    /// Whether the device can launch it at all (before the build says more).
    func fits(maxWorkGroupSize: Int, localMemoryBytes limit: Int) -> Bool {
        local0 * local1 <= maxWorkGroupSize && localMemoryBytes <= limit
    }
}

extension GemmConfig {
    /// The configuration used before (or without) tuning: the register kernel on CPUs with the
    /// device's native float width, local-memory tiles on everything else.
    static func standard(cpu: Bool, nativeWidth: Int) -> GemmConfig {
        cpu ? .registers(rows: 8, width: vectorWidth(nativeWidth)) : .tiled(tile: (64, 64, 16), group: (16, 16))
    }

    /// The widest float vector (2…16) not wider than `native` (at least 4).
    static func vectorWidth(_ native: Int) -> Int {
        [2, 4, 8, 16].last { $0 <= max(4, native) } ?? 4
    }

    /// The candidates a search times, the standard one first. Few on purpose: on PoCL every
    /// candidate is a program build (a fraction of a second) and a compile per work-group shape.
    /// Register blocks follow the CPU's vector width; local-memory tiles follow CLBlast's map
    /// (64–128 square tiles, 16x16 or 8x8 work-items, 4x4 to 8x8 per work-item).
    static func searchSpace(cpu: Bool, nativeWidth: Int) -> [GemmConfig] {
        let width = vectorWidth(nativeWidth)
        let registers: [GemmConfig] = [
            .registers(rows: 8, width: width),
            .registers(rows: 4, width: width, vectors: 2),
            .registers(rows: 6, width: width, vectors: 2),
            .registers(rows: 8, width: width, vectors: 2),
            .registers(rows: 4, width: width, vectors: 4),
            .registers(rows: 12, width: width),
            .registers(rows: 8, width: width, local: (16, 4)),
            .registers(rows: 8, width: width, local: (4, 16)),
        ]
        let tiles: [GemmConfig] = [
            .tiled(tile: (64, 64, 16), group: (16, 16)),
            .tiled(tile: (32, 32, 16), group: (8, 8)),
            .tiled(tile: (64, 64, 16), group: (8, 8)),
            .tiled(tile: (128, 128, 16), group: (16, 16)),
            .tiled(tile: (128, 64, 16), group: (16, 16)),
            .tiled(tile: (64, 64, 32), group: (16, 16)),
            .tiled(tile: (128, 128, 8), group: (16, 16)),
            .registers(rows: 4, width: 4),
        ]
        return cpu ? registers : tiles
    }
}

/// Sizes of GEMM tuned separately: by multiply-adds, `m·n·k·batch`. Below `medium` a search
/// costs more than it could save, and the standard configuration runs.
enum GemmShapeClass: String, CaseIterable, Sendable {
    case medium, large, huge

    init?(m: Int, n: Int, k: Int, batch: Int) {
        let work = Double(m) * Double(n) * Double(k) * Double(batch)
        switch work {
        case ..<Double(1 << 22): return nil
        case ..<Double(1 << 27): self = .medium
        case ..<Double(1 << 31): self = .large
        default: self = .huge
        }
    }

    /// The problem a search times for this class: (m, n, k). Short k keeps a search's runs short;
    /// the block shape that wins depends on m and n far more than on k.
    var representative: (m: Int, n: Int, k: Int) {
        switch self {
        case .medium: (256, 256, 512)
        case .large: (1024, 1024, 512)
        case .huge: (2048, 2048, 512)
        }
    }

    /// The cache's name for it: `gemm/large`.
    var key: String { "gemm/\(rawValue)" }
}
