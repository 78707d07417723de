import FlintCore
import FlintData
import Foundation

/// Weights in PyTorch's names and layouts, for a `Sequential` model and the `nn.Sequential` that
/// mirrors it, one module per Flint layer and one more for a layer's activation:
///
/// - `Dense` → `Linear`: `i.weight` is `[out, in]` (Flint keeps Keras' `[in, out]`), `i.bias`.
/// - `Conv2D` → `Conv2d`: `[out, in, kh, kw]` from `[kh, kw, in, out]`.
/// - `BatchNormalization` → `BatchNorm1d/2d`: `weight`, `bias`, `running_mean`, `running_var`,
///   `num_batches_tracked`; Keras' momentum m is PyTorch's 1 − m.
/// - `LSTM`/`GRU` → `LSTM`/`GRU` (batch first): `weight_ih_l0`, `weight_hh_l0` transposed, gates
///   reordered for the GRU (Keras z, r, h → PyTorch r, z, n); the LSTM's single bias becomes
///   `bias_ih_l0` with a zero `bias_hh_l0` (on import the two are added).
/// - The first `Dense` after a `Flatten` of images has its input rows reordered, because PyTorch
///   flattens channels-first (C, H, W) where Flint flattens (H, W, C).
///
/// The module list (types and arguments) goes into the metadata as `pytorch_modules`, from which
/// `Tools/pytorch_interop.py` rebuilds the PyTorch model. Augmentation layers have no module
/// (they do nothing at inference). Layers PyTorch has no equivalent for are an error.
public enum PyTorchFormat {
    /// The tensors and module list of `model` in PyTorch's conventions.
    public static func export(_ model: Sequential) throws -> (tensors: [SafeTensorsFile.Tensor], modules: String) {
        let plan = try Plan(model)
        var tensors: [SafeTensorsFile.Tensor] = []
        for binding in plan.bindings {
            for (name, shape, values) in binding.toPyTorch() {
                tensors.append(SafeTensorsFile.Tensor(name: name, shape: shape, floats: values))
            }
        }
        for name in plan.counters { tensors.append(SafeTensorsFile.Tensor(name: name, shape: [], int64s: [0])) }
        let data = try JSONSerialization.data(withJSONObject: plan.modules, options: [.sortedKeys])
        return (tensors, String(decoding: data, as: UTF8.self))
    }

    /// Loads a PyTorch state dict (as safetensors) into `model`, checking every name and shape
    /// first: a mismatch lists them all and changes nothing.
    public static func load(_ file: SafeTensorsFile, into model: Sequential) throws {
        let plan = try Plan(model)
        var report = WeightsReport()
        var updates: [(Parameter, [Float])] = []
        var used: Set<String> = Set(plan.counters)
        var found: [String: ([Int], [Float])] = [:]
        for entry in file.entries { found[entry.name] = (entry.shape, []) }
        for binding in plan.bindings {
            var inputs: [String: [Float]] = [:]
            for (name, shape) in binding.pyTorchShapes() {
                used.insert(name)
                guard let entry = file[name] else { report.missing.append(name); continue }
                guard entry.shape == shape else {
                    report.wrongShape.append(.init(name: name, expected: shape, found: entry.shape))
                    continue
                }
                inputs[name] = try file.floats(entry)
            }
            if inputs.count == binding.pyTorchShapes().count { updates.append((binding.parameter, binding.fromPyTorch(inputs))) }
        }
        report.unexpected = file.entries.map(\.name).filter { !used.contains($0) }
        guard report.isComplete else { throw WeightsError(path: file.path, report: report) }
        Tensor.withoutGrad {
            for (parameter, values) in updates {
                parameter.assign(Tensor(values, shape: parameter.shape, on: parameter.value.device))
            }
        }
    }

