import Foundation
import FlintBackend

/// A place tensors live and ops run: one device of a registered backend (the CPU, an OpenCL
/// device, or whatever a plug-in adds; see ``BackendRegistry``).
///
/// Selection is explicit: `Device.available` lists what is present, `Device.default` honours
/// `FLINT_DEVICE` (`cpu`, `opencl`, `opencl:N`) and otherwise prefers a GPU, and
/// `Device.with(_:_:)` overrides the device for a scope.
public struct Device: Hashable, Sendable, CustomStringConvertible {
    /// What the backend reports about the device: kind, index, name, platform, memory.
    public let info: DeviceInfo

    /// The device `info` describes; it opens (and builds its kernels) on first use.
    ///
    /// - Parameter info: One of the descriptions `Device.available` lists.
    public init(info: DeviceInfo) { self.info = info }

    /// Whether both name the same device (same kind and index).
    public static func == (lhs: Device, rhs: Device) -> Bool {
        lhs.info.kind == rhs.info.kind && lhs.info.index == rhs.info.index
    }

    /// Hashes the kind and index, what `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(info.kind)
        hasher.combine(info.index)
    }

    /// `cpu` or `opencl:N`: what `Device.named(_:)` and `FLINT_DEVICE` accept.
    public var identifier: String { info.identifier }
    /// The identifier.
    public var description: String { identifier }

    /// The host processor: the registered device of kind `cpu` (with `import Flint`, the
    /// OpenBLAS backend). Stops with a message when no provider serves that kind.
    public static var cpu: Device {
        guard let host = BackendRegistry.devices.first(where: { $0.kind == .cpu }) else {
            fatalError("Flint: no cpu device is registered; link the Flint module (import Flint) "
                + "or register a provider of kind cpu with BackendRegistry.register(_:)")
        }
        return Device(info: host)
    }

    /// Every device of every registered backend, the CPU first. A backend whose runtime is
    /// missing (no OpenCL loader) simply lists no devices.
    public static var available: [Device] {
        BackendRegistry.devices.map(Device.init(info:))
    }

    /// The device `specifier` names, opened so that kernel build failures surface here as errors.
    ///
    /// - Parameter specifier: an identifier (`cpu`, `opencl:1`), a kind for its first GPU or
    ///   else its first device (`opencl`), or `gpu` for the first GPU of any kind. Case and
    ///   surrounding spaces do not matter.
    /// - Returns: the device, ready to use.
    /// - Throws: `DeviceError.notFound`, listing the devices there are, when nothing matches;
    ///   the backend's own error when the device does not open.
    public static func named(_ specifier: String) throws -> Device {
        let spec = specifier.trimmingCharacters(in: .whitespaces).lowercased()
        let all = BackendRegistry.devices
        let ofKind = all.filter { $0.kind.rawValue == spec }
        let info = all.first { $0.identifier == spec }
            ?? ofKind.first { $0.deviceType == "GPU" } ?? ofKind.first
            ?? (spec == "gpu" ? all.first { $0.deviceType == "GPU" } ?? all.first { $0.kind != .cpu } : nil)
            ?? indexed(spec, in: all)
        guard let info else {
            throw DeviceError.notFound(requested: specifier, available: all)
        }
        let device = Device(info: info)
        try device.open()
        return device
    }

    /// `kind:N` for a kind whose devices have other identifiers (`cpu:0`).
    private static func indexed(_ spec: String, in all: [DeviceInfo]) -> DeviceInfo? {
        guard let colon = spec.lastIndex(of: ":"), let index = Int(spec[spec.index(after: colon)...]) else { return nil }
        let kind = DeviceInfo.Kind(rawValue: String(spec[..<colon]))
        return all.first { $0.kind == kind && $0.index == index }
    }

    /// `FLINT_DEVICE` if set, else the first GPU that opens, else the CPU. Resolved once.
    ///
    /// - Throws: the error of the device `FLINT_DEVICE` names, or `DeviceError.notFound` when
    ///   no backend is registered at all.
    public static var `default`: Device {
        get throws { try BackendRegistry.defaultDevice.get() }
    }

    /// The device ops use when none is given: the innermost `Device.with` scope, else `default`.
    /// Stops with the error's message if the default cannot be resolved; call `try Device.default`
    /// first to handle that case.
    public static var current: Device {
        if let scoped = Scope.device { return scoped }
        do {
            return try Device.default
        } catch {
            fatalError("Flint: no usable default device: \(error)")
        }
    }

    /// Runs `body` with `device` as `Device.current`.
    public static func with<R>(_ device: Device, _ body: () throws -> R) rethrows -> R {
        try Scope.$device.withValue(device, operation: body)
    }

    /// Runs `body` with `device` as `Device.current` (async form).
    public static func with<R>(_ device: Device, _ body: () async throws -> R) async rethrows -> R {
        try await Scope.$device.withValue(device, operation: body)
    }

    /// Creates the backend now (for OpenCL: builds every kernel program).
    public func open() throws {
        _ = try BackendRegistry.backend(for: info)
    }

    /// The device's own backend, also when some of its primitives fall back to the host
    /// (a kernel program that failed to build): what backend-specific features (kernel
    /// tuning) are looked for on.
    public var deviceBackend: any Backend {
        let opened = backend
        return (opened as? HostFallbackBackend)?.device ?? opened
    }

    /// The backend behind this device. Opens it on first use and stops with the error if that
    /// fails; `open()` (or `Device.named`) reports such failures as thrown errors instead.
    public var backend: any Backend {
        do {
            return try BackendRegistry.backend(for: info)
        } catch {
            fatalError("Flint: cannot open device \(identifier): \(error)")
        }
    }

    /// Throws `DeviceError.allocationTooLarge` when a tensor of `shape` would not fit in one
    /// buffer on this device. Creating such a tensor stops the process (tensor ops cannot throw),
    /// so code that sizes tensors from user input (a batch size) checks here first.
    public func checkAllocation(shape: [Int], dtype: DType = .float32) throws {
        let bytes = shape.reduce((1, false)) { product, dimension in
            let (value, overflow) = product.0.multipliedReportingOverflow(by: Swift.max(dimension, 0))
            return (value, product.1 || overflow)
        }
        let (count, overflow) = bytes.0.multipliedReportingOverflow(by: dtype.byteCount)
        let limit = backend.maxAllocationBytes
        if bytes.1 || overflow || count > limit {
            throw DeviceError.allocationTooLarge(device: "\(identifier) (\(info.name))", shape: shape,
                                                 requested: bytes.1 || overflow ? nil : count, limit: limit)
        }
    }

    /// Kernel build times, failed programs and driver details, for reports such as `flint doctor`.
    public var diagnostics: BackendDiagnostics { backend.diagnostics }

    private enum Scope {
        @TaskLocal static var device: Device?
    }
}

