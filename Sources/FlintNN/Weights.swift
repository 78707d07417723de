import FlintCore
import FlintData
import Foundation

/// The version written into saved files.
public let flintVersion = "0.5.0"

extension Module {
    /// Saves every parameter (weights and state such as BatchNorm statistics) as float32
    /// safetensors, each under its path (`layers.0.kernel`), crash-safely (`AtomicFile`). The
    /// metadata records the Flint version and the architecture (module types by path); `metadata`
    /// adds entries of your own.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try AtomicFile.write(try safetensors(metadata: metadata), to: url)
    }

    /// The bytes `save(to:metadata:)` writes, with `extra` tensors appended (checkpoints add
    /// optimizer state this way).
    func safetensors(metadata: [String: String], extra: [SafeTensorsFile.Tensor] = []) throws -> Data {
        let tensors = namedParameters.map { path, parameter in
            SafeTensorsFile.Tensor(name: path, shape: parameter.shape, floats: parameter.value.toArray())
        }
        var info = metadata
        info["format"] = "flint"
        info["flint_version"] = flintVersion
        info["architecture"] = architecture
        return try SafeTensorsFile.encode(tensors + extra, metadata: info)
    }

    /// The module tree as JSON: the type, a model's input shapes, and each sub-module's path
    /// and type in order.
    public var architecture: String {
        var modules: [[String]] = []
        func walk(_ module: Module, _ prefix: String) {
            for (path, child) in module.namedChildren {
                let full = prefix.isEmpty ? path : prefix + "." + path
                modules.append([full, child.typeName])
                walk(child, full)
            }
        }
        walk(self, "")
        var root: [String: Any] = ["type": typeName, "modules": modules]
        if let model = self as? Model, model.isBuilt { root["input_shapes"] = model.inputShapes }
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Loads parameters saved by `save(to:)` (from any device) into this module, which must be
    /// built. Strict loading requires the same names and shapes, and throws a `WeightsError`
    /// listing every missing, unexpected and mismatched tensor before changing anything;
    /// non-strict loading takes what matches and reports the rest (fine-tuning).
    @discardableResult
    public func load(from url: URL, strict: Bool = true) throws -> WeightsReport {
        try load(try SafeTensorsFile(contentsOf: url), strict: strict)
    }

    /// Loads parameters from an opened safetensors file (names starting with `@` — a
    /// checkpoint's optimizer and training state — are not weights and are skipped).
    @discardableResult
    public func load(_ file: SafeTensorsFile, strict: Bool = true) throws -> WeightsReport {
        let parameters = namedParameters
        let wanted = Dictionary(parameters.map { ($0.path, $0.parameter) }, uniquingKeysWith: { a, _ in a })
        let stored = file.entries.filter { !$0.name.hasPrefix("@") }
        var report = WeightsReport()
        var matched: [(Parameter, SafeTensorsFile.Entry)] = []
        for entry in stored {
            guard let parameter = wanted[entry.name] else {
                report.unexpected.append(entry.name)
                continue
            }
            guard entry.shape == parameter.shape else {
                report.wrongShape.append(.init(name: entry.name, expected: parameter.shape, found: entry.shape))
                continue
            }
            matched.append((parameter, entry))
        }
        let found = Set(stored.map(\.name))
        report.missing = parameters.map(\.path).filter { !found.contains($0) }
        if strict, !report.isComplete { throw WeightsError(path: file.path, report: report) }
        // Convert everything first, so a bad tensor leaves the module untouched.
        let values = try matched.map { ($0.0, try file.floats($0.1)) }
        Tensor.withoutGrad {
            for (parameter, floats) in values {
                parameter.assign(Tensor(floats, shape: parameter.shape, on: parameter.value.device))
            }
        }
        report.loaded = matched.map(\.1.name)
        return report
    }
}

/// What a load matched and what it did not.
public struct WeightsReport: Sendable, Equatable {
    /// A parameter whose saved tensor has another shape.
    public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
        /// The parameter's path.
        public let name: String
        /// The model's shape.
        public let expected: [Int]
        /// The file's shape.
        public let found: [Int]
        /// The path and both shapes.
        public var description: String { "\(name) (model \(expected), file \(found))" }
    }

    /// The parameters loaded.
    public var loaded: [String] = []
    /// The model's parameters the file does not hold.
    public var missing: [String] = []
    /// Tensors in the file the model has no parameter for.
    public var unexpected: [String] = []
    /// The parameters whose saved shape differs.
    public var wrongShape: [Mismatch] = []

    /// True when every parameter was found with the right shape and nothing was left over.
    public var isComplete: Bool { missing.isEmpty && unexpected.isEmpty && wrongShape.isEmpty }

    /// The mismatches in one line.
    public var summary: String {
        func list(_ items: [String]) -> String {
            items.count <= 8 ? items.joined(separator: ", ") : items.prefix(8).joined(separator: ", ") + ", … (\(items.count) in all)"
        }
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(list(missing))") }
        if !unexpected.isEmpty { parts.append("unexpected \(list(unexpected))") }
        if !wrongShape.isEmpty { parts.append("wrong shape \(list(wrongShape.map(\.description)))") }
        return parts.isEmpty ? "all \(loaded.count) tensors loaded" : parts.joined(separator: "; ")
    }
}

/// Saved weights that do not fit the model; nothing was loaded.
public struct WeightsError: Error, CustomStringConvertible, LocalizedError {
    /// The file.
    public let path: String
    /// What matched and what did not.
    public let report: WeightsReport
    /// The file and the mismatches, in one line.
    public var description: String {
        "\(path) does not fit the model: \(report.summary) (load with strict: false to take what matches)"
    }
    /// The same as `description`.
    public var errorDescription: String? { description }
}