    /// A Flint `Sequential` for the PyTorch module list `modules` (the `pytorch_modules` JSON
    /// that `export` writes, which a script can also write for its own `nn.Sequential`), one layer
    /// per module, unbuilt. Load its weights with `Sequential.loadPyTorch(from:)` once built.
    public static func sequential(modules json: String) throws -> Sequential {
        func bad(_ reason: String) -> ModelError { ModelError.invalidArgument("PyTorch module list: \(reason)") }
        guard let specs = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [[String: Any]] else {
            throw bad("not a JSON array of module objects")
        }
        func int(_ spec: [String: Any], _ key: String) throws -> Int {
            guard let value = spec[key] as? Int, value > 0 else { throw bad("\(spec["type"] ?? "?") needs a positive integer '\(key)'") }
            return value
        }
        func pair(_ spec: [String: Any], _ key: String) throws -> (Int, Int) {
            guard let value = spec[key] as? [Int], value.count == 2, value.allSatisfy({ $0 > 0 }) else {
                throw bad("\(spec["type"] ?? "?") needs '\(key)' as two positive integers")
            }
            return (value[0], value[1])
        }
        func number(_ spec: [String: Any], _ key: String) throws -> Float {
            guard let value = (spec[key] as? NSNumber)?.floatValue, value.isFinite else { throw bad("\(spec["type"] ?? "?") needs a number '\(key)'") }
            return value
        }
        let activations: [String: Activation] = ["ReLU": .relu, "Sigmoid": .sigmoid, "Tanh": .tanh, "Softmax": .softmax,
                                                 "GELU": .gelu, "Softplus": .softplus, "SiLU": .silu]
        let layers: [Layer] = try specs.map { spec in
            guard let type = spec["type"] as? String else { throw bad("a module has no type") }
            let bias = spec["bias"] as? Bool ?? true
            switch type {
            case "Flatten": return Flatten()
            case "Linear": return Dense(try int(spec, "out"), useBias: bias)
            case "Conv2d":
                let padding: Padding
                if spec["padding"] as? String == "same" {
                    padding = .same
                } else {
                    let (top, left) = spec["padding"] as? [Int] == [0, 0] ? (0, 0) : try pair(spec, "padding")
                    padding = top == 0 && left == 0 ? .valid : .explicit(top: top, bottom: top, left: left, right: left)
                }
                return Conv2D(try int(spec, "out"), kernelSize: try pair(spec, "kernel"), strides: try pair(spec, "stride"),
                              padding: padding, dilation: try pair(spec, "dilation"), useBias: bias)
            case "MaxPool2d": return MaxPool2D(poolSize: try pair(spec, "kernel"), strides: try pair(spec, "stride"))
            case "AvgPool2d": return AvgPool2D(poolSize: try pair(spec, "kernel"), strides: try pair(spec, "stride"))
            case "GlobalAvgPool": return GlobalAveragePooling2D()
            case "GlobalMaxPool": return GlobalMaxPooling2D()
            case "BatchNorm1d", "BatchNorm2d":
                return BatchNormalization(momentum: 1 - (try number(spec, "momentum")), epsilon: try number(spec, "eps"))
            case "LayerNorm":
                let affine = spec["affine"] as? Bool ?? true
                return LayerNormalization(epsilon: try number(spec, "eps"), center: affine, scale: affine)
            case "Dropout":
                let rate = try number(spec, "p")
                guard rate >= 0 && rate < 1 else { throw bad("Dropout p must be in [0, 1), got \(rate)") }
                return Dropout(rate)
            case "LeakyReLU": return ActivationLayer(.leakyRelu(slope: try number(spec, "slope")))
            case "GRU", "LSTM":
                let sequences = spec["return_sequences"] as? Bool ?? false
                return type == "GRU" ? GRU(try int(spec, "hidden"), returnSequences: sequences, useBias: bias)
                                     : LSTM(try int(spec, "hidden"), returnSequences: sequences, useBias: bias)
            case "Embedding": return Embedding(try int(spec, "num"), try int(spec, "dim"))
            default:
                guard let activation = activations[type] else { throw bad("module type '\(type.prefix(40))' is not supported") }
                return ActivationLayer(activation)
            }
        }
        return Sequential(layers)
    }

    /// How one Flint parameter maps to one or more PyTorch tensors.
    struct Binding {
        enum Transform {
            case identity
            /// `[in, out]` ↔ `[out, in]`, optionally with rows regrouped from (H, W, C) to (C, H, W)
            /// and column blocks permuted (GRU gates).
            case matrix(flatten: (h: Int, w: Int, c: Int)?, blocks: [Int]?)
            /// `[kh, kw, in, out]` ↔ `[out, in, kh, kw]`.
            case convolution
            /// A `[k·u]` vector with gate blocks permuted.
            case vector(blocks: [Int])
            /// GRU's `[2, 3u]` bias ↔ `bias_ih`, `bias_hh`, each with gates permuted.
            case gruBias
            /// LSTM's `[4u]` bias ↔ `bias_ih` (the bias) and `bias_hh` (zeros; added on import).
            case lstmBias
        }