/// Why a device could not be had, or could not hold a tensor.
public enum DeviceError: Error, CustomStringConvertible, Equatable {
    /// No device goes by the name `requested`; `available` lists those that do.
    case notFound(requested: String, available: [DeviceInfo])
    /// A tensor of `shape` needs `requested` bytes (nil: more than `Int.max`) in one buffer, more
    /// than the device's largest single allocation, `limit`.
    case allocationTooLarge(device: String, shape: [Int], requested: Int?, limit: Int)

    /// A message a user can act on, listing the devices or naming both sizes.
    public var description: String {
        switch self {
        case .notFound(let requested, let available) where available.isEmpty:
            return "no device '\(requested)': no backend is registered; link the Flint module (import Flint) "
                + "or register one with BackendRegistry.register(_:)"
        case .notFound(let requested, let available):
            let list = available.map { "  \($0)" }.joined(separator: "\n")
            let kinds = Set(available.map(\.kind.rawValue)).sorted().joined(separator: ", ")
            return "no device '\(requested)'. Use an identifier below, or a kind (\(kinds)) for its first device; "
                + "available devices:\n\(list)"
        case .allocationTooLarge(let device, let shape, let requested, let limit):
            let bytes = requested.map { "\($0) bytes" } ?? "more bytes than a 64-bit size can count"
            return "a tensor of shape \(shape) needs \(bytes) in one buffer, but \(device) allows at most "
                + "\(limit) bytes per buffer; use a smaller batch or model"
        }
    }
}
