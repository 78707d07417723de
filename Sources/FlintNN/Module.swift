import FlintCore

/// A node of a model tree: it holds parameters and other modules as ordinary stored properties,
/// and Flint finds them itself by reflection, so none can be forgotten.
///
/// Properties of type `Parameter` or `Module` are found directly, and also inside optionals,
/// arrays, dictionaries (in key order) and tuples. Each gets a stable path built from property
/// names and positions, as PyTorch and MLX name them:
///
///     final class Encoder: Module {
///         let layers = [Dense(64, activation: .relu), Dense(16)]
///         let norm = LayerNormalization()
///     }
///     // layers.0.kernel, layers.0.bias, layers.1.kernel, layers.1.bias, norm.gamma, norm.beta
///
/// A module reached along two paths (a shared layer) is listed once, under its first path.
/// Parameters are either trainable or state (`Parameter.isTrainable`); `freeze()` stops the
/// optimizer from updating a sub-tree without removing it from saving or counting.
open class Module {
    /// A module with no parameters of its own yet.
    public init() {}

    /// A short type name for summaries ("Dense", "Sequential").
    open var typeName: String { String(describing: type(of: self)) }

    /// Every parameter of this module and its descendants, trainable and state, with its path,
    /// in declaration order; each parameter once.
    public var namedParameters: [(path: String, parameter: Parameter)] {
        var found: [(String, Parameter)] = []
        var seenParameters: Set<ObjectIdentifier> = []
        var seenModules: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        visitChildren(of: self, path: "") { path, item in
            switch item {
            case .parameter(let parameter):
                if seenParameters.insert(ObjectIdentifier(parameter)).inserted { found.append((path, parameter)) }
                return false
            case .module(let module):
                return seenModules.insert(ObjectIdentifier(module)).inserted
            case .generator, .optimizer:
                return false
            }
        }
        return found.map { (path: $0.0, parameter: $0.1) }
    }

    /// Every random generator held in this sub-tree (Dropout's, augmentation's, a GAN's noise),
    /// with its path, each once: their positions are part of a checkpoint.
    public var namedGenerators: [(path: String, generator: RandomGenerator)] {
        collect { if case .generator(let generator) = $0 { generator } else { nil } }.map { (path: $0.0, generator: $0.1) }
    }

    /// Every optimizer held in this sub-tree (a model's compiled one, a GAN's two), with its
    /// path, each once: their state is part of a checkpoint.
    public var namedOptimizers: [(path: String, optimizer: Optimizer)] {
        collect { if case .optimizer(let optimizer) = $0 { optimizer } else { nil } }.map { (path: $0.0, optimizer: $0.1) }
    }

    private func collect<T: AnyObject>(_ pick: (Reached) -> T?) -> [(String, T)] {
        var found: [(String, T)] = []
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        visitChildren(of: self, path: "") { path, item in
            if case .module(let module) = item { return seen.insert(ObjectIdentifier(module)).inserted }
            if let object = pick(item), seen.insert(ObjectIdentifier(object)).inserted { found.append((path, object)) }
            return false
        }
        return found
    }

    /// The direct sub-modules with their property paths (`encoder`, `layers.0`), each once.
    public var namedChildren: [(path: String, module: Module)] {
        var found: [(String, Module)] = []
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        visitChildren(of: self, path: "") { path, item in
            if case .module(let module) = item, seen.insert(ObjectIdentifier(module)).inserted { found.append((path, module)) }
            return false
        }
        return found.map { (path: $0.0, module: $0.1) }
    }