        let parameter: Parameter
        let names: [String]
        let transform: Transform

        func pyTorchShapes() -> [(String, [Int])] {
            let shape = parameter.shape
            switch transform {
            case .identity, .vector: return [(names[0], shape)]
            case .matrix: return [(names[0], [shape[1], shape[0]])]
            case .convolution: return [(names[0], [shape[3], shape[2], shape[0], shape[1]])]
            case .gruBias: return [(names[0], [shape[1]]), (names[1], [shape[1]])]
            case .lstmBias: return [(names[0], shape), (names[1], shape)]
            }
        }

        func toPyTorch() -> [(String, [Int], [Float])] {
            let values = parameter.value.toArray(), shape = parameter.shape
            switch transform {
            case .identity:
                return [(names[0], shape, values)]
            case .vector(let blocks):
                return [(names[0], shape, permuteBlocks(values, blocks))]
            case .matrix(let flatten, let blocks):
                let (rows, columns) = (shape[0], shape[1])
                var out = [Float](repeating: 0, count: values.count)
                let rowOrder = flatten.map { channelsFirstOrder($0) } ?? Array(0..<rows)
                let columnOrder = blocks.map { blockOrder(columns, $0) } ?? Array(0..<columns)
                // PyTorch weight[o][i] = kernel[rowOrder[i]][columnOrder[o]].
                for o in 0..<columns { for i in 0..<rows { out[o * rows + i] = values[rowOrder[i] * columns + columnOrder[o]] } }
                return [(names[0], [columns, rows], out)]
            case .convolution:
                let (kh, kw, cin, cout) = (shape[0], shape[1], shape[2], shape[3])
                var out = [Float](repeating: 0, count: values.count)
                for y in 0..<kh { for x in 0..<kw { for i in 0..<cin { for o in 0..<cout {
                    out[((o * cin + i) * kh + y) * kw + x] = values[((y * kw + x) * cin + i) * cout + o]
                } } } }
                return [(names[0], [cout, cin, kh, kw], out)]
            case .gruBias:
                let width = shape[1]
                return [(names[0], [width], permuteBlocks(Array(values[0..<width]), [1, 0, 2])),
                        (names[1], [width], permuteBlocks(Array(values[width...]), [1, 0, 2]))]
            case .lstmBias:
                return [(names[0], shape, values), (names[1], shape, [Float](repeating: 0, count: values.count))]
            }
        }

        func fromPyTorch(_ tensors: [String: [Float]]) -> [Float] {
            let shape = parameter.shape
            let first = tensors[names[0]]!
            switch transform {
            case .identity:
                return first
            case .vector(let blocks):
                return permuteBlocks(first, inverse(blocks))
            case .matrix(let flatten, let blocks):
                let (rows, columns) = (shape[0], shape[1])
                var out = [Float](repeating: 0, count: first.count)
                let rowOrder = flatten.map { channelsFirstOrder($0) } ?? Array(0..<rows)
                let columnOrder = blocks.map { blockOrder(columns, $0) } ?? Array(0..<columns)
                for o in 0..<columns { for i in 0..<rows { out[rowOrder[i] * columns + columnOrder[o]] = first[o * rows + i] } }
                return out
            case .convolution:
                let (kh, kw, cin, cout) = (shape[0], shape[1], shape[2], shape[3])
                var out = [Float](repeating: 0, count: first.count)
                for y in 0..<kh { for x in 0..<kw { for i in 0..<cin { for o in 0..<cout {
                    out[((y * kw + x) * cin + i) * cout + o] = first[((o * cin + i) * kh + y) * kw + x]
                } } } }
                return out
            case .gruBias:
                return permuteBlocks(first, [1, 0, 2]) + permuteBlocks(tensors[names[1]]!, [1, 0, 2])
            case .lstmBias:
                return zip(first, tensors[names[1]]!).map(+)
            }
        }
    }

    /// The Flint row of each PyTorch input position when (H, W, C) rows are read as (C, H, W).
    static func channelsFirstOrder(_ f: (h: Int, w: Int, c: Int)) -> [Int] {
        var order: [Int] = []
        order.reserveCapacity(f.h * f.w * f.c)
        for c in 0..<f.c { for y in 0..<f.h { for x in 0..<f.w { order.append((y * f.w + x) * f.c + c) } } }
        return order
    }

