import FlintBackend
@testable import FlintOpenCL
import Foundation
import Testing

/// GEMM configurations (every candidate a search may pick, CPU- and GPU-shaped) against a Float64
/// reference, the tuning cache on disk, and a second process that reuses the first one's search.
@Suite("OpenCL GEMM tuning", .enabled(if: TestDevice.available), .serialized)
struct TuningTests {
    /// Every candidate of both search spaces, plus the two standard configurations.
    static var configurations: [GemmConfig] {
        var all: [GemmConfig] = []
        // (The CPU space for a 4-wide device differs only in the vector width: left out, each
        // configuration is a program build.)
        for config in [GemmConfig.standard(cpu: true, nativeWidth: 16), .standard(cpu: false, nativeWidth: 4)]
            + GemmConfig.searchSpace(cpu: true, nativeWidth: 16) + GemmConfig.searchSpace(cpu: false, nativeWidth: 4)
            where !all.contains(config) {
            all.append(config)
        }
        return all
    }

    /// C = 1.5 A·B + 0.5 C with every configuration; all must agree bit for bit (they sum in one
    /// order) and with the reference to 1e-5 of the sum of |products|.
    @Test("every configuration computes the same product",
          arguments: [(37, 53, 29, 2), (64, 128, 48, 1), (130, 67, 200, 1)])
    func configurationsAgree(_ size: (Int, Int, Int, Int)) throws {
        let backend = try TestDevice.backend()
        let (m, n, k, batch) = size
        var random = TestRandom(seed: UInt64(m * 1000 + n))
        let a = random.floats(batch * m * k), b = random.floats(batch * k * n), c0 = random.floats(batch * m * n)
        let aBuffer = backend.upload(a) as! OpenCLBuffer, bBuffer = backend.upload(b) as! OpenCLBuffer
        var first: [Float]?
        for config in Self.configurations {
            let variant = try backend.gemmTuner.programs.variant(config, on: backend).get()
            let cBuffer = backend.upload(c0) as! OpenCLBuffer
            let operands = GemmOperands(a: .buffer(aBuffer), aOffset: 0, lda: k, aBatchStride: m * k,
                                        b: .buffer(bBuffer), bOffset: 0, ldb: n, bBatchStride: k * n,
                                        c: .buffer(cBuffer), cOffset: 0, ldc: n, cBatchStride: m * n)
            backend.launchGemm(variant, m: m, n: n, k: k, batch: batch, alpha: 1.5, operands, beta: 0.5)
            let result = backend.floats(cBuffer, count: batch * m * n)
            if let first {
                let differing = zip(result, first).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(config): \(differing) elements differ from \(Self.configurations[0])")
            } else {
                first = result
            }
            var wrong = 0
            for p in 0..<batch {
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0, magnitude = 0.0
                        for l in 0..<k {
                            let product = Double(a[p * m * k + i * k + l]) * Double(b[p * k * n + l * n + j])
                            sum += product
                            magnitude += abs(product)
                        }
                        let at = p * m * n + i * n + j
                        let expected = 1.5 * sum + 0.5 * Double(c0[at])
                        if abs(Double(result[at]) - expected) > 1e-5 * (1.5 * magnitude + 1) && wrong < 3 {
                            wrong += 1
                            Issue.record("\(config) \(m)×\(n)×\(k)×\(batch): element \(at) is \(result[at]), expected \(expected)")
                        }
                    }
                }
            }
        }
    }

    /// A convolution's weight gradient: few outputs over a long k, which the backend splits
    /// along k into partial products and sums (`gemm_splitk_combine`), with alpha and beta.
    @Test("long thin products split along k match the reference")
    func splitK() throws {
        let backend = try TestDevice.backend()
        let (m, n, k) = (9, 32, 20_000)
        let parts = try #require(backend.splitKParts(m: m, n: n, k: k), "9 x 32 x 20000 is not split on this device")
        #expect(parts >= 2)
        var random = TestRandom(seed: 77)
        let a = random.floats(m * k), b = random.floats(k * n), c0 = random.floats(m * n)
        let c = backend.upload(c0)
        backend.gemm(m: m, n: n, k: k, batch: 1, alpha: 0.5,
                     MatrixOperand(buffer: backend.upload(a), offset: 0, rowStride: k, colStride: 1, batchStride: 0),
                     MatrixOperand(buffer: backend.upload(b), offset: 0, rowStride: n, colStride: 1, batchStride: 0),
                     beta: 2, MatrixOperand(buffer: c, offset: 0, rowStride: n, colStride: 1, batchStride: 0))
        let result = backend.floats(c, count: m * n)
        var wrong = 0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for l in 0..<k {
                    let product = Double(a[i * k + l]) * Double(b[l * n + j])
                    sum += product
                    magnitude += abs(product)
                }
                let expected = 0.5 * sum + 2 * Double(c0[i * n + j])
                if abs(Double(result[i * n + j]) - expected) > 1e-5 * (0.5 * magnitude + 2) && wrong < 3 {
                    wrong += 1
                    Issue.record("split-K element (\(i), \(j)) is \(result[i * n + j]), expected \(expected)")
                }
            }
        }
    }

    @Test("configurations read back from their text")
    func configurationText() {
        for config in Self.configurations {
            #expect(GemmConfig(config.description) == config)
        }
        #expect(GemmConfig("registers GEMM_TM=8") == nil)
        #expect(GemmConfig("vector local=8x8") == nil)
        #expect(GemmConfig("tiled GEMM_TM=-1 local=8x8") == nil)
    }

    static func temporaryFolder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("flint-tuning-\(UUID().uuidString)", isDirectory: true)
    }

    static let key = TuningCache.Key(device: "Test device", platform: "P", driver: "1.0", sources: "abc", options: "-O", profile: "cpu")

    static func record(_ key: String, _ configuration: String) -> TuningRecord {
        TuningRecord(key: key, shape: "1x1x1", configuration: configuration, gflops: 1, standardGflops: 0.5,
                     candidates: 2, seconds: 0.1, source: .search, date: "2026-11-30T00:00:00Z")
    }

    @Test("the cache keeps records per key, ignores damaged and foreign files, and clears")
    func cacheFile() throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = TuningCache(folder: folder, key: Self.key)
        #expect(cache.load().isEmpty)
        try cache.store(Self.record("gemm/large", "registers GEMM_TM=4 GEMM_VN=2 GEMM_VW=16 local=8x8"))
        try cache.store(Self.record("gemm/huge", "registers GEMM_TM=8 GEMM_VN=1 GEMM_VW=16 local=8x8"))
        #expect(cache.load().keys.sorted() == ["gemm/huge", "gemm/large"])
        #expect(cache.load()["gemm/large"]?.configuration == "registers GEMM_TM=4 GEMM_VN=2 GEMM_VW=16 local=8x8")

        // Another driver (or kernel source) is another file: nothing carries over.
        var updated = Self.key
        updated.driver = "2.0"
        #expect(TuningCache(folder: folder, key: updated).file != cache.file)
        #expect(TuningCache(folder: folder, key: updated).load().isEmpty)

        // A damaged file reads as empty and is replaced whole by the next store.
        try Data("{ not json".utf8).write(to: cache.file)
        #expect(cache.load().isEmpty)
        try cache.store(Self.record("gemm/medium", "registers GEMM_TM=8 GEMM_VN=1 GEMM_VW=16 local=8x8"))
        #expect(cache.load().keys.sorted() == ["gemm/medium"])
        #expect(TuningCache.files(in: folder).count == 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(TuningCache.temporarySuffix) }
        #expect(leftovers.isEmpty)
        #expect(try TuningCache.clear(folder) == 1)
        #expect(TuningCache.files(in: folder).isEmpty)
    }

    /// A 256 x 256 x 64 product: the smallest of the `medium` class.
    static func mediumProduct(on backend: OpenCLBackend) {
        var random = TestRandom(seed: 9)
        let a = backend.upload(random.floats(256 * 64)), b = backend.upload(random.floats(64 * 256))
        let c = backend.allocate(byteCount: 256 * 256 * 4)
        backend.gemm(m: 256, n: 256, k: 64, batch: 1, alpha: 1,
                     MatrixOperand(buffer: a, offset: 0, rowStride: 64, colStride: 1, batchStride: 0),
                     MatrixOperand(buffer: b, offset: 0, rowStride: 256, colStride: 1, batchStride: 0),
                     beta: 0, MatrixOperand(buffer: c, offset: 0, rowStride: 256, colStride: 1, batchStride: 0))
        backend.synchronize()
    }

    static let flint: URL? = {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("flint") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Whether the environment leaves tuning on (`FLINT_TUNE=0` turns it off for every backend).
    static let tuningOn = !["0", "off", "false", "no"].contains((ProcessInfo.processInfo.environment["FLINT_TUNE"] ?? "").lowercased())

    @Test("a class's first product searches once and stores the result; FLINT_TUNE=0 never searches",
          .enabled(if: tuningOn, "FLINT_TUNE=0 is set"))
    func firstUseSearches() throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let backend = try OpenCLBackend(deviceIndex: 0, tuningCacheFolder: folder)
        #expect(backend.tuningRecords.allSatisfy { $0.source == .standard })
        Self.mediumProduct(on: backend)
        Self.mediumProduct(on: backend)
        #expect(backend.gemmTuner.searches == 1)
        let medium = try #require(backend.tuningRecords.first { $0.key == "gemm/medium" })
        #expect(medium.source == .search && medium.candidates >= 1 && medium.gflops > 0)
        #expect(TuningCache(folder: folder, key: backend.gemmTuner.cache!.key).load()["gemm/medium"]?.configuration == medium.configuration)

        let off = GemmTuner(programs: backend.gemmTuner.programs, standard: backend.gemmTuner.standard, space: backend.gemmTuner.space,
                            cache: backend.gemmTuner.cache, environment: ["FLINT_TUNE": "0"])
        _ = off.variant(for: .medium, backend: backend)
        #expect(off.searches == 0)
        #expect(off.records(backend: backend).allSatisfy { $0.source == .standard })
    }

    @Test("a second process reuses the first one's search (flint tune, then a product here)",
          .enabled(if: flint != nil, "the flint binary is not built next to the tests"), .enabled(if: tuningOn, "FLINT_TUNE=0 is set"))
    func secondProcessReusesTheCache() throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let process = Process()
        process.executableURL = Self.flint!
        process.arguments = ["tune", "--devices", "opencl:0", "--classes", "medium", "--candidates", "3"]
        var environment = ProcessInfo.processInfo.environment
        environment["FLINT_TUNING_DIR"] = folder.path
        environment["FLINT_TUNE"] = "1"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output.contains("gemm/medium") && output.contains("search"), "flint tune printed: \(output)")

        // This process is the second: it finds the class in the cache and never searches.
        let backend = try OpenCLBackend(deviceIndex: 0, tuningCacheFolder: folder)
        let medium = try #require(backend.tuningRecords.first { $0.key == "gemm/medium" })
        #expect(medium.source == .cache)
        Self.mediumProduct(on: backend)
        #expect(backend.gemmTuner.searches == 0)
        #expect(backend.tuningRecords.first { $0.key == "gemm/medium" }?.configuration == medium.configuration)
    }
}