    /// Every parameter, trainable and state, each once.
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }

    /// The parameters an optimizer updates: trainable and not frozen.
    public var trainableParameters: [Parameter] { parameters.filter { $0.isTrainable && !$0.isFrozen } }

    /// Values kept besides the weights (BatchNorm's moving statistics): saved, never trained.
    public var stateParameters: [Parameter] { parameters.filter { !$0.isTrainable } }

    /// The number of values in every parameter, state included (Keras' "Total params").
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// The number of values the optimizer updates.
    public var trainableParameterCount: Int { trainableParameters.reduce(0) { $0 + $1.count } }

    /// Stops updates of every parameter in this sub-tree (fine-tuning, GAN discriminators).
    public func freeze() { for parameter in parameters { parameter.isFrozen = true } }

    /// Lets the optimizer update this sub-tree's trainable parameters again.
    public func unfreeze() { for parameter in parameters { parameter.isFrozen = false } }

    /// Forgets the gradients accumulated on this sub-tree's parameters.
    public func zeroGrad() { for parameter in parameters { parameter.value.zeroGrad() } }

    /// The sum of the weight penalties of the trainable parameters, or nil when none has one.
    public func regularizationLoss() -> Tensor? {
        let penalties = trainableParameters.compactMap { p in p.regularizer.map { $0.penalty(p.value) } }
        guard var total = penalties.first else { return nil }
        for penalty in penalties.dropFirst() { total = total + penalty }
        return total
    }
}

// MARK: - Reflection

private enum Reached {
    case parameter(Parameter)
    case module(Module)
    case generator(RandomGenerator)
    case optimizer(Optimizer)
}

/// Calls `visit` for every parameter and module stored in `module`'s properties (its class and
/// superclasses), depth first. `visit` returns whether to descend into a module it was given.
private func visitChildren(of module: Module, path: String, _ visit: (String, Reached) -> Bool) {
    var mirror: Mirror? = Mirror(reflecting: module)
    var levels: [Mirror] = []
    while let current = mirror {
        levels.append(current)
        mirror = current.superclassMirror
    }
    // Base-class properties first, so a subclass's additions come after what it inherits.
    for level in levels.reversed() {
        for child in level.children {
            guard let label = child.label else { continue }
            visitValue(child.value, path: join(path, propertyName(label)), visit)
        }
    }
}

private func visitValue(_ value: Any, path: String, _ visit: (String, Reached) -> Bool) {
    if let parameter = value as? Parameter {
        _ = visit(path, .parameter(parameter))
        return
    }
    if let module = value as? Module {
        if visit(path, .module(module)) { visitChildren(of: module, path: path, visit) }
        return
    }
    if let generator = value as? RandomGenerator {
        _ = visit(path, .generator(generator))
        return
    }
    if let optimizer = value as? Optimizer {
        _ = visit(path, .optimizer(optimizer))
        return
    }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .optional:
        if let wrapped = mirror.children.first { visitValue(wrapped.value, path: path, visit) }
    case .collection:
        // Skip collections of plain values (pixels, shapes) without walking them.
        guard let first = mirror.children.first, mayHoldModules(first.value) else { return }
        for (index, element) in mirror.children.enumerated() { visitValue(element.value, path: join(path, "\(index)"), visit) }
    case .dictionary:
        let pairs = mirror.children.compactMap { entry -> (String, Any)? in
            let pair = Array(Mirror(reflecting: entry.value).children)
            guard pair.count == 2 else { return nil }
            return ("\(pair[0].value)", pair[1].value)
        }
        guard let first = pairs.first, mayHoldModules(first.1) else { return }
        for (key, element) in pairs.sorted(by: { $0.0 < $1.0 }) { visitValue(element, path: join(path, key), visit) }
    case .tuple:
        for (index, element) in mirror.children.enumerated() {
            let label = element.label.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 } ?? "\(index)"
            visitValue(element.value, path: join(path, label), visit)
        }
    default:
        return
    }
}

/// Whether a collection element can hold parameters or modules.
private func mayHoldModules(_ value: Any) -> Bool {
    if value is Parameter || value is Module || value is RandomGenerator || value is Optimizer { return true }
    switch Mirror(reflecting: value).displayStyle {
    case .optional, .collection, .dictionary, .tuple: return true
    default: return false
    }
}

/// A stored property's name as written in the source (property wrappers and lazy properties
/// are stored under decorated names).
private func propertyName(_ label: String) -> String {
    if label.hasPrefix("$__lazy_storage_$_") { return String(label.dropFirst("$__lazy_storage_$_".count)) }
    if label.hasPrefix("_") { return String(label.dropFirst()) }
    return label
}

private func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : path + "." + name }