    /// Index map for a vector of `blocks.count` equal blocks rearranged so block k of the result is block `blocks[k]`.
    static func blockOrder(_ count: Int, _ blocks: [Int]) -> [Int] {
        let size = count / blocks.count
        return blocks.flatMap { b in (0..<size).map { b * size + $0 } }
    }

    static func permuteBlocks(_ values: [Float], _ blocks: [Int]) -> [Float] { blockOrder(values.count, blocks).map { values[$0] } }

    static func inverse(_ blocks: [Int]) -> [Int] {
        var out = blocks
        for (k, b) in blocks.enumerated() { out[b] = k }
        return out
    }

    /// The PyTorch modules of a model and where each Flint parameter goes.
    struct Plan {
        var modules: [[String: Any]] = []
        var bindings: [Binding] = []
        /// `num_batches_tracked` counters (int64, no Flint parameter).
        var counters: [String] = []

        init(_ model: Sequential) throws {
            guard model.isBuilt, let inputShape = model.inputShapes.first else { throw ModelError.notBuilt(model.typeName) }
            var shape = inputShape  // per-sample, channels last
            var flattenedImage: (h: Int, w: Int, c: Int)?
            func unsupported(_ reason: String) -> ModelError {
                ModelError.invalidArgument("PyTorch export: \(reason)")
            }
            for layer in model.layers {
                let index = modules.count
                let outputShape = layer.outputShape ?? shape
                defer { shape = outputShape }
                switch layer {
                case is RandomTranslation, is RandomFlip:
                    continue
                case is Flatten:
                    if shape.count == 3 { flattenedImage = (shape[0], shape[1], shape[2]) }
                    modules.append(["type": "Flatten"])
                case let dense as Dense:
                    guard shape.count == 1 else { throw unsupported("Dense on inputs of shape \(shape) (PyTorch's Linear would act on another axis)") }
                    modules.append(["type": "Linear", "in": shape[0], "out": dense.units, "bias": dense.useBias])
                    bindings.append(Binding(parameter: dense.kernel, names: ["\(index).weight"], transform: .matrix(flatten: flattenedImage, blocks: nil)))
                    if let bias = dense.bias { bindings.append(Binding(parameter: bias, names: ["\(index).bias"], transform: .identity)) }
                    flattenedImage = nil
                    try appendActivation(dense.activation)
                case let conv as Conv2D:
                    let padding: Any
                    switch conv.padding {
                    case .valid: padding = [0, 0]
                    case .same where conv.strides == (1, 1): padding = "same"
                    case .explicit(let t, let b, let l, let r) where t == b && l == r: padding = [t, l]
                    default: throw unsupported("Conv2D padding \(conv.padding) with strides \(conv.strides) has no PyTorch equivalent")
                    }
                    modules.append(["type": "Conv2d", "in": shape[2], "out": conv.filters, "kernel": [conv.kernelSize.0, conv.kernelSize.1],
                                    "stride": [conv.strides.0, conv.strides.1], "padding": padding,
                                    "dilation": [conv.dilation.0, conv.dilation.1], "bias": conv.useBias])
                    bindings.append(Binding(parameter: conv.kernel, names: ["\(index).weight"], transform: .convolution))
                    if let bias = conv.bias { bindings.append(Binding(parameter: bias, names: ["\(index).bias"], transform: .identity)) }
                    try appendActivation(conv.activation)
                case let pool as Pooling2D:
                    guard case .valid = pool.padding else { throw unsupported("padded pooling has no exact PyTorch equivalent") }
                    modules.append(["type": pool is MaxPool2D ? "MaxPool2d" : "AvgPool2d", "kernel": [pool.poolSize.0, pool.poolSize.1],
                                    "stride": [pool.strides.0, pool.strides.1]])
                case is GlobalAveragePooling2D:
                    modules.append(["type": "GlobalAvgPool"])
                case is GlobalMaxPooling2D:
                    modules.append(["type": "GlobalMaxPool"])
                case let norm as BatchNormalization:
                    modules.append(["type": shape.count == 3 ? "BatchNorm2d" : "BatchNorm1d", "features": shape.last!,
                                    "eps": Double(norm.epsilon), "momentum": Double(1 - norm.momentum)])
                    if shape.count != 1 && shape.count != 3 { throw unsupported("BatchNormalization on inputs of shape \(shape)") }
                    bindings += [Binding(parameter: norm.gamma, names: ["\(index).weight"], transform: .identity),
                                 Binding(parameter: norm.beta, names: ["\(index).bias"], transform: .identity),
                                 Binding(parameter: norm.movingMean, names: ["\(index).running_mean"], transform: .identity),
                                 Binding(parameter: norm.movingVariance, names: ["\(index).running_var"], transform: .identity)]
                    counters.append("\(index).num_batches_tracked")
                case let norm as LayerNormalization:
                    guard norm.scale == norm.center else { throw unsupported("LayerNormalization with only one of scale and center") }
                    modules.append(["type": "LayerNorm", "features": shape.last!, "eps": Double(norm.epsilon), "affine": norm.scale])
                    if let gamma = norm.gamma { bindings.append(Binding(parameter: gamma, names: ["\(index).weight"], transform: .identity)) }
                    if let beta = norm.beta { bindings.append(Binding(parameter: beta, names: ["\(index).bias"], transform: .identity)) }
                case let dropout as Dropout:
                    modules.append(["type": "Dropout", "p": Double(dropout.rate)])
                case let layer as ActivationLayer:
                    try appendActivation(layer.activation)
                case let recurrent as RecurrentLayer:
                    guard recurrent is LSTM || recurrent is GRU, recurrent.maskValue == nil else {
                        throw unsupported("\(recurrent.typeName) (only unmasked LSTM and GRU have PyTorch equivalents)")
                    }
                    let gru = recurrent is GRU
                    modules.append(["type": gru ? "GRU" : "LSTM", "in": shape[1], "hidden": recurrent.units,
                                    "return_sequences": recurrent.returnSequences, "bias": recurrent.useBias])
                    let blocks = gru ? [1, 0, 2] : nil
                    bindings += [Binding(parameter: recurrent.kernel, names: ["\(index).weight_ih_l0"], transform: .matrix(flatten: nil, blocks: blocks)),
                                 Binding(parameter: recurrent.recurrentKernel, names: ["\(index).weight_hh_l0"],
                                         transform: .matrix(flatten: nil, blocks: blocks))]
                    if let bias = recurrent.bias {
                        bindings.append(Binding(parameter: bias, names: ["\(index).bias_ih_l0", "\(index).bias_hh_l0"],
                                                transform: gru ? .gruBias : .lstmBias))
                    }
                case let embedding as Embedding:
                    guard !embedding.maskZero else { throw unsupported("Embedding with maskZero") }
                    modules.append(["type": "Embedding", "num": embedding.inputDimension, "dim": embedding.outputDimension])
                    bindings.append(Binding(parameter: embedding.embeddings, names: ["\(index).weight"], transform: .identity))
                default:
                    throw unsupported("\(layer.typeName) has no PyTorch equivalent in the exporter")
                }
            }
        }

        mutating func appendActivation(_ activation: Activation?) throws {
            guard let activation, activation != .linear else { return }
            let known: [String: [String: Any]] = [
                "relu": ["type": "ReLU"], "sigmoid": ["type": "Sigmoid"], "tanh": ["type": "Tanh"], "softmax": ["type": "Softmax"],
                "gelu": ["type": "GELU"], "softplus": ["type": "Softplus"], "silu": ["type": "SiLU"],
            ]
            if let module = known[activation.name] {
                modules.append(module)
            } else if activation.name.hasPrefix("leaky_relu("), let slope = Double(activation.name.dropFirst("leaky_relu(".count).dropLast()) {
                modules.append(["type": "LeakyReLU", "slope": slope])
            } else {
                throw ModelError.invalidArgument("PyTorch export: activation \(activation.name) has no PyTorch equivalent")
            }
        }
    }
}

extension Sequential {
    /// Saves the weights in PyTorch's names and layouts (see `PyTorchFormat`), crash-safely.
    public func exportPyTorch(to url: URL, metadata: [String: String] = [:]) throws {
        let (tensors, modules) = try PyTorchFormat.export(self)
        var info = metadata
        info["format"] = "pytorch"
        info["pytorch_modules"] = modules
        info["flint_version"] = flintVersion
        try AtomicFile.write(try SafeTensorsFile.encode(tensors, metadata: info), to: url)
    }

    /// Loads a PyTorch state dict saved as safetensors (`safetensors.torch.save_file`).
    public func loadPyTorch(from url: URL) throws {
        try PyTorchFormat.load(try SafeTensorsFile(contentsOf: url), into: self)
    }
}
